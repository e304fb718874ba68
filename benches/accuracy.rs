//! Measurement accuracy and API economy of the reference drill
//! (`scenarios/cassandra-node-replace.yaml`, default profile, 5 s `poll_interval`).
//!
//! `cargo bench --bench accuracy -- [--runs N] [--speed K] [--fixed DUR] [--in-process] [--out DIR]
//! [--scenario FILE] [--profile NAME|FILE] [--poll DUR] [--seed N]`
//!
//! - default: against `sim serve` (in this process, on 127.0.0.1) through the aws backend —
//!   the real AWS SDK and the reqwest DC/OS client — with both sides on one clock sped up K
//!   times (default 100: an 18-minute drill takes 11 s, 50 runs ≈ 9 min), the truth log
//!   written beside the journal. Loopback latency is sped up too, so brackets are wider than
//!   on the real clock: the figures are conservative.
//! - `--in-process`: against the in-process simulated cluster on virtual time (many runs, fast).
//! - `--fixed DUR`: a fixed poller (`poll_interval` = `max_poll_interval` = DUR, no request
//!   budget) for comparison with the adaptive one.
//! - `--scenario FILE`, `--profile NAME|FILE`, `--poll DUR`: another drill, another simulated
//!   world (e.g. `profiles/instant-replacement.yaml`), another `poll_interval` (adaptive).
//! - `--seed N` (default 42): the suite's and the simulator's seed; many suites of one run
//!   each (a loop over seeds) measure first runs, which have no history.
//!
//! Prints the error of every reported phase against the truth (as `chaos-harness verify-truth`
//! does; with `--out DIR` the journal, reports and truth log stay in DIR so the command can be
//! run on them) and the requests per run and per minute per service. docs/BENCHMARKS.md holds
//! the figures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chaos_harness::cluster::Cluster;
use chaos_harness::cluster::aws::{AwsClients, AwsCluster, DcosClient};
use chaos_harness::cluster::sim::{Profile, SimCluster, TruthEvent};
use chaos_harness::journal::{Event, JournalWriter, Sink};
use chaos_harness::runner::suite::{SuitePlan, run_suite};
use chaos_harness::runner::{RunError, StopFlag};
use chaos_harness::scenario::parse::Loaded;
use chaos_harness::scenario::{Scenario, load_paths};
use chaos_harness::sim_server::{DEFAULT_TOKEN, ServeConfig, SimServer};
use chaos_harness::time::{Clock, Dur};
use chaos_harness::vocab::Phase;

struct Args {
    runs: u32,
    speed: u32,
    fixed: Option<Dur>,
    in_process: bool,
    out: Option<PathBuf>,
    scenario: PathBuf,
    profile: Profile,
    poll: Option<Dur>,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        runs: 50,
        speed: 100,
        fixed: None,
        in_process: false,
        out: None,
        scenario: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/cassandra-node-replace.yaml"),
        profile: Profile::default_profile(),
        poll: None,
        seed: 42,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => a.runs = value().parse().expect("--runs N"),
            "--speed" => a.speed = value().parse().expect("--speed K"),
            "--fixed" => a.fixed = Some(value().parse().expect("--fixed 1s")),
            "--in-process" => a.in_process = true,
            "--out" => a.out = Some(PathBuf::from(value())),
            "--scenario" => a.scenario = PathBuf::from(value()),
            "--profile" => {
                a.profile = Profile::load(&value()).unwrap_or_else(|e| panic!("{}", e.render()));
            }
            "--poll" => a.poll = Some(value().parse().expect("--poll 1s")),
            "--seed" => a.seed = value().parse().expect("--seed N"),
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    a
}

fn drill(path: &Path) -> Loaded {
    load_paths(&[path.to_path_buf()])
        .expect("the scenario is valid")
        .remove(0)
}

/// The suite of the one scenario `l`, journaled as `chaos-harness run` does.
async fn suite<C: Cluster>(
    cluster: &mut C,
    l: &Loaded,
    runs: u32,
    seed: u64,
    sink: &mut dyn Sink,
) -> Result<(), RunError> {
    let plan = SuitePlan::fresh(vec![l.clone()], cluster.target(), seed, Some(runs), None);
    run_suite(&plan, &mut &mut *cluster, sink, &StopFlag::default()).await
}

async fn against_sim_serve(
    l: &Loaded,
    profile: &Profile,
    runs: u32,
    seed: u64,
    speed: u32,
    dir: &Path,
) -> Vec<TruthEvent> {
    let clock = Clock::scaled(speed);
    let truth_log = dir.join("truth.jsonl");
    let server = SimServer::start(ServeConfig {
        seed,
        truth_log: Some(truth_log.clone()),
        clock,
        ..ServeConfig::new(profile.clone())
    })
    .await
    .expect("sim serve starts");
    let mut cluster = AwsCluster::with_clock(
        AwsClients::for_endpoint(&server.url()),
        Some(DcosClient::for_url(&server.url(), DEFAULT_TOKEN)),
        clock,
    );
    let mut journal = JournalWriter::open(dir).expect("journal");
    suite(&mut cluster, l, runs, seed, &mut journal)
        .await
        .expect("the drill runs against sim serve");
    let truth = server.truth();
    server.stop().await.expect("sim serve stops");
    truth
}

fn main() {
    let a = args();
    let mut l = drill(&a.scenario);
    if let Some(d) = a.poll {
        l.scenario.poll_interval = d;
    }
    if let Some(d) = a.fixed {
        fix(&mut l.scenario, d);
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = a.out.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("out dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let truth = if a.in_process {
        let mut cluster = SimCluster::at_epoch(&a.profile, a.seed);
        let mut journal = JournalWriter::open(&dir).expect("journal");
        rt.block_on(suite(&mut cluster, &l, a.runs, a.seed, &mut journal))
            .expect("the drill runs");
        let truth = cluster.truth().to_vec();
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join("truth.jsonl")).expect("truth log"),
        );
        for t in &truth {
            serde_json::to_writer(&mut f, t).unwrap();
            f.write_all(b"\n").unwrap();
        }
        truth
    } else {
        rt.block_on(against_sim_serve(
            &l, &a.profile, a.runs, a.seed, a.speed, &dir,
        ))
    };
    let wall = started.elapsed();
    let report = chaos_harness::report::folder::write_all(&dir).expect("reports");
    let events = chaos_harness::journal::read(&dir).expect("journal").events;
    let acc = chaos_harness::verify::check(&events, &truth);
    println!(
        "accuracy: {} runs of {} ({}), poll {}, max poll {}, {} in {:.1} s",
        a.runs,
        l.scenario.name,
        if a.in_process {
            "in-process simulator".to_string()
        } else {
            format!("aws backend → sim serve at {}× speed", a.speed)
        },
        l.scenario.poll_interval,
        l.scenario.max_poll_interval(),
        if a.fixed.is_some() {
            "fixed"
        } else {
            "adaptive"
        },
        wall.as_secs_f64(),
    );
    print!("{}", acc.render());
    let s = &report.scenarios[0];
    if let Some(q) = &s.requests {
        println!(
            "requests per run: EC2 {} / Auto Scaling {} / DC/OS {}; per minute: {} / {} / {}",
            q.per_run.ec2,
            q.per_run.autoscaling,
            q.per_run.dcos,
            q.per_minute.ec2,
            q.per_minute.autoscaling,
            q.per_minute.dcos
        );
    }
    for (what, mut runs) in run_lengths(&events) {
        runs.sort();
        if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
            println!(
                "run length ({what}, cluster clock; wall clock × 1/{}): min {}, p50 {}, max {}",
                if a.in_process { 0 } else { a.speed },
                first.human(),
                runs[runs.len() / 2].human(),
                last.human()
            );
        }
    }
    if let Some(t) = &s.time_use {
        println!(
            "time use: {} suite, {} recovery, {} cooldown, {} idle ({} %)",
            Dur::from_millis(t.duration_ms).human(),
            Dur::from_millis(t.recovery_ms).human(),
            Dur::from_millis(t.cooldown_ms).human(),
            Dur::from_millis(t.idle_ms).human(),
            t.idle_percent
        );
    }
    if let Some(out) = &a.out {
        println!(
            "reproduce the check: chaos-harness verify-truth {} {}",
            out.display(),
            out.join("truth.jsonl").display()
        );
    }
    assert!(acc.all_inside(), "a truth lies outside its reported bound");
    assert_eq!(s.runs_finished, a.runs, "every run finishes");
}

/// Each run's length, from its start (steady state is waited for) to its end, and from its
/// fault to its end.
fn run_lengths(events: &[Event]) -> [(&'static str, Vec<Dur>); 2] {
    let (mut started, mut fault) = (None, None);
    let (mut whole, mut after) = (Vec::new(), Vec::new());
    for e in events {
        match e {
            Event::RunStarted { at, .. } => started = Some(*at),
            Event::PhaseObserved {
                phase: Phase::FaultInjected,
                at,
                ..
            } => fault = Some(*at),
            Event::RunFinished { at, .. } => {
                whole.extend(started.take().map(|s| at.since(s)));
                after.extend(fault.take().map(|s| at.since(s)));
            }
            _ => {}
        }
    }
    [
        ("run started → run finished", whole),
        ("fault → run finished", after),
    ]
}

/// A fixed poller: every API every `d`, no request budget.
fn fix(s: &mut Scenario, d: Dur) {
    s.poll_interval = d;
    s.max_poll_interval = Some(d);
    s.max_requests_per_minute = Some(u32::MAX);
}
