//! `chaos-harness verify-truth REPORT_DIR TRUTH_LOG` end to end: a journal and the truth of
//! the simulated cluster it ran against, written as `run` and `sim serve --truth-log` do.

use std::io::Write;
use std::path::{Path, PathBuf};

use chaos_harness::cluster::sim::TruthEvent;
use chaos_harness::journal::{Event, JOURNAL_FILE};
use chaos_harness::measure::Source;
use chaos_harness::time::Dur;
use chaos_harness::verify;

use crate::bin;
use crate::economy::{Drill, reference};

const RUNS: u32 = 4;

/// One JSON value per line.
fn write_lines<T: serde::Serialize>(path: &Path, items: &[T]) {
    let mut f = std::fs::File::create(path).unwrap();
    for i in items {
        serde_json::to_writer(&mut f, i).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

/// A report folder holding `events` as its journal.
fn report_dir(root: &Path, name: &str, events: &[Event]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    write_lines(&dir.join(JOURNAL_FILE), events);
    dir
}

fn truth_log(root: &Path, name: &str, truth: &[TruthEvent]) -> PathBuf {
    let p = root.join(name);
    write_lines(&p, truth);
    p
}

fn verify_truth(dir: &Path, truth: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = bin()
        .arg("verify-truth")
        .arg(dir)
        .arg(truth)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn verify_truth_passes_a_real_pair_and_catches_a_bound_that_misses() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Drill::run(&reference(), RUNS, 13);
    let dir = report_dir(tmp.path(), "real", &d.events);
    let truth = truth_log(tmp.path(), "truth.jsonl", &d.truth);

    let (code, stdout, stderr) = verify_truth(&dir, &truth, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("OUTSIDE"), "{stdout}");
    for row in [
        "phase",
        "task_lost",
        "poll bracket",
        "server timestamp",
        "all",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "no {row} row in\n{stdout}"
        );
    }
    let all = stdout.lines().find(|l| l.starts_with("all ")).unwrap();
    assert!(all.ends_with("100.0%"), "{all}");
    assert!(
        all.split_whitespace().nth(1) == Some(&(9 * RUNS).to_string()),
        "every reported phase with a truth counterpart is checked: {all}"
    );

    // --json: every check, and the harness's own phases (steady state, fault, pod replace)
    // left unmatched.
    let (code, stdout, _) = verify_truth(&dir, &truth, &["--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["checks"].as_array().unwrap().len(), 9 * RUNS as usize);
    assert_eq!(v["unmatched"], 3 * RUNS);

    // The bound of one poll-bracketed phase shrunk to nothing: its truth lies outside.
    let acc = verify::check(&d.events, &d.truth);
    let victim = acc
        .checks
        .iter()
        .find(|c| c.source == Source::PollScheduler && c.error_ms > 0)
        .expect("a poll-bracketed phase off its truth");
    let mut events = d.events.clone();
    let mut corrupted = 0;
    for e in &mut events {
        if let Event::PhaseObserved {
            run,
            phase,
            error_ms,
            ..
        } = e
            && *run == victim.run
            && *phase == victim.phase
        {
            *error_ms = 0;
            corrupted += 1;
        }
    }
    assert_eq!(corrupted, 1);
    let bad = report_dir(tmp.path(), "corrupt", &events);
    let (code, stdout, stderr) = verify_truth(&bad, &truth, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let outside: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("OUTSIDE:"))
        .collect();
    assert_eq!(outside.len(), 1, "{stdout}");
    let want = format!(
        "OUTSIDE: cassandra-node-replace run {} {}: measured {} ± 0 ms, truth {} ({} ms off)",
        victim.run, victim.phase, victim.measured, victim.truth, victim.error_ms
    );
    assert_eq!(outside[0], want);
}

#[test]
fn verify_truth_refuses_a_missing_or_unrelated_truth_log() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Drill::run(&reference(), 2, 17);
    let dir = report_dir(tmp.path(), "real", &d.events);

    // No such file.
    let missing = tmp.path().join("nowhere.jsonl");
    let (code, stdout, stderr) = verify_truth(&dir, &missing, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("cannot read the truth log") && stderr.contains("nowhere.jsonl"),
        "{stderr}"
    );

    // Not a truth log at all: the journal passed in its place.
    let (code, _, stderr) = verify_truth(&dir, &dir.join(JOURNAL_FILE), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(":1: not a truth event") && stderr.contains("sim serve --truth-log"),
        "{stderr}"
    );

    // A real truth log, but of another session: everything in it happened a day before the
    // suite's faults, so no phase matches.
    let earlier: Vec<TruthEvent> = d
        .truth
        .iter()
        .cloned()
        .map(|mut t| {
            t.at = chaos_harness::time::Timestamp::from_millis(
                t.at.as_millis() - Dur::from_mins(24 * 60).as_millis() as i64,
            );
            t
        })
        .collect();
    let other = truth_log(tmp.path(), "other.jsonl", &earlier);
    let (code, stdout, stderr) = verify_truth(&dir, &other, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("no reported phase of") && stderr.contains("matches an event of"),
        "{stderr}"
    );

    // An empty one is no better.
    let empty = truth_log(tmp.path(), "empty.jsonl", &[] as &[TruthEvent]);
    let (code, _, stderr) = verify_truth(&dir, &empty, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no reported phase of"), "{stderr}");
}
