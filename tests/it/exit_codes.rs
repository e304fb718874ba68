//! One test per exit code of DESIGN §5.

use crate::{bin, read_json, root, scenario};

const BASE: &str = "\
service: {name: cassandra}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
heal: replace-on-task-lost
runs: 6
";

fn run(dir: &std::path::Path, file: &std::path::Path) -> assert_cmd::assert::Assert {
    bin()
        .args(["run", "--seed", "7", "--quiet", "--out"])
        .arg(dir.join("out"))
        .arg(file)
        .assert()
}

#[test]
fn exit_0_when_every_slo_and_expectation_holds() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "pass",
        &format!("name: pass\n{BASE}slos:\n  time_to_cassandra_running: {{p50: 40m}}\n"),
    );
    run(dir.path(), &f).code(0);
}

#[test]
fn exit_1_when_an_slo_fails() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "fail",
        &format!("name: fail\n{BASE}slos:\n  time_to_cassandra_running: {{p50: 2m}}\n"),
    );
    run(dir.path(), &f).code(1);
    let r = read_json(&dir.path().join("out/report.json"));
    assert_eq!(r["scenarios"][0]["slos"][0]["verdict"], "fail");
}

#[test]
fn exit_1_when_an_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "late",
        &format!("name: late\n{BASE}expect:\n  - {{phase: task_running, within: 3m}}\n"),
    );
    run(dir.path(), &f).code(1);
    let r = read_json(&dir.path().join("out/report.json"));
    let failures = r["scenarios"][0]["runs"][0]["failures"][0]
        .as_str()
        .unwrap();
    assert!(failures.contains("task_running"), "{failures}");
}

#[test]
fn exit_2_on_invalid_input_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = root().join("tests/fixtures/invalid/unknown-key.yaml");
    run(dir.path(), &f).code(2);
    assert!(!dir.path().join("out").exists());
    bin()
        .args(["run", "--runs", "0", "scenarios/"])
        .assert()
        .code(2);
}

#[test]
fn exit_3_when_too_few_runs_to_judge() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "few",
        &format!(
            "name: few\n{BASE}slos:\n  time_to_cassandra_running: {{p50: 40m, min_runs: 6}}\n"
        ),
    );
    bin()
        .args(["run", "--seed", "7", "--quiet", "--runs", "2", "--out"])
        .arg(dir.path().join("out"))
        .arg(&f)
        .assert()
        .code(3);
    let r = read_json(&dir.path().join("out/report.json"));
    assert_eq!(r["scenarios"][0]["slos"][0]["verdict"], "inconclusive");
}

#[test]
fn exit_4_when_the_cluster_never_returns_to_steady_state() {
    // Without a heal, node-4 stays lost: the second run's preflight refuses to inject.
    let dir = tempfile::tempdir().unwrap();
    let body = BASE
        .replace("heal: replace-on-task-lost", "heal: none")
        .replace("runs: 6", "runs: 2");
    let f = scenario(
        dir.path(),
        "noheal",
        &format!("name: noheal\n{body}steady_state_timeout: 10m\n"),
    );
    let out = run(dir.path(), &f).code(4);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("steady state"), "{stdout}");
    let r = read_json(&dir.path().join("out/report.json"));
    assert!(
        r["aborted"].as_str().unwrap().contains("node-4-server"),
        "{r}"
    );
    // The finished first run is kept in the report.
    assert_eq!(r["scenarios"][0]["runs_finished"], 1);
}
