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
        .code(3); // twelve runs decide the p50s, not the p99s (they need 299)
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
        .code(3);
    insta::assert_snapshot!(
        "summary_text",
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    );
}

/// The same summary on 80- and 100-column terminals: detail goes before anything wraps, every
/// line fits, and a wide terminal gets the full table.
#[test]
fn terminal_summary_fits_narrow_terminals() {
    use chaos_harness::report::{build, text};

    let dir = fixed_run();
    let journal = chaos_harness::journal::read(&dir.path().join("r")).unwrap();
    let report = build(&journal.events, journal.torn_tail);
    assert_eq!(
        text::render_width(&report, Some(200)),
        text::render(&report)
    );
    for width in [80_u16, 100] {
        let summary = text::render_width(&report, Some(width));
        for line in summary.lines() {
            assert!(
                line.chars().count() <= usize::from(width),
                "wider than {width} columns: {line:?}\n{summary}"
            );
        }
        insta::assert_snapshot!(format!("summary_text_{width}"), summary);
    }
}
