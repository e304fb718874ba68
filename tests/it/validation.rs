//! Bad input: exit 2, file:line:column, a hint, and nothing run.

use crate::{bin, root};

fn invalid(name: &str) -> (String, std::path::PathBuf) {
    let file = root()
        .join("tests/fixtures/invalid")
        .join(format!("{name}.yaml"));
    let out = bin().arg("validate").arg(&file).assert().code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    (stderr, file)
}

fn assert_located(stderr: &str, file: &std::path::Path, line: usize) {
    let prefix = format!("error: {}:{line}:", file.display());
    assert!(
        stderr.contains(&prefix),
        "expected `{prefix}` in:\n{stderr}"
    );
    assert!(stderr.contains("= hint: "), "no hint in:\n{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
}

#[test]
fn syntax_error_is_located() {
    let (stderr, file) = invalid("syntax-error");
    // The unclosed flow mapping is noticed where the next key starts.
    assert!(
        stderr.contains(&format!("error: {}:", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("= hint: "), "{stderr}");
}

#[test]
fn unknown_key_is_located() {
    let (stderr, file) = invalid("unknown-key");
    assert_located(&stderr, &file, 6);
    assert!(stderr.contains("retries"), "{stderr}");
}

#[test]
fn bad_duration_is_located() {
    let (stderr, file) = invalid("bad-duration");
    assert_located(&stderr, &file, 5);
    assert!(stderr.contains("parsecs"), "{stderr}");
}

#[test]
fn percentile_over_100_is_located() {
    let (stderr, file) = invalid("percentile-over-100");
    assert_located(&stderr, &file, 7);
    assert!(stderr.contains("over 100"), "{stderr}");
}

#[test]
fn unknown_metric_lists_the_known_ones() {
    let (stderr, file) = invalid("unknown-metric");
    assert_located(&stderr, &file, 6);
    assert!(stderr.contains("time_to_cassandra_running"), "{stderr}");
}

#[test]
fn heal_without_service_is_contradictory() {
    let (stderr, file) = invalid("heal-without-service");
    assert_located(&stderr, &file, 5);
}

#[test]
fn pod_missing_from_the_profile_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let file = root().join("tests/fixtures/invalid/unknown-pod.yaml");
    let out = bin()
        .args(["run", "--seed", "1", "--out"])
        .arg(dir.path().join("r"))
        .arg(&file)
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!("{}:3:", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("node-9"), "{stderr}");
    assert!(!dir.path().join("r").exists(), "nothing may be written");
}

#[test]
fn every_problem_of_a_folder_is_reported_at_once() {
    let out = bin()
        .arg("validate")
        .arg(root().join("tests/fixtures/invalid"))
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.matches("error: ").count() >= 6, "{stderr}");
}

#[test]
fn the_shipped_scenarios_are_valid() {
    bin().args(["validate", "scenarios/"]).assert().code(0);
}

#[test]
fn the_committed_schema_is_current() {
    let out = bin().arg("schema").assert().code(0);
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let committed = std::fs::read_to_string(root().join("docs/scenario.schema.json")).unwrap();
    assert_eq!(
        printed.trim(),
        committed.trim(),
        "docs/scenario.schema.json is stale: run `cargo run -- schema > docs/scenario.schema.json`"
    );
}

/// Editors with the YAML language server validate and complete a file whose first line names
/// a schema; every shipped scenario names the committed one, by a path relative to itself.
#[test]
fn the_shipped_scenarios_name_the_schema() {
    const MODELINE: &str = "# yaml-language-server: $schema=";
    let schema = root()
        .join("docs/scenario.schema.json")
        .canonicalize()
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let body = std::fs::read_to_string(&file).unwrap();
        let first = body.lines().next().unwrap_or("");
        let Some(named) = first.strip_prefix(MODELINE) else {
            panic!(
                "{}: the first line must be `{MODELINE}../docs/scenario.schema.json`, not `{first}`",
                file.display()
            );
        };
        let named = file.parent().unwrap().join(named.trim());
        assert!(
            named.exists(),
            "{}: the schema it names, {}, does not exist",
            file.display(),
            named.display()
        );
        assert_eq!(named.canonicalize().unwrap(), schema, "{}", file.display());
    }
}
