//! The report files a run writes (JUnit, HTML, histogram logs, the CI job summary), their
//! snapshots from a fixed seed, `report compare`, the HTML in headless Chromium, and the
//! committed example report folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use crate::{bin, read_json, root};

const SUITE: [&str; 2] = [
    "scenarios/cassandra-node-replace.yaml",
    "scenarios/cassandra-agent-reboot.yaml",
];

/// The fixed-seed suite the snapshots are taken from; extra arguments go to `run`.
fn fixed_run(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = dir.join("r");
    bin()
        .arg("run")
        .args(SUITE)
        .args(["--runs", "12", "--seed", "1", "--quiet", "--out"])
        .arg(&out)
        .args(extra)
        .env_remove("GITHUB_STEP_SUMMARY")
        .assert()
        .code(3); // twelve runs decide the p50s, not the p99s (they need 299)
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

#[test]
fn run_writes_every_report_and_report_re_renders_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = fixed_run(dir.path(), &[]);
    for f in [
        "journal.jsonl",
        "report.json",
        "report.md",
        "junit.xml",
        "report.html",
        "histograms/cassandra-node-replace.hlog",
        "histograms/cassandra-agent-reboot.hlog",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    for (format, file) in [
        ("json", "report.json"),
        ("md", "report.md"),
        ("junit", "junit.xml"),
        ("html", "report.html"),
    ] {
        let a = bin()
            .args(["report", "--format", format])
            .arg(&out)
            .assert()
            .code(3);
        assert_eq!(stdout(&a), read(&out.join(file)), "--format {format}");
    }
    let junit = read(&out.join("junit.xml"));
    insta::assert_snapshot!("junit_xml", junit);
    insta::assert_snapshot!("report_json", read(&out.join("report.json")));
    insta::assert_snapshot!(
        "hlog_node_replace",
        read(&out.join("histograms/cassandra-node-replace.hlog"))
    );
    let html = read(&out.join("report.html"));
    insta::assert_snapshot!("report_html", html);
}

#[test]
fn html_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let html = read(&fixed_run(dir.path(), &[]).join("report.html"));
    for banned in ["<script", "http://", "https://", "<link", "@import", "url("] {
        // The SVG namespace is an identifier, not a fetch.
        let hits = html
            .match_indices(banned)
            .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
            .count();
        assert_eq!(hits, 0, "report.html contains `{banned}`");
    }
    // per metric with an SLO a histogram and a CDF, per scenario a timeline and a breakdown
    assert_eq!(html.matches(r#"<svg class="chart hist""#).count(), 11);
    assert_eq!(html.matches(r#"<svg class="chart cdf""#).count(), 11);
    assert_eq!(html.matches(r#"<svg class="chart timeline""#).count(), 2);
    assert_eq!(html.matches(r#"<svg class="chart breakdown""#).count(), 2);
    assert!(html.contains("p99 ≤ 25m"), "the SLO thresholds are drawn");
}

/// Loads the page in headless Chromium (no network) and checks that the charts made it into
/// the rendered DOM. CI installs Chromium (.ci/run); without it the test says so and passes.
#[test]
fn html_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!(
            "SKIPPED html_renders_in_headless_chromium: no chromium on PATH; hint: apt-get install -y chromium"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = fixed_run(dir.path(), &[]).join("report.html");
    let profile = dir.path().join("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<h1>chaos-harness report</h1>"), "{dom}");
    assert_eq!(dom.matches(r#"<svg class="chart hist""#).count(), 11);
    assert_eq!(dom.matches(r#"<svg class="chart cdf""#).count(), 11);
    assert_eq!(dom.matches(r#"<svg class="chart timeline""#).count(), 2);
    assert_eq!(dom.matches(r#"<svg class="chart breakdown""#).count(), 2);
    // the parser kept the drawing: bars, the CDF path, run rows
    assert!(dom.contains(r#"<path class="cdf" d="M"#));
    assert_eq!(dom.matches(r#"<g class="run"><title>run "#).count(), 24);
}

#[test]
fn histogram_logs_read_back_with_the_report_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = fixed_run(dir.path(), &[]);
    let report = read_json(&out.join("report.json"));
    for s in report["scenarios"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let log = std::fs::read(out.join(format!("histograms/{name}.hlog"))).unwrap();
        let mut seen = 0;
        for entry in IntervalLogIterator::new(&log) {
            let LogEntry::Interval(i) = entry.unwrap() else {
                continue;
            };
            let metric = i.tag().expect("every interval is tagged").as_str();
            let bytes = STANDARD.decode(i.encoded_histogram()).unwrap();
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .unwrap();
            let m = &s["metrics"][metric];
            assert_eq!(h.len(), m["count"].as_u64().unwrap(), "{name} {metric}");
            // the report's p50 is the histogram's, capped at the exact maximum
            assert_eq!(
                h.value_at_quantile(0.5).min(m["max"].as_u64().unwrap()),
                m["p50"].as_u64().unwrap(),
                "{name} {metric}"
            );
            seen += 1;
        }
        assert_eq!(seen, s["metrics"].as_object().unwrap().len(), "{name}");
    }
}

#[test]
fn run_appends_the_markdown_summary_to_github_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    bin()
        .arg("run")
        .arg(SUITE[1])
        .args(["--runs", "6", "--seed", "1", "--quiet", "--out"])
        .arg(dir.path().join("r"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .code(3); // six runs decide the p50, not the p99 (it needs 299)
    let text = read(&summary);
    assert!(
        text.starts_with("earlier step\n# chaos-harness report"),
        "{text}"
    );
    assert!(
        text.contains("## cassandra-agent-reboot — ⚠️ inconclusive"),
        "{text}"
    );
    // `report` re-renders; it does not publish
    bin()
        .args(["report", "--format", "md"])
        .arg(dir.path().join("r"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .code(3);
    assert_eq!(read(&summary), text);
}

#[test]
fn junit_names_the_runs_that_broke_an_slo_or_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate::scenario(
        dir.path(),
        "tight",
        "\
name: tight
service: {name: cassandra}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
heal: replace-on-task-lost
expect:
  - {phase: task_running, within: 14m}
slos:
  time_to_cassandra_running: {p90: 14m}
  time_to_asg_replacement: {p50: 10m, min_runs: 20}
runs: 20
",
    );
    bin()
        .args(["run", "--runs", "12", "--seed", "3", "--quiet", "--out"])
        .arg(dir.path().join("r"))
        .arg(&file)
        .assert()
        .code(1);
    let junit =
        read(&dir.path().join("r/junit.xml")).replace(&dir.path().display().to_string(), "[TMP]");
    // two failures (the p90 SLO, the expectation), one skipped (too few runs for the p50)
    assert!(
        junit.contains(r#"<testsuite name="tight" tests="4" skipped="1" errors="0" failures="2">"#),
        "{junit}"
    );
    insta::assert_snapshot!("junit_xml_failing", junit);
}

/// `report compare` on two report folders: the same drill against a cluster whose DC/OS
/// bootstrap got 5 minutes slower (an injected regression) exits 1; unchanged or faster, 0.
#[test]
fn compare_flags_a_regression_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let default = read(&root().join("profiles/default.yaml"));
    let slow = default.replace(
        "agent_register: {uniform: {min: 7m, max: 11m30s}}",
        "agent_register: {uniform: {min: 12m, max: 16m30s}}",
    );
    assert_ne!(
        slow, default,
        "profiles/default.yaml changed; update this test"
    );
    std::fs::write(dir.path().join("slow.yaml"), slow).unwrap();
    let run = |name: &str, profile: &Path| {
        let out = dir.path().join(name);
        let status = bin()
            .arg("run")
            .arg(SUITE[0])
            .args(["--runs", "12", "--seed", "1", "--quiet", "--profile"])
            .arg(profile)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        // twelve runs cannot decide the p99s (exit 3), and the slow cluster also misses the
        // scenario's own SLOs (exit 1); both ran to the end
        assert!(matches!(status.status.code(), Some(1 | 3)), "{status:?}");
        out
    };
    let before = run("before", &root().join("profiles/default.yaml"));
    let after = run("after", &dir.path().join("slow.yaml"));
    let same = bin()
        .args(["report", "compare"])
        .args([&before, &before])
        .assert()
        .code(0);
    assert!(stdout(&same).contains("no regression beyond 10%"));
    let faster = bin()
        .args(["report", "compare"])
        .args([&after, &before])
        .assert()
        .code(0);
    assert!(stdout(&faster).contains("improved"), "{}", stdout(&faster));
    let slower = bin()
        .args(["report", "compare"])
        .args([&before, &after])
        .assert()
        .code(1);
    let text = stdout(&slower);
    insta::assert_snapshot!("compare_text", text);
    let md = bin()
        .args(["report", "compare", "--format", "md"])
        .args([&before, &after])
        .assert()
        .code(1);
    assert!(stdout(&md).starts_with("# chaos-harness comparison\n\n**❌**"));
    let json = bin()
        .args(["report", "compare", "--format", "json"])
        .args([&before, &after])
        .assert()
        .code(1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert!(v["regressions"].as_u64().unwrap() > 0);
    // a tolerance wide enough accepts it
    bin()
        .args(["report", "compare", "--tolerance", "200%"])
        .args([&before, &after])
        .assert()
        .code(0);
}

#[test]
fn compare_refuses_bad_input_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = fixed_run(dir.path(), &[]);
    let missing = dir.path().join("nope");
    let a = bin()
        .args(["report", "compare"])
        .args([&out, &missing])
        .assert()
        .code(2);
    assert!(
        String::from_utf8_lossy(&a.get_output().stderr).contains("nope"),
        "the error names the folder"
    );
    bin()
        .args(["report", "compare", "--tolerance", "lots"])
        .args([&out, &out])
        .assert()
        .code(2);
}

/// The committed example report folder is what the renderers make of its committed journal.
#[test]
fn example_report_folder_is_up_to_date() {
    let example = root().join("reports/example");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        example.join("journal.jsonl"),
        dir.path().join("journal.jsonl"),
    )
    .unwrap();
    // its exit code is the suite's verdict; the files are what matter here
    let _ = bin().args(["report", "--write"]).arg(dir.path()).assert();
    let files = |base: &Path| -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![base.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    };
    let hint =
        "hint: regenerate it with `cargo run -- report reports/example --write` and commit it";
    assert_eq!(
        files(&example),
        files(dir.path()),
        "reports/example/ holds other files than the renderers write; {hint}"
    );
    for f in files(dir.path()) {
        assert!(
            read(&example.join(&f)) == read(&dir.path().join(&f)),
            "reports/example/{f} drifted from what its journal renders to; {hint}"
        );
    }
}
