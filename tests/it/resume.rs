//! Nothing lost: a suite killed with SIGKILL at many points and resumed each time ends with the
//! same report as an uninterrupted one; Ctrl-C ends a run quickly with a partial report.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{bin, read_json};

const SUITE: [&str; 2] = [
    "scenarios/cassandra-node-replace.yaml",
    "scenarios/cassandra-agent-reboot.yaml",
];
const RUNS: &str = "150";

fn journal_lines(dir: &Path) -> usize {
    std::fs::File::open(dir.join("journal.jsonl"))
        .map(|f| std::io::BufReader::new(f).lines().count())
        .unwrap_or(0)
}

/// Starts the suite `args` describes (or its resumption) and SIGKILLs it once the journal holds
/// `kill_at` lines. Returns whether the kill happened before the process finished on its own.
fn run_and_kill(dir: &Path, args: &[String], resume: bool, kill_at: usize) -> bool {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaos-harness"));
    cmd.current_dir(crate::root())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if resume {
        cmd.args(["run", "--quiet", "--resume"]).arg(dir);
    } else {
        cmd.args(["run", "--quiet", "--out"]).arg(dir).args(args);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if journal_lines(dir) >= kill_at {
            child.kill().unwrap(); // SIGKILL: no cleanup, possibly a torn line
            child.wait().unwrap();
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "the suite neither finished nor reached {kill_at} lines"
        );
        std::thread::yield_now();
    }
}

/// Runs the suite `args` describes whole (it exits `code`), then again, SIGKILLed at points
/// spread over it and resumed each time, and checks that both end with the same report.
/// Returns that report.
fn killed_and_resumed_matches_whole(args: &[String], code: i32) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    bin()
        .args(["run", "--quiet", "--out"])
        .arg(&whole)
        .args(args)
        .assert()
        .code(code);
    let total = journal_lines(&whole);

    let cut = tmp.path().join("cut");
    // Kill points spread over the whole suite, including inside the second scenario.
    let points = [
        3,
        total / 10,
        total / 4,
        total / 2,
        total * 2 / 3,
        total * 9 / 10,
    ];
    let mut kills = 0;
    for (i, &at) in points.iter().enumerate() {
        if run_and_kill(&cut, args, i > 0, at.max(journal_lines(&cut) + 1)) {
            kills += 1;
        }
    }
    assert!(
        kills >= 3,
        "only {kills} kills landed before the suite finished"
    );
    bin()
        .args(["run", "--quiet", "--resume"])
        .arg(&cut)
        .assert()
        .code(code);

    let a = std::fs::read_to_string(whole.join("report.json")).unwrap();
    let b = std::fs::read_to_string(cut.join("report.json")).unwrap();
    if a != b {
        let line = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "resumed report differs from the uninterrupted one from line {}:\n  whole: {}\n  cut:   {}",
            line + 1,
            a.lines().nth(line).unwrap_or(""),
            b.lines().nth(line).unwrap_or("")
        );
    }
    // Resuming a finished suite runs nothing more.
    let before = journal_lines(&cut);
    bin()
        .args(["run", "--quiet", "--resume"])
        .arg(&cut)
        .assert()
        .code(code);
    assert_eq!(journal_lines(&cut), before);
    read_json(&cut.join("report.json"))
}

#[test]
fn sigkill_at_many_points_then_resume_gives_the_uninterrupted_report() {
    let mut args: Vec<String> = ["--seed", "5", "--runs", RUNS].map(String::from).to_vec();
    args.extend(SUITE.map(String::from));
    // 150 runs cannot decide a p99 (it needs 299).
    let r = killed_and_resumed_matches_whole(&args, 3);
    for s in r["scenarios"].as_array().unwrap() {
        assert_eq!(s["runs"].as_array().unwrap().len(), 150);
    }
}

/// An `until: decided` scenario (the reference drill judged on its p90 alone: decided after a
/// few dozen runs) before a fixed one: resumed at any point, it stops where the uninterrupted
/// suite stopped, with the same verdicts.
#[test]
fn an_until_decided_suite_resumed_after_sigkill_stops_where_the_whole_one_did() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = std::fs::read_to_string(crate::root().join(SUITE[0])).unwrap();
    let slos_at = reference.find("slos:").unwrap();
    let decided = format!(
        "{}slos:\n  time_to_cassandra_running: {{p90: 20m}}\nruns: {{max: 100, until: decided}}\n",
        &reference[..slos_at]
    );
    let reboot = std::fs::read_to_string(crate::root().join(SUITE[1]))
        .unwrap()
        .replace("runs: 300", "runs: 30");
    let dir = tmp.path().join("suite");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a-decided.yaml"), decided).unwrap();
    std::fs::write(dir.join("b-reboot.yaml"), reboot).unwrap();
    let args = ["--seed".to_string(), "5".into(), dir.display().to_string()];
    // The reboot drill's p99 cannot be decided in 30 runs.
    let r = killed_and_resumed_matches_whole(&args, 3);
    let s = &r["scenarios"][0];
    assert_eq!(s["mode"], "sequential");
    assert_eq!(s["stopped"], "decided");
    assert_eq!(s["verdict"], "pass");
    let n = s["runs_finished"].as_u64().unwrap();
    assert!((40..100).contains(&n), "{n} runs");
    assert_eq!(r["scenarios"][1]["runs_finished"], 30);
}

#[test]
fn sigint_stops_with_a_partial_report_and_exit_4() {
    // A real-time run (against `sim serve` it would take minutes): interrupt it mid-suite.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("chaos-harness"))
        .current_dir(crate::root())
        .args(["run", "--quiet", "--seed", "5", "--runs", "100000", "--out"])
        .arg(&out)
        .arg("scenarios/cassandra-node-replace.yaml")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while journal_lines(&out) < 200 {
        assert!(child.try_wait().unwrap().is_none(), "finished too early");
        std::thread::yield_now();
    }
    let sent = Instant::now();
    // SAFETY-free: `kill -INT` through the shell utility.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let took = sent.elapsed();
    assert_eq!(exit.code(), Some(4));
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["aborted"], "interrupted");
    assert!(r["scenarios"][0]["runs_finished"].as_u64().unwrap() > 0);
    // And it can be finished later.
    assert!(
        std::fs::read_to_string(out.join("journal.jsonl"))
            .unwrap()
            .contains("\"aborted\"")
    );
}
