//! The aws backend end to end, without an AWS account: `sim serve` on 127.0.0.1 speaks the EC2,
//! Auto Scaling and DC/OS wire protocols; `run --target aws` drives it with the real AWS SDK
//! and reqwest; every measured phase must lie within its bound of the server's truth log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chaos_harness::cluster::sim::TruthEvent;
use chaos_harness::journal;

use crate::truth::assert_truthful;
use crate::{bin, read_json, root, scenario};

const TOKEN: &str = "e2e-dcos-token-5f3a9c";
const SECRET: &str = "e2e-aws-secret-91b7d2";

/// A `sim serve` child process, killed when dropped (and bounded by `--lifetime` anyway).
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    truth: PathBuf,
}

impl Server {
    pub(crate) fn start(dir: &Path, profile: &str) -> Self {
        Self::start_with(dir, profile, &[], Stdio::null())
    }

    /// With more `sim serve` arguments, its stderr going to `stderr`.
    pub(crate) fn start_with(dir: &Path, profile: &str, more: &[&str], stderr: Stdio) -> Self {
        let truth = dir.join("truth.jsonl");
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("chaos-harness"))
            .args([
                "sim",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--profile",
                profile,
            ])
            .args([
                "--seed",
                "1",
                "--token",
                TOKEN,
                "--lifetime",
                "10m",
                "--truth-log",
            ])
            .arg(&truth)
            .args(more)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("sim serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self { child, url, truth }
    }

    pub(crate) fn truth(&self) -> Vec<TruthEvent> {
        std::fs::read_to_string(&self.truth)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The harness pointed at this server, with nothing of the machine's own AWS or DC/OS setup.
    pub(crate) fn harness(&self, home: &Path) -> assert_cmd::Command {
        let mut cmd = bin();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "AKIDE2ETESTING")
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-west-2")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("DCOS_URL", &self.url)
            .env("DCOS_ACS_TOKEN", TOKEN);
        cmd
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reference drill, tightened for a profile sixty times faster than the real cluster.
/// `run --target aws --runs RUNS --yes --seed SEED --out OUT FILE`, which must exit with
/// `code` (3: inconclusive, as so few runs decide no p99, it needs 299); its stdout and
/// stderr.
pub(crate) fn run_aws_suite(
    harness: &mut assert_cmd::Command,
    (runs, seed): (u32, u64),
    out: &Path,
    file: &Path,
    code: i32,
) -> (String, String) {
    let output = harness
        .args(["run", "--target", "aws", "--yes", "--runs"])
        .arg(runs.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--out")
        .arg(out)
        .arg(file)
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

pub(crate) fn fast_drill(dir: &Path) -> PathBuf {
    let body = std::fs::read_to_string(root().join("scenarios/cassandra-node-replace.yaml"))
        .unwrap()
        .replace("within: 10m", "within: 1m")
        .replace("within: 30m", "within: 2m")
        .replace("timeout: 45m", "timeout: 3m")
        .replace("{p50: 5m, p99: 8m}", "{p50: 10s, p99: 20s, min_runs: 3}")
        .replace(
            "{p50: 18m, p99: 25m, min_runs: 10}",
            "{p50: 30s, p99: 60s, min_runs: 3}",
        );
    sped_up_scenario(dir, "fast-drill", &body, "500ms")
}

/// Writes scenario `name` from the reference drill's `body`, for sim serve's sped-up `fast`
/// clocks: no cooldown, polls every `poll`, a short steady-state wait and gentle poll, and a
/// request budget that never gets in the way.
pub(crate) fn sped_up_scenario(dir: &Path, name: &str, body: &str, poll: &str) -> PathBuf {
    let body = body
        .replace("cooldown: 1m", "cooldown: 0s")
        .replace("poll_interval: 5s", &format!("poll_interval: {poll}"));
    scenario(
        dir,
        name,
        &format!(
            "{body}steady_state_timeout: 2m\nmax_poll_interval: 1s\nmax_requests_per_minute: 1000\n"
        ),
    )
}

#[test]
fn reference_drill_through_the_real_sdk_matches_the_truth_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let file = fast_drill(dir.path());
    let out = dir.path().join("report");

    let plan = server
        .harness(dir.path())
        .args(["plan", "--target", "aws"])
        .arg(&file)
        .assert()
        .code(0);
    let plan = String::from_utf8(plan.get_output().stdout.clone()).unwrap();
    for part in [
        "pod node-4",
        "agent ",
        "ip 10.0.",
        "instance i-",
        "asg dcos-private-agents",
        "nothing was injected",
    ] {
        assert!(plan.contains(part), "{part} missing from\n{plan}");
    }
    // plan injects nothing: the truth log holds no fault.
    assert!(
        server
            .truth()
            .iter()
            .all(|t| !format!("{:?}", t.kind).contains("Fault"))
    );

    let (stdout, stderr) = run_aws_suite(&mut server.harness(dir.path()), (3, 1), &out, &file, 3);

    let r = read_json(&out.join("report.json"));
    assert_eq!(r["target"], "aws");
    assert_eq!(r["simulated"], false);
    let runs = r["scenarios"][0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        let phases: Vec<&str> = run["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap())
            .collect();
        assert_eq!(phases.len(), 12, "every phase observed: {phases:?}");
        let (v, n) = (&run["victims"][0], &run["replacements"][0]);
        assert_ne!(v["instance"], n["instance"]);
        assert_ne!(v["agent"], n["agent"]);
        assert_ne!(v["task"], n["task"]);
    }

    let events = journal::read(&out).unwrap().events;
    let checked = assert_truthful(&events, &server.truth());
    assert_eq!(checked, 3 * 9, "every truth-backed phase checked");

    // Secrets never reach the journal, the reports or the output.
    for f in ["journal.jsonl", "report.json", "report.md"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(
            !text.contains(TOKEN) && !text.contains(SECRET),
            "secret in {f}"
        );
    }
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

#[test]
fn asg_only_scenario_needs_no_dcos() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let body = std::fs::read_to_string(root().join("scenarios/asg-terminate-only.yaml"))
        .unwrap()
        .replace("poll_interval: 5s", "poll_interval: 500ms")
        .replace("within: 10m", "within: 1m")
        .replace("timeout: 20m", "timeout: 2m")
        .replace("{p50: 1m, p99: 3m}", "{p50: 5s, p99: 10s, min_runs: 2}")
        .replace("{p50: 5m, p99: 8m}", "{p50: 10s, p99: 20s, min_runs: 2}");
    let file = scenario(dir.path(), "asg-only", &body);
    let out = dir.path().join("o");
    server
        .harness(dir.path())
        .env_remove("DCOS_URL")
        .env_remove("DCOS_ACS_TOKEN")
        .args([
            "run", "--target", "aws", "--runs", "2", "--yes", "--seed", "2", "--quiet", "--out",
        ])
        .arg(&out)
        .arg(&file)
        .assert()
        .code(3); // two runs decide no p99 (it needs 299)
    let r = read_json(&out.join("report.json"));
    let m = &r["scenarios"][0]["metrics"];
    assert_eq!(m["time_to_asg_replacement"]["count"], 2);
    assert!(m.get("time_to_cassandra_running").is_none());
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let file = fast_drill(dir.path());
    let out = server
        .harness(dir.path())
        .args(["run", "--target", "aws", "--out"])
        .arg(dir.path().join("o"))
        .arg(&file)
        .assert()
        .code(4);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(!dir.path().join("o").exists());
    assert!(
        server
            .truth()
            .iter()
            .all(|t| !format!("{:?}", t.kind).contains("Fault"))
    );
}

#[test]
fn a_wrong_dcos_token_says_log_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let file = fast_drill(dir.path());
    let out = server
        .harness(dir.path())
        .env("DCOS_ACS_TOKEN", "stale-token-7c1e")
        .args(["plan", "--target", "aws"])
        .arg(&file)
        .assert()
        .code(4);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("log in again"), "{stderr}");
    assert!(
        !stderr.contains("stale-token-7c1e"),
        "the token is not echoed: {stderr}"
    );
}

/// CI's way in: a DC/OS service account (its secret in a file, the key made here), whose
/// login `sim serve` verifies with the public key and whose tokens live 10 s, so the suite's
/// login is renewed several times mid-run; no run fails for it, and neither the key nor any
/// token reaches the journal, the reports or the output.
#[test]
fn a_service_account_login_is_renewed_mid_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = chaos_harness::cluster::jwt::generate_pem();
    let public_file = dir.path().join("chaos-ci.pub.pem");
    std::fs::write(&public_file, &public).unwrap();
    let secret = dir.path().join("chaos-ci-secret.json");
    let credential = serde_json::json!({"uid": "chaos-ci", "scheme": "RS256",
        "private_key": private, "login_endpoint": "https://master.mesos/acs/api/v1/auth/login"});
    std::fs::write(&secret, credential.to_string()).unwrap();
    let server_log = dir.path().join("serve.err");
    let server = Server::start_with(
        dir.path(),
        "fast",
        &[
            "--service-account",
            &format!("chaos-ci={}", public_file.display()),
            "--token-lifetime",
            "10s",
        ],
        std::fs::File::create(&server_log).unwrap().into(),
    );
    let file = fast_drill(dir.path());

    // A key the account does not hold: refused, naming the uid and nothing of the key.
    let (stranger, _) = chaos_harness::cluster::jwt::generate_pem();
    let refused = server
        .harness(dir.path())
        .env_remove("DCOS_ACS_TOKEN")
        .env(
            "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
            serde_json::json!({"uid": "chaos-ci", "private_key": stranger}).to_string(),
        )
        .args(["plan", "--target", "aws"])
        .arg(&file)
        .assert()
        .code(4);
    let said = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(
        said.contains("refused the login of service account \"chaos-ci\""),
        "{said}"
    );
    assert!(!said.contains(&stranger[40..80]), "{said}");

    let out = dir.path().join("report");
    let mut harness = server.harness(dir.path());
    harness.env_remove("DCOS_ACS_TOKEN").env(
        "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
        format!("file://{}", secret.display()),
    );
    let (stdout, stderr) = run_aws_suite(&mut harness, (2, 3), &out, &file, 3);
    let r = read_json(&out.join("report.json"));
    let runs = r["scenarios"][0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["phases"].as_array().unwrap().len(), 12, "{run}");
    }
    let logins = std::fs::read_to_string(&server_log)
        .unwrap()
        .matches("service account chaos-ci logged in")
        .count();
    // Two runs of ~20 s, steady state included, with tokens renewed every 8 s or so.
    assert!(logins >= 4, "{logins} logins: not renewed mid-suite");
    // Renewed before expiry: no request of the suite was refused.
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert!(
        !journal.contains("\"unauthorized\""),
        "a 401 was ridden out"
    );

    // The key (any of its lines) and every token (all start with the RS256 header) stay out.
    let key_lines: Vec<&str> = private
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 24)
        .collect();
    let header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";
    for (name, text) in [
        ("journal.jsonl", journal.clone()),
        (
            "report.json",
            std::fs::read_to_string(out.join("report.json")).unwrap(),
        ),
        (
            "report.md",
            std::fs::read_to_string(out.join("report.md")).unwrap(),
        ),
        ("stdout", stdout.to_string()),
        ("stderr", stderr.to_string()),
    ] {
        assert!(!text.contains(header), "a token in {name}");
        for l in &key_lines {
            assert!(!text.contains(&l[..24]), "the key in {name}");
        }
    }
}
