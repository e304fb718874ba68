//! Coverage of the SLO confidence intervals (issue 12): over many seeded suites of a few runs
//! of the reference drill, how often the interval a report gives for a percentile contains the
//! true percentile, and how often a threshold just below the true value would pass.
//!
//! `cargo bench --bench coverage -- [--suites N] [--runs R] [--truth T]` (defaults 1000 suites
//! of 20 runs, truth from 1 000 000 runs). The true percentiles are the order statistics of T
//! runs of the same drill (seed 7, metrics taken from the journal as it streams by, nothing
//! kept but the two metrics); each suite has its own seed (1000, 1001, …). Prints coverage per
//! metric and percentile; docs/BENCHMARKS.md holds the figures.
//!
//! `-- --until-decided` instead judges suites of `runs: {max: R, until: decided}` whose four
//! SLOs sit 1 ms below the true values: how often each passes when the suite stops, and how
//! often it passed at any look (an upper bound for any stopping rule). `-- --to-decision`
//! counts the runs `until: decided` needs for `time_to_cassandra_running p90 ≤ 20m` (max R;
//! `--threshold-s S` for another threshold), next to the runs a fixed count needs for a pass
//! at the same confidence and how often that many pass.

use std::path::PathBuf;
use std::time::Instant;

use chaos_harness::cluster::sim::Profile;
use chaos_harness::journal::{Event, Sink};
use chaos_harness::runner::StopFlag;
use chaos_harness::runner::suite::{SimClusters, SuitePlan, run_suite};
use chaos_harness::scenario::load_paths;
use chaos_harness::scenario::parse::Loaded;
use chaos_harness::vocab::Target;

#[path = "../tests/support/headline.rs"]
mod headline;
use headline::{Headline, METRICS};

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
    with_slos(
        "slos:\n  time_to_asg_replacement: {p50: 5m, p90: 8m, min_runs: 1}\n  time_to_cassandra_running: {p50: 18m, p90: 25m, min_runs: 1}\n",
    )
}

/// The reference scenario with `slos` (a YAML block, `runs` possibly in it) for its SLOs and
/// run count (10 without `runs`).
fn with_slos(slos: &str) -> Loaded {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cassandra-node-replace.yaml");
    let mut yaml = std::fs::read_to_string(&path).expect("the reference scenario");
    let slos_at = yaml.find("slos:").expect("the reference scenario has SLOs");
    let runs_at = slos_at + yaml[slos_at..].find("\nruns:").expect("a run count") + 1;
    let runs_end = yaml[runs_at..]
        .find('\n')
        .map_or(yaml.len(), |i| runs_at + i + 1);
    yaml.replace_range(slos_at..runs_end, slos);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("coverage.yaml");
    std::fs::write(&file, yaml).expect("scenario written");
    load_paths(&[file])
        .expect("the coverage scenario is valid")
        .remove(0)
}

fn suite(l: &Loaded, runs: Option<u32>, seed: u64, sink: &mut dyn Sink) {
    let plan = SuitePlan::fresh(vec![l.clone()], Target::Sim, seed, runs, None);
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

/// The report of a suite's events as JSON.
fn report_json(events: &[Event]) -> serde_json::Value {
    let report = chaos_harness::report::build(events, false);
    serde_json::from_str(&chaos_harness::report::json::render(&report)).unwrap()
}

/// Each SLO's `(metric index, percentile index, slo)` of a report.
fn slos(json: &serde_json::Value) -> Vec<(usize, usize, serde_json::Value)> {
    json["scenarios"][0]["slos"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|slo| {
            let m = METRICS.iter().position(|(n, _)| slo["metric"] == *n)?;
            let p = PERCENTILES
                .iter()
                .position(|(n, _)| slo["percentile"] == *n)?;
            Some((m, p, slo.clone()))
        })
        .collect()
}

/// The true p50 and p90 of both metrics, in ms, from `runs` runs (seed 7).
fn truths(runs: u32) -> Vec<Vec<u64>> {
    let mut truth = Headline::default();
    suite(&reference(), Some(runs), 7, &mut truth);
    truth
        .values
        .iter_mut()
        .map(|v| {
            v.sort_unstable();
            PERCENTILES
                .iter()
                .map(|(_, q)| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1])
                .collect()
        })
        .collect()
}

/// Fixed-count suites: how often the interval holds the truth, and a threshold 1 ms below the
/// truth passes.
fn fixed(suites: u64, runs: u32, truths: &[Vec<u64>]) {
    let l = reference();
    // [metric][percentile] → (covered, passes just below the truth)
    let mut counts = [[(0u64, 0u64); 2]; 2];
    for s in 0..suites {
        let mut events: Vec<Event> = Vec::new();
        suite(&l, Some(runs), 1000 + s, &mut events);
        for (m, p, slo) in slos(&report_json(&events)) {
            let t = truths[m][p];
            let lower = slo["interval_ms"]["lower"].as_u64().unwrap_or(0);
            let upper = slo["interval_ms"]["upper"].as_u64().unwrap_or(u64::MAX);
            counts[m][p].0 += u64::from(lower <= t && t <= upper);
            // A threshold 1 ms below the truth passes when the whole interval lies under it.
            counts[m][p].1 += u64::from(upper < t);
        }
    }
    println!("coverage of {suites} suites of {runs} runs at 95 %:");
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
}

/// `until: decided` suites whose four SLOs sit 1 ms below the truth: how often each passes
/// when the suite stops, and how often it passed at any look.
fn until_decided(suites: u64, max: u32, truths: &[Vec<u64>]) {
    let slo = |m: usize| {
        format!(
            "  {}: {{p50: {}ms, p90: {}ms, min_runs: 1}}\n",
            METRICS[m].0,
            truths[m][0] - 1,
            truths[m][1] - 1
        )
    };
    let l = with_slos(&format!(
        "slos:\n{}{}runs: {{max: {max}, until: decided}}\n",
        slo(0),
        slo(1)
    ));
    // [metric][percentile] → (passes at the end, passes at some look)
    let mut counts = [[(0u64, 0u64); 2]; 2];
    let mut runs_made = 0;
    for s in 0..suites {
        let mut events: Vec<Event> = Vec::new();
        suite(&l, None, 1000 + s, &mut events);
        let mut ever = [[false; 2]; 2];
        for (end, _) in events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Event::RunFinished { .. }))
        {
            runs_made += 1;
            for (m, p, slo) in slos(&report_json(&events[..=end])) {
                ever[m][p] |= slo["verdict"] == "pass";
            }
        }
        for (m, p, slo) in slos(&report_json(&events)) {
            counts[m][p].0 += u64::from(slo["verdict"] == "pass");
            counts[m][p].1 += u64::from(ever[m][p]);
        }
    }
    println!(
        "{suites} suites of `runs: {{max: {max}, until: decided}}` ({runs_made} runs), each SLO 1 ms below the truth:"
    );
    for (m, (name, _)) in METRICS.iter().enumerate() {
        for (p, (pn, _)) in PERCENTILES.iter().enumerate() {
            let (end, ever) = counts[m][p];
            println!(
                "  {name} {pn} ≤ {} ms: passes at the stop in {:.1} % of suites, at some look in {:.1} %",
                truths[m][p] - 1,
                100.0 * end as f64 / suites as f64,
                100.0 * ever as f64 / suites as f64
            );
        }
    }
}

/// The runs `until: decided` needs for `time_to_cassandra_running p90 ≤ threshold`, and a
/// fixed count's.
fn to_decision(suites: u64, max: u32, threshold_s: u64) {
    let slo = format!("slos:\n  time_to_cassandra_running: {{p90: {threshold_s}s, min_runs: 1}}\n");
    let sequential = with_slos(&format!("{slo}runs: {{max: {max}, until: decided}}\n"));
    let mut needed: Vec<u64> = Vec::new();
    let mut verdicts = std::collections::BTreeMap::new();
    for s in 0..suites {
        let mut events: Vec<Event> = Vec::new();
        suite(&sequential, None, 1000 + s, &mut events);
        let json = report_json(&events);
        let sc = &json["scenarios"][0];
        needed.push(sc["runs_finished"].as_u64().unwrap());
        *verdicts
            .entry(format!("{} ({})", sc["verdict"], sc["stopped"]))
            .or_insert(0) += 1;
    }
    needed.sort_unstable();
    let at =
        |q: f64| needed[((q * needed.len() as f64).ceil() as usize).clamp(1, needed.len()) - 1];
    println!(
        "`until: decided`, time_to_cassandra_running p90 ≤ {threshold_s}s, {suites} suites: runs needed median {}, p90 {}, min {}, max {}; verdicts {verdicts:?}",
        at(0.5),
        at(0.9),
        needed[0],
        needed[needed.len() - 1]
    );
    // A fixed count: the runs a pass needs at least (one run's report says), and how often
    // that many decide.
    let fixed = with_slos(&format!("{slo}runs: 1\n"));
    let mut events: Vec<Event> = Vec::new();
    suite(&fixed, None, 999, &mut events);
    let n = report_json(&events)["scenarios"][0]["slos"][0]["runs_needed"]
        .as_u64()
        .unwrap();
    let fixed = with_slos(&format!("{slo}runs: {n}\n"));
    let mut passed = 0;
    for s in 0..suites {
        let mut events: Vec<Event> = Vec::new();
        suite(&fixed, None, 1000 + s, &mut events);
        passed += u64::from(report_json(&events)["scenarios"][0]["verdict"] == "pass");
    }
    println!(
        "fixed count: a pass needs at least {n} runs; {suites} suites of {n} runs pass in {:.1} %",
        100.0 * passed as f64 / suites as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let (suites, truth_runs) = (arg("--suites", 1000), arg("--truth", 1_000_000) as u32);
    let started = Instant::now();
    if flag("--to-decision") {
        to_decision(
            suites,
            arg("--runs", 200) as u32,
            arg("--threshold-s", 1200),
        );
    } else {
        let truths = truths(truth_runs);
        println!(
            "truth: {truth_runs} runs in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        if flag("--until-decided") {
            until_decided(suites, arg("--runs", 60) as u32, &truths);
        } else {
            fixed(suites, arg("--runs", 20) as u32, &truths);
        }
    }
    println!("{:.0} s in all", started.elapsed().as_secs_f64());
}
