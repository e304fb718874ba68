//! Coverage of the SLO confidence intervals (issue 12): over many seeded suites of a few runs
//! of the reference drill, how often the interval a report gives for a percentile contains the
//! true percentile, and how often a threshold just below the true value would pass.
//!
//! `cargo bench --bench coverage -- [--suites N] [--runs R] [--truth T]` (defaults 1000 suites
//! of 20 runs, truth from 1 000 000 runs). The true percentiles are the order statistics of T
//! runs of the same drill (seed 7, metrics taken from the journal as it streams by, nothing
//! kept but the two metrics); each suite has its own seed (1000, 1001, …). Prints coverage per
//! metric and percentile; docs/BENCHMARKS.md holds the figures.

use std::path::PathBuf;
use std::time::Instant;

use chaos_harness::cluster::sim::Profile;
use chaos_harness::journal::{Event, Sink};
use chaos_harness::runner::StopFlag;
use chaos_harness::runner::suite::{SimClusters, SuitePlan, run_suite};
use chaos_harness::scenario::load_paths;
use chaos_harness::scenario::parse::Loaded;
use chaos_harness::time::Timestamp;
use chaos_harness::vocab::{Phase, Target};

const METRICS: [(&str, Phase); 2] = [
    ("time_to_asg_replacement", Phase::ReplacementInService),
    ("time_to_cassandra_running", Phase::TaskRunning),
];
const PERCENTILES: [(&str, f64); 2] = [("p50", 0.50), ("p90", 0.90)];

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

/// The reference scenario with p50 and p90 SLOs on both headline metrics at 95 %.
fn reference() -> Loaded {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cassandra-node-replace.yaml");
    let mut yaml = std::fs::read_to_string(&path).expect("the reference scenario");
    let slos_at = yaml.find("slos:").expect("the reference scenario has SLOs");
    let slos_end = yaml[slos_at..]
        .find("\nruns:")
        .map_or(yaml.len(), |i| slos_at + i + 1);
    yaml.replace_range(
        slos_at..slos_end,
        "slos:\n  time_to_asg_replacement: {p50: 5m, p90: 8m, min_runs: 1}\n  time_to_cassandra_running: {p50: 18m, p90: 25m, min_runs: 1}\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("coverage.yaml");
    std::fs::write(&file, yaml).expect("scenario written");
    load_paths(&[file])
        .expect("the coverage scenario is valid")
        .remove(0)
}

/// Keeps only each run's two headline metrics, in ms.
#[derive(Default)]
struct Metrics {
    fault: Option<Timestamp>,
    values: [Vec<u64>; 2],
}

impl Sink for Metrics {
    fn emit(&mut self, e: &Event) -> std::io::Result<()> {
        if let Event::PhaseObserved { phase, at, .. } = e {
            if *phase == Phase::FaultInjected {
                self.fault = Some(*at);
            }
            for (i, (_, p)) in METRICS.iter().enumerate() {
                if phase == p
                    && let Some(f) = self.fault
                {
                    self.values[i].push(at.since(f).as_millis());
                }
            }
        }
        Ok(())
    }
}

fn suite(l: &Loaded, runs: u32, seed: u64, sink: &mut dyn Sink) {
    let plan = SuitePlan::fresh(vec![l.clone()], Target::Sim, seed, Some(runs), None);
    let profiles = [Profile::default_profile()];
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(run_suite(
            &plan,
            &mut SimClusters::new(&profiles, seed),
            sink,
            &StopFlag::default(),
        ))
        .expect("the drill runs");
}

fn main() {
    let (suites, runs, truth_runs) = (
        arg("--suites", 1000),
        arg("--runs", 20) as u32,
        arg("--truth", 1_000_000) as u32,
    );
    let l = reference();
    let started = Instant::now();
    let mut truth = Metrics::default();
    suite(&l, truth_runs, 7, &mut truth);
    for v in &mut truth.values {
        v.sort_unstable();
    }
    let true_value = |m: usize, q: f64| {
        let v = &truth.values[m];
        v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    };
    let truths: Vec<Vec<u64>> = (0..METRICS.len())
        .map(|m| PERCENTILES.iter().map(|(_, q)| true_value(m, *q)).collect())
        .collect();
    println!(
        "truth: {truth_runs} runs in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // [metric][percentile] → (covered, passes just below the truth, decided at all)
    let mut counts = [[(0u64, 0u64); 2]; 2];
    for s in 0..suites {
        let mut events: Vec<Event> = Vec::new();
        suite(&l, runs, 1000 + s, &mut events);
        let report = chaos_harness::report::build(&events, false);
        let json: serde_json::Value =
            serde_json::from_str(&chaos_harness::report::json::render(&report)).unwrap();
        for slo in json["scenarios"][0]["slos"].as_array().unwrap() {
            let m = METRICS
                .iter()
                .position(|(n, _)| slo["metric"] == *n)
                .unwrap();
            let Some(p) = PERCENTILES
                .iter()
                .position(|(n, _)| slo["percentile"] == *n)
            else {
                continue;
            };
            let t = truths[m][p];
            let lower = slo["interval_ms"]["lower"].as_u64().unwrap_or(0);
            let upper = slo["interval_ms"]["upper"].as_u64().unwrap_or(u64::MAX);
            counts[m][p].0 += u64::from(lower <= t && t <= upper);
            // A threshold 1 ms below the truth passes when the whole interval lies under it.
            counts[m][p].1 += u64::from(upper < t);
        }
    }
    println!(
        "coverage of {suites} suites of {runs} runs at 95 % (true values from {truth_runs} runs):"
    );
    for (m, (name, _)) in METRICS.iter().enumerate() {
        for (p, (pn, _)) in PERCENTILES.iter().enumerate() {
            let (covered, passed) = counts[m][p];
            println!(
                "  {name} {pn}: true {} ms; interval covers it in {:.1} % of suites; a threshold 1 ms below it passes in {:.1} %",
                truths[m][p],
                100.0 * covered as f64 / suites as f64,
                100.0 * passed as f64 / suites as f64
            );
        }
    }
    println!("{:.0} s in all", started.elapsed().as_secs_f64());
}
