//! Rendered artefacts for a fixed seed, snapshotted.

use crate::bin;

fn fixed_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args([
            "run",
            "scenarios/cassandra-node-replace.yaml",
            "scenarios/cassandra-agent-reboot.yaml",
            "--runs",
            "12",
            "--seed",
            "1",
            "--quiet",
            "--out",
        ])
        .arg(dir.path().join("r"))
        .assert()
        .code(0);
    dir
}

#[test]
fn markdown_report() {
    let dir = fixed_run();
    let md = std::fs::read_to_string(dir.path().join("r/report.md")).unwrap();
    insta::assert_snapshot!("report_md", md);
}

#[test]
fn terminal_summary() {
    let dir = fixed_run();
    let out = bin()
        .args(["report", "--format", "text"])
        .arg(dir.path().join("r"))
        .assert()
        .code(0);
    insta::assert_snapshot!(
        "summary_text",
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    );
}
