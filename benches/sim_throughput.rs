//! Simulated drills per second: the reference scenario (`scenarios/cassandra-node-replace.yaml`)
//! against the in-process simulated cluster, journal events collected in memory.
//!
//! `cargo bench --bench sim_throughput [-- RUNS]` (default 2000 runs). Prints runs/s; the
//! figure and the machine it was measured on are in docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::time::Instant;

use chaos_harness::cluster::sim::{Profile, SimCluster};
use chaos_harness::journal::Event;
use chaos_harness::runner::{self, StopFlag};
use chaos_harness::scenario::load_paths;
use chaos_harness::time::Timestamp;

fn main() {
    let runs: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cassandra-node-replace.yaml");
    let loaded = load_paths(&[path]).expect("the reference scenario is valid");
    let scenario = &loaded[0].scenario;
    let profile = Profile::default_profile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut events: Vec<Event> = Vec::with_capacity(runs as usize * 16);
    let start = Instant::now();
    rt.block_on(async {
        let mut cluster = SimCluster::new(&profile, 42, Timestamp::from_millis(1_767_225_600_000));
        runner::run_scenario(
            &mut cluster,
            scenario,
            runs,
            42,
            &mut events,
            &StopFlag::default(),
        )
        .await
        .expect("the reference drill runs");
    });
    let secs = start.elapsed().as_secs_f64();
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::RunFinished { .. }))
        .count();
    assert_eq!(finished, runs as usize);
    println!(
        "sim_throughput: {runs} runs of {} in {:.3} s = {:.0} runs/s (single thread, {} events)",
        scenario.name,
        secs,
        f64::from(runs) / secs,
        events.len()
    );
}
