//! Issue 11 item 2: replacing a Cassandra seed (`node-0`, `node-1`) makes the scheduler restart
//! every other node in place, one at a time. Those restarts are the run's own recovery, not
//! collateral damage: random victims, seeds included, never abort the suite, and the restart
//! span (`ring_restarted`) is measured within its bound of the simulator's truth, in-process
//! and through `sim serve` with the aws backend.

use chaos_harness::cluster::Cluster;
use chaos_harness::cluster::sim::{Profile, SimCluster};
use chaos_harness::journal::{self, Event};
use chaos_harness::scenario::load_paths;
use chaos_harness::verify;

use crate::aws_e2e::{Server, fast_drill};
use crate::truth::{assert_truthful, run_in_process};
use crate::{read_json, root, scenario};

/// The reference drill aimed at a random private agent of the group.
fn random_drill(dir: &std::path::Path) -> std::path::PathBuf {
    let body = std::fs::read_to_string(root().join("scenarios/cassandra-node-replace.yaml"))
        .unwrap()
        .replace("  pod: node-4", "  random: private-agent");
    scenario(dir, "random-drill", &body)
}

/// The victim's pod of each run, in run order.
fn victim_pods(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::VictimsSelected { victims, .. } => {
                let v = serde_json::to_value(&victims[0]).unwrap();
                Some(v["pod"].as_str().unwrap_or_default().to_string())
            }
            _ => None,
        })
        .collect()
}

/// The runs (in order) in which `phase` was reported.
fn runs_with(events: &[Event], phase: &str) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PhaseObserved { run, phase: p, .. } if p.to_string() == phase => Some(*run),
            _ => None,
        })
        .collect()
}

#[test]
fn random_victims_seeds_included_never_abort_and_the_ring_restart_is_measured_truthfully() {
    const RUNS: u32 = 100;
    let dir = tempfile::tempdir().unwrap();
    let sc = load_paths(&[random_drill(dir.path())]).unwrap()[0]
        .scenario
        .clone();
    let mut cluster = SimCluster::at_epoch(&Profile::default_profile(), 17);
    let mut events: Vec<Event> = Vec::new();
    run_in_process(&mut cluster, &sc, RUNS, 17, &mut events);

    assert!(
        !events.iter().any(|e| matches!(e, Event::Aborted { .. })),
        "no false abort"
    );
    let failed: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::RunFinished { failures, .. } if !failures.is_empty()))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let pods = victim_pods(&events);
    assert_eq!(pods.len(), RUNS as usize);
    let seeds: Vec<u32> = (1..=RUNS)
        .filter(|r| matches!(pods[*r as usize - 1].as_str(), "node-0" | "node-1"))
        .collect();
    assert!(
        (25..=55).contains(&seeds.len()),
        "about 2 in 5 victims are seeds: {}",
        seeds.len()
    );
    // The ring restart is measured exactly when a seed was replaced; every run measures its
    // own victim's time to RUNNING.
    assert_eq!(runs_with(&events, "ring_restarted"), seeds);
    assert_eq!(runs_with(&events, "task_running").len(), RUNS as usize);
    // Every phase, the ring restart included, lies within its bound of the truth.
    assert_truthful(&events, cluster.truth());
    let acc = verify::check(&events, cluster.truth());
    let ring = acc
        .checks
        .iter()
        .filter(|c| c.phase.to_string() == "ring_restarted")
        .count();
    assert_eq!(
        ring,
        seeds.len(),
        "every ring restart checked against the truth"
    );
    // The cluster ends where it started: every pod RUNNING.
    let statuses = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(cluster.pod_statuses("cassandra"))
        .unwrap();
    assert_eq!(statuses.len(), 5);
    for p in statuses {
        let state = p.task("server").and_then(|t| t.state);
        assert_eq!(format!("{state:?}"), "Some(Running)", "{}", p.name);
    }
}

#[test]
fn a_seed_replaced_through_sim_serve_restarts_the_ring_and_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let body = std::fs::read_to_string(fast_drill(dir.path()))
        .unwrap()
        .replace("pod: node-4", "pod: node-0");
    let file = scenario(dir.path(), "seed-drill", &body);
    let out = dir.path().join("report");
    let output = server
        .harness(dir.path())
        .args([
            "run", "--target", "aws", "--yes", "--runs", "1", "--seed", "3",
        ])
        .arg("--out")
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // One run decides no p99: inconclusive, and nothing aborted.
    assert_eq!(output.status.code(), Some(3), "{stderr}");

    let r = read_json(&out.join("report.json"));
    let sc = &r["scenarios"][0];
    assert_eq!(sc["runs_finished"], 1, "{sc}");
    assert_eq!(sc["metrics"]["time_to_ring_restarted"]["count"], 1);
    assert_eq!(sc["metrics"]["time_to_cassandra_running"]["count"], 1);
    let events = journal::read(&out).unwrap().events;
    assert_eq!(runs_with(&events, "ring_restarted"), [1]);
    // The truth log of `sim serve` carries the ring's end: it is checked like every phase.
    let acc = verify::check(&events, &server.truth());
    assert!(
        acc.checks
            .iter()
            .any(|c| c.phase.to_string() == "ring_restarted"),
        "{}",
        acc.render()
    );
    assert_eq!(assert_truthful(&events, &server.truth()), 10);
}
