//! The fit round trip (issue 12 item 3): journals of a few runs simulated with a profile X →
//! `profile fit` → X'; many runs with X' against as many with X on both headline metrics:
//! p50 and p90 within 5 %, two-sample KS distance under 0.05.
//!
//! `cargo bench --bench fit_roundtrip -- [--fits K] [--sample S] [--runs N]` (defaults 10 fits
//! of 200 runs each, 10 000 runs per side; X = `default`). X's N runs use seed 7; fit k records
//! its S runs with seed 100 + k and predicts with seed 200 + k. Prints each fit's figures and
//! how many fits meet all three criteria, and beside each how far the runs the fit saw are
//! from X already (p50, KS); docs/BENCHMARKS.md holds the figures.

use std::path::Path;

use chaos_harness::cluster::sim::Profile;
use chaos_harness::journal::{JournalWriter, Sink};
use chaos_harness::measure::ks;
use chaos_harness::runner::StopFlag;
use chaos_harness::runner::suite::{SimClusters, SuitePlan, run_suite};
use chaos_harness::scenario::load_paths;
use chaos_harness::scenario::parse::Loaded;
use chaos_harness::vocab::Target;

#[path = "../tests/support/headline.rs"]
mod headline;
use headline::{Headline, METRICS};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn suite(l: &Loaded, profile: &Profile, runs: u32, seed: u64, sink: &mut dyn Sink) {
    let plan = SuitePlan::fresh(vec![l.clone()], Target::Sim, seed, Some(runs), None);
    let profiles = [profile.clone()];
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

fn headline(l: &Loaded, profile: &Profile, runs: u32, seed: u64) -> [Vec<u64>; 2] {
    let mut h = Headline::default();
    suite(l, profile, runs, seed, &mut h);
    h.values.map(|mut v| {
        v.sort_unstable();
        v
    })
}

fn quantile(sorted: &[u64], q: f64) -> f64 {
    sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1] as f64
}

/// Records `runs` runs on `default` into `dir`'s journal and fits a profile to them.
fn fitted(l: &Loaded, runs: u32, seed: u64, dir: &Path) -> Profile {
    let mut journal = JournalWriter::open(dir).expect("journal");
    suite(l, &Profile::default_profile(), runs, seed, &mut journal);
    let outcome =
        chaos_harness::fit::fit_reports(&[dir.to_path_buf()], "default").expect("the fit");
    Profile::parse_bytes(outcome.yaml.as_bytes(), &dir.join("fitted.yaml"))
        .expect("the fitted profile is valid")
}

fn main() {
    let (fits, sample, runs) = (
        arg("--fits", 10),
        arg("--sample", 200) as u32,
        arg("--runs", 10_000) as u32,
    );
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/cassandra-node-replace.yaml");
    let l = load_paths(&[path])
        .expect("the reference scenario")
        .remove(0);
    let started = std::time::Instant::now();
    let truth = headline(&l, &Profile::default_profile(), runs, 7);
    println!("X = default: {runs} runs; each fit: {sample} runs on X → profile fit → {runs} runs");
    let mut good = 0;
    for k in 0..fits {
        let dir = tempfile::tempdir().expect("temp dir");
        let profile = fitted(&l, sample, 100 + k, dir.path());
        let model = headline(&l, &profile, runs, 200 + k);
        // The fit's own data (the same seed gives the same runs): how far the 200 runs it saw
        // already are from X, which no fit can undo.
        let seen = headline(&l, &Profile::default_profile(), sample, 100 + k);
        let mut all = true;
        let mut line = format!("fit {k}:");
        for (i, (name, _)) in METRICS.iter().enumerate() {
            let mut rel = Vec::new();
            for q in [0.5, 0.9] {
                let (t, m) = (quantile(&truth[i], q), quantile(&model[i], q));
                rel.push((m - t) / t);
            }
            let d = ks::two_sample(&truth[i], &model[i]);
            all &= rel.iter().all(|r| r.abs() < 0.05) && d < 0.05;
            line.push_str(&format!(
                " {name} p50 {:+.1}% p90 {:+.1}% KS {d:.3} (its {sample} runs: p50 {:+.1}%, KS {:.3});",
                rel[0] * 100.0,
                rel[1] * 100.0,
                (quantile(&seen[i], 0.5) / quantile(&truth[i], 0.5) - 1.0) * 100.0,
                ks::two_sample(&truth[i], &seen[i])
            ));
        }
        good += u64::from(all);
        println!("{line} {}", if all { "ok" } else { "MISSED" });
    }
    for (i, (name, _)) in METRICS.iter().enumerate() {
        println!(
            "X {name}: p50 {:.1} s, p90 {:.1} s",
            quantile(&truth[i], 0.5) / 1000.0,
            quantile(&truth[i], 0.9) / 1000.0
        );
    }
    println!(
        "{good} of {fits} fits within 5 % on p50 and p90 and under KS 0.05 on both metrics ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
}
