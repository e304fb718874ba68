//! The main job end to end: run the reference scenario, check the report contract and
//! reproducibility, re-render from the journal.

use crate::{bin, read_json};

const MIN: u64 = 60_000;

#[test]
fn reference_drill_report_holds_the_contract_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str| {
        bin()
            .args([
                "run",
                "scenarios/cassandra-node-replace.yaml",
                "--runs",
                "300",
                "--seed",
                "42",
                "--quiet",
                "--out",
            ])
            .arg(dir.path().join(out))
            .assert()
            .code(0);
    };
    run("a");
    run("b");
    let a = dir.path().join("a");
    for f in ["journal.jsonl", "report.json", "report.md"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let json_a = std::fs::read_to_string(a.join("report.json")).unwrap();
    let json_b = std::fs::read_to_string(dir.path().join("b/report.json")).unwrap();
    assert_eq!(json_a, json_b, "same seed, same report");

    let r = read_json(&a.join("report.json"));
    assert_eq!(r["schema_version"], 2);
    assert_eq!(r["target"], "sim");
    assert_eq!(r["simulated"], true);
    assert_eq!(r["seed"], 42);
    let s = &r["scenarios"][0];
    assert_eq!(s["name"], "cassandra-node-replace");
    assert_eq!(s["verdict"], "pass");
    let m = &s["metrics"];
    for key in ["count", "min", "p50", "p90", "p99", "max", "mean"] {
        assert!(m["time_to_asg_replacement"][key].is_u64(), "{key}");
        assert!(m["time_to_cassandra_running"][key].is_u64(), "{key}");
    }
    assert_eq!(m["time_to_asg_replacement"]["count"], 300);
    assert_eq!(m["time_to_cassandra_running"]["count"], 300);
    let asg_p50 = m["time_to_asg_replacement"]["p50"].as_u64().unwrap();
    let cass_p50 = m["time_to_cassandra_running"]["p50"].as_u64().unwrap();
    assert!(
        (MIN..=5 * MIN).contains(&asg_p50),
        "ASG replacement median {asg_p50} ms"
    );
    assert!(
        (10 * MIN..=25 * MIN).contains(&cass_p50),
        "Cassandra RUNNING median {cass_p50} ms"
    );

    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 300);
    let phases = runs[0]["phases"].as_array().unwrap();
    let names: Vec<&str> = phases
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    for want in [
        "steady_state_verified",
        "fault_injected",
        "instance_terminated",
        "replacement_launched",
        "replacement_in_service",
        "agent_lost",
        "agent_registered",
        "task_lost",
        "pod_replace_issued",
        "task_running",
        "recovery_complete",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for p in phases {
        assert!(p["at"].as_str().unwrap().ends_with('Z'));
        assert!(p["since_fault_ms"].is_i64());
        assert!(p["error_ms"].is_u64());
        assert!(p["source"].is_string());
    }
    // The replacement is genuine: new instance, new agent, new task.
    let victim = &runs[0]["victims"][0];
    let repl = &runs[0]["replacements"][0];
    assert_ne!(victim["instance"], repl["instance"]);
    assert_ne!(victim["agent"], repl["agent"]);
    assert_ne!(victim["task"], repl["task"]);
    assert!(repl["task"].is_string() && repl["agent"].is_string());

    // The journal alone reproduces the report.
    let out = bin()
        .args(["report", "--format", "json"])
        .arg(&a)
        .assert()
        .code(0);
    assert_eq!(
        String::from_utf8(out.get_output().stdout.clone()).unwrap(),
        json_a
    );
}

#[test]
fn the_whole_scenarios_folder_passes() {
    let dir = tempfile::tempdir().unwrap();
    // Seed 3 puts the spare-agent cluster's scheduler on node-4's agent: the immediate
    // replace then waits about 13 minutes for Marathon to relaunch it, inside the scenario's
    // 15 minutes (`scheduler_outage.rs` tests that case); the README's command passes with
    // any seed we tried (1-20).
    let out = bin()
        .args(["run", "scenarios/", "--seed", "3", "--out"])
        .arg(dir.path().join("all"))
        .assert()
        .code(0);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for name in [
        "asg-terminate-only",
        "cassandra-agent-reboot",
        "cassandra-node-replace",
        "cassandra-replace-immediately",
    ] {
        assert!(
            stdout.contains(&format!("{name}: pass")),
            "{name} in\n{stdout}"
        );
    }
    // `runs: {max: 1000, until: decided}` stops once its SLOs are decided.
    assert!(
        stdout.contains("cassandra-replace-immediately: pass (until decided: decided after "),
        "{stdout}"
    );
    // `run` folds the report from the events as they happen; the journal alone renders the
    // very same files.
    let all = dir.path().join("all");
    let files = |d: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for sub in [d.to_path_buf(), d.join("histograms")] {
            let mut names: Vec<_> = std::fs::read_dir(&sub)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file() && !p.ends_with("journal.jsonl"))
                .collect();
            names.sort();
            out.extend(
                names
                    .into_iter()
                    .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())),
            );
        }
        out
    };
    let live = files(&all);
    assert!(
        live.len() >= 8,
        "{:?}",
        live.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    bin().args(["report", "--write"]).arg(&all).assert().code(0);
    let reread = files(&all);
    assert_eq!(live.len(), reread.len());
    for ((name, a), (_, b)) in live.iter().zip(&reread) {
        assert!(a == b, "{name} differs once re-rendered from the journal");
    }
}

/// Issue 12: "a real suite of 20 runs says plainly which SLOs it cannot decide". Twenty runs
/// of the reference drill; a report is rendered from the journal alone, so the journal is made
/// the one a real suite writes (`suite_started` says `target: aws`, `simulated: false`) and
/// the report rendered from it again: the p50s are decided, and each p99 says it cannot be,
/// with the interval and the runs it needs, in the text summary and in `report.md`.
#[test]
fn a_real_suite_of_20_runs_says_plainly_which_slos_it_cannot_decide() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    bin()
        .args([
            "run",
            "scenarios/cassandra-node-replace.yaml",
            "--runs",
            "20",
        ])
        .args(["--seed", "42", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .code(3);
    let journal = out.join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let real = first.replace(
        "\"target\":\"sim\",\"simulated\":true",
        "\"target\":\"aws\",\"simulated\":false",
    );
    assert_ne!(real, first, "{first}");
    std::fs::write(&journal, format!("{real}\n{rest}")).unwrap();
    bin()
        .arg("report")
        .arg(&out)
        .arg("--write")
        .assert()
        .code(3);
    let shown = bin().arg("report").arg(&out).assert().code(3);
    let summary = String::from_utf8(shown.get_output().stdout.clone()).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(summary.contains("(target aws, seed 42)"), "{summary}");
    for (metric, p99) in [
        ("time_to_asg_replacement", "8m"),
        ("time_to_cassandra_running", "25m"),
    ] {
        assert!(summary.contains(&format!("{metric} p50 ≤ ")), "{summary}");
        let p50 = summary
            .lines()
            .find(|l| l.contains(&format!("{metric} p50 ≤ ")))
            .unwrap();
        assert!(p50.contains(": pass, true p50 within ["), "{p50}");
        let undecided = format!("{metric} p99 ≤ {p99}: inconclusive, true p99 within [");
        let line = summary
            .lines()
            .find(|l| l.contains(&undecided))
            .unwrap_or_else(|| panic!("{undecided} in\n{summary}"));
        assert!(
            line.ends_with(&format!(
                ", ∞) at 95 %; needs at least 299 runs with none above {p99} (20 so far)"
            )),
            "{line}"
        );
        assert!(
            md.contains(&format!(
                "⚠️ inconclusive: p99 ≤ {p99} needs at least 299 runs with none above {p99} (20 so far)"
            )),
            "{md}"
        );
    }
}

#[test]
fn an_asg_only_scenario_measures_only_aws_phases() {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args([
            "run",
            "scenarios/asg-terminate-only.yaml",
            "--runs",
            "5",
            "--seed",
            "9",
            "--quiet",
            "--out",
        ])
        .arg(dir.path().join("o"))
        .assert()
        .code(3); // five runs cannot decide a p99 (it needs 299)
    let r = read_json(&dir.path().join("o/report.json"));
    let m = r["scenarios"][0]["metrics"].as_object().unwrap();
    let keys: Vec<&String> = m.keys().collect();
    assert_eq!(
        keys,
        ["time_to_asg_replacement", "time_to_replacement_launched"]
    );
}

#[test]
fn a_reboot_is_not_replaced_and_heals_in_place() {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args([
            "run",
            "scenarios/cassandra-agent-reboot.yaml",
            "--runs",
            "5",
            "--seed",
            "9",
            "--quiet",
            "--out",
        ])
        .arg(dir.path().join("o"))
        .assert()
        .code(3); // five runs cannot decide a p99 (it needs 299)
    let r = read_json(&dir.path().join("o/report.json"));
    for run in r["scenarios"][0]["runs"].as_array().unwrap() {
        let phases: Vec<&str> = run["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap())
            .collect();
        assert!(!phases.contains(&"replacement_launched"), "{phases:?}");
        assert!(phases.contains(&"task_running"), "{phases:?}");
        assert!(run["replacements"][0]["instance"].is_null());
        assert_ne!(run["victims"][0]["task"], run["replacements"][0]["task"]);
    }
}

#[test]
fn plan_prints_the_victim_chain_and_injects_nothing() {
    let out = bin()
        .args(["plan", "scenarios/cassandra-node-replace.yaml"])
        .assert()
        .code(0);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("pod node-4"), "{stdout}");
    assert!(stdout.contains("instance i-"), "{stdout}");
    assert!(stdout.contains("asg dcos-private-agents"), "{stdout}");
    assert!(stdout.contains("nothing was injected"), "{stdout}");
}

#[test]
fn aws_target_is_refused_without_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args([
            "run",
            "scenarios/cassandra-node-replace.yaml",
            "--target",
            "aws",
            "--out",
        ])
        .arg(dir.path().join("o"))
        .assert()
        .code(2);
    assert!(!dir.path().join("o").exists());
}

#[test]
fn completions_and_man_pages_come_from_the_clap_definitions() {
    let out = bin().args(["completions", "bash"]).assert().code(0);
    let script = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for sub in [
        "run",
        "validate",
        "plan",
        "report",
        "verify-truth",
        "--resume",
    ] {
        assert!(
            script.contains(sub),
            "`{sub}` missing from the bash completions"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .code(0);
    let run = std::fs::read_to_string(dir.path().join("chaos-harness-run.1")).unwrap();
    assert!(
        run.starts_with(".ie") && run.contains(".TH chaos-harness-run 1"),
        "{run}"
    );
    assert!(run.contains("resume"), "{run}");
    assert!(dir.path().join("chaos-harness.1").is_file());
}
