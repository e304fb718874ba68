//! Live progress: without a terminal one line per phase on stderr; `-v` adds the victims;
//! `--quiet` says nothing but the verdict.

use crate::bin;

fn stderr_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "run",
            "scenarios/cassandra-agent-reboot.yaml",
            "--runs",
            "5",
            "--seed",
            "1",
        ])
        .args(args)
        .arg("--out")
        .arg(dir.path().join("r"))
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_STEP_SUMMARY")
        .assert()
        .code(3); // five runs cannot decide a p99 (it needs 299)
    String::from_utf8(out.get_output().stderr.clone()).unwrap()
}

#[test]
fn one_line_per_phase_without_a_terminal() {
    let err = stderr_of(&[]);
    assert!(
        err.contains(
            "INFO cassandra-agent-reboot run 1/5: task_running +3m 59.7s (±1ms, mesos-task-status)"
        ),
        "{err}"
    );
    assert!(
        err.contains("cassandra-agent-reboot run 5/5: pass"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "no colors in a log: {err}");
    assert!(!err.contains("victim"), "{err}");
}

#[test]
fn verbose_adds_detail_and_quiet_removes_it() {
    let err = stderr_of(&["-v"]);
    assert!(
        err.contains("DEBUG cassandra-agent-reboot run 1/5: victim i-"),
        "{err}"
    );
    assert_eq!(stderr_of(&["--quiet"]), "");
}
