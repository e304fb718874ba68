//! Simulated drills per second: the reference scenario (`scenarios/cassandra-node-replace.yaml`)
//! against the in-process simulated cluster, journal events collected in memory.
//!
//! `cargo bench --bench sim_throughput [-- RUNS] [--threads N]` (default 2000 runs, 1 thread).
//! With N threads the runs are split into N independent suites, one per thread, each with its
//! own simulated cluster and seed (42, 43, …): every suite is deterministic for its seed, which
//! the bench checks by running the first one again alone and comparing the journals. Prints
//! runs/s; the figures and the machine they were measured on are in docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::time::Instant;

use chaos_harness::cluster::sim::{Profile, SimCluster};
use chaos_harness::journal::Event;
use chaos_harness::runner::{self, StopFlag};
use chaos_harness::scenario::{Scenario, load_paths};

/// One suite of `runs` runs on its own cluster, seeded `seed`; its journal.
fn suite(scenario: &Scenario, profile: &Profile, runs: u32, seed: u64) -> Vec<Event> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut events: Vec<Event> = Vec::with_capacity(runs as usize * 16);
    rt.block_on(async {
        // As `run` simulates: without the truth log only tests and `sim serve` read.
        let mut cluster = SimCluster::at_epoch(profile, seed).without_truth();
        runner::run_scenario(
            &mut cluster,
            scenario,
            runs,
            seed,
            &mut events,
            &StopFlag::default(),
        )
        .await
        .expect("the reference drill runs");
    });
    events
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads_at = args.iter().position(|a| a == "--threads");
    let threads: u32 = threads_at
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1)
        .max(1);
    // The run count: the first number that is not the value of `--threads`.
    let runs: u32 = args
        .iter()
        .enumerate()
        .filter(|(i, _)| threads_at.is_none_or(|t| *i != t + 1))
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(2000);
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cassandra-node-replace.yaml");
    let loaded = load_paths(&[path]).expect("the reference scenario is valid");
    let scenario = &loaded[0].scenario;
    let profile = Profile::default_profile();
    let share = runs / threads;
    let start = Instant::now();
    let journals: Vec<Vec<Event>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let n = share + u32::from(i < runs % threads);
                let profile = &profile;
                s.spawn(move || suite(scenario, profile, n, 42 + u64::from(i)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let finished = journals
        .iter()
        .flatten()
        .filter(|e| matches!(e, Event::RunFinished { .. }))
        .count();
    assert_eq!(finished, runs as usize);
    println!(
        "sim_throughput: {runs} runs of {} in {:.3} s = {:.0} runs/s ({threads} thread{}, {} events)",
        scenario.name,
        secs,
        f64::from(runs) / secs,
        if threads == 1 { "" } else { "s" },
        journals.iter().map(Vec::len).sum::<usize>()
    );
    if threads > 1 {
        let first = share + u32::from(!runs.is_multiple_of(threads));
        let alone = suite(scenario, &profile, first, 42);
        assert!(
            alone == journals[0],
            "seed 42 gave another journal alone than beside other threads"
        );
        println!("determinism: seed 42's suite alone gives the same journal");
    }
}
