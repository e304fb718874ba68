//! The bad-input catalogue: every malformed scenario (`tests/fixtures/invalid/`) and profile
//! (`tests/fixtures/invalid-profiles/`) is refused with exit 2, a `file:line:column:` diagnostic
//! of that very file, one one-line hint per problem, and nothing written. The diagnostics of
//! the whole catalogue are one snapshot, so a change of wording or location shows in review.

use std::path::Path;

use crate::{bin, root};

const SCENARIOS: &str = "tests/fixtures/invalid";
const PROFILES: &str = "tests/fixtures/invalid-profiles";
/// A valid scenario to run each bad profile with.
const VALID: &str = "scenarios/cassandra-node-replace.yaml";

/// The fixtures of a folder, as paths relative to the repository root, sorted.
fn fixtures(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    files.sort();
    files
}

/// Runs the harness (from the repository root) and returns its stderr; it must exit 2 and
/// print nothing on stdout.
fn refused(args: &[&str], what: &str) -> String {
    let out = bin().args(args).output().expect("the harness runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: `{}` must exit 2\n{stderr}",
        args.join(" ")
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: nothing on stdout, got {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    stderr
}

/// Every problem is `error: FILE:LINE:COLUMN: message` of `file` (at least one), and each has
/// exactly one `= hint:` line of its own.
fn assert_diagnosed(stderr: &str, file: &str) {
    let mut problems = 0;
    let mut hints_per_problem = Vec::new();
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("error: ") {
            problems += 1;
            hints_per_problem.push(0);
            let located = rest.strip_prefix(file).and_then(|r| r.strip_prefix(':'));
            let Some(located) = located else {
                panic!("{file}: a problem not located in this file: `{line}`\n{stderr}");
            };
            let mut parts = located.splitn(3, ':');
            let (l, c) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let msg = parts.next().unwrap_or("");
            let number = |s: &str| s.parse::<usize>().is_ok_and(|n| n >= 1);
            assert!(
                number(l) && number(c) && msg.starts_with(' ') && msg.len() > 1,
                "{file}: `{line}` is not `error: FILE:LINE:COLUMN: message`"
            );
        } else if let Some(hint) = line.strip_prefix("  = hint: ") {
            let Some(n) = hints_per_problem.last_mut() else {
                panic!("{file}: a hint before any problem\n{stderr}");
            };
            *n += 1;
            assert!(!hint.trim().is_empty(), "{file}: an empty hint\n{stderr}");
        }
    }
    assert!(problems >= 1, "{file}: no located problem\n{stderr}");
    assert!(
        hints_per_problem.iter().all(|&n| n == 1),
        "{file}: every problem needs exactly one one-line hint\n{stderr}"
    );
}

fn assert_nothing_written(out: &Path, what: &str) {
    assert!(
        !out.exists(),
        "{what}: invalid input must not write {}",
        out.display()
    );
}

#[test]
fn the_catalogue_is_large_enough() {
    let (s, p) = (fixtures(SCENARIOS).len(), fixtures(PROFILES).len());
    assert!(
        s >= 40 && p >= 20 && s + p >= 60,
        "{s} scenarios, {p} profiles"
    );
}

/// One test, one snapshot of the whole catalogue, in a stable order.
#[test]
fn every_bad_input_is_refused_where_it_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let mut snapshot = bad_scenarios(tmp.path());
    snapshot.push_str(&bad_profiles(tmp.path()));
    insta::assert_snapshot!("catalogue", snapshot);
}

/// `validate` and `run` refuse each bad scenario; returns what `validate` printed.
fn bad_scenarios(tmp: &Path) -> String {
    let out = tmp.join("report");
    let out_arg = out.to_str().unwrap();
    let mut snapshot = String::new();
    for file in fixtures(SCENARIOS) {
        let stderr = refused(&["validate", &file], &file);
        assert_diagnosed(&stderr, &file);
        assert!(stderr.contains("nothing was run"), "{file}: {stderr}");
        // `run` refuses it the same way, before touching anything.
        let ran = refused(&["run", "--seed", "1", "--out", out_arg, &file], &file);
        assert_diagnosed(&ran, &file);
        assert_nothing_written(&out, &file);
        snapshot.push_str(&format!("── validate {file}\n{stderr}\n"));
    }
    snapshot
}

/// `run --profile` and `sim serve --profile` refuse each bad profile; returns what `run`
/// printed.
fn bad_profiles(tmp: &Path) -> String {
    let out = tmp.join("report");
    let out_arg = out.to_str().unwrap();
    let truth = tmp.join("truth.jsonl");
    let truth_arg = truth.to_str().unwrap();
    let mut snapshot = String::new();
    for file in fixtures(PROFILES) {
        let args = [
            "run",
            "--seed",
            "1",
            "--out",
            out_arg,
            "--profile",
            &file,
            VALID,
        ];
        let stderr = refused(&args, &file);
        assert_diagnosed(&stderr, &file);
        assert!(stderr.contains("nothing was run"), "{file}: {stderr}");
        assert_nothing_written(&out, &file);
        // `sim serve` refuses it before listening or writing its truth log.
        let serve = [
            "sim",
            "serve",
            "--profile",
            &file,
            "--lifetime",
            "2s",
            "--truth-log",
            truth_arg,
        ];
        let served = refused(&serve, &file);
        assert_diagnosed(&served, &file);
        assert_nothing_written(&truth, &file);
        snapshot.push_str(&format!("── run --profile {file}\n{stderr}\n"));
    }
    snapshot
}

#[test]
fn a_scenario_naming_a_bad_profile_file_is_refused_in_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = root().join(PROFILES).join("uniform-min-above-max.yaml");
    let scenario = crate::scenario(
        tmp.path(),
        "names-a-bad-profile",
        &format!(
            "name: names-a-bad-profile\nservice: {{name: cassandra}}\ntarget: {{pod: node-4}}\n\
             fault: terminate-instance\nprofile: {}\n",
            profile.display()
        ),
    );
    let stderr = refused(&["validate", scenario.to_str().unwrap()], "scenario");
    assert_diagnosed(&stderr, profile.to_str().unwrap());
}
