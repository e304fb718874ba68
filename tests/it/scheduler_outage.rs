//! Issue 11 item 3 (the runner's part): a scheduler that cannot take `pod replace` for
//! minutes (Admin Router's 502 while Marathon relaunches it) is ridden out until the run's
//! deadlines, not for a fixed number of tries; the replace is still issued once it answers, and
//! every phase is still measured within its bound.

use std::path::Path;

use chaos_harness::cluster::sim::{Profile, SimCluster};
use chaos_harness::journal::Event;
use chaos_harness::scenario::load_paths;
use chaos_harness::time::{Dur, Timestamp};
use chaos_harness::vocab::Phase;

use crate::truth::{assert_truthful, run_in_process};
use crate::{root, scenario};

#[test]
fn a_replace_is_ridden_out_through_a_long_scheduler_outage() {
    const RUNS: u32 = 12;
    let default = std::fs::read_to_string(root().join("profiles/default.yaml")).unwrap();
    // Scheduler routes answer 502 for 3 minutes in every 10; Mesos keeps answering, so the
    // new agent's registration (the heal's trigger) is seen in the middle of an outage too.
    let text = format!("{default}api_faults:\n  scheduler_outage: {{every: 10m, lasting: 3m}}\n");
    let profile = Profile::parse_bytes(text.as_bytes(), Path::new("outage.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read_to_string(root().join("scenarios/cassandra-node-replace.yaml"))
        .unwrap()
        .replace(
            "heal: replace-on-task-lost",
            "heal: replace-after-agent-registered",
        );
    let file = scenario(dir.path(), "outage", &body);
    let sc = load_paths(&[file]).unwrap().remove(0).scenario;
    let mut cluster = SimCluster::at_epoch(&profile, 3);
    let mut events = Vec::new();
    run_in_process(&mut cluster, &sc, RUNS, 3, &mut events);
    assert!(!events.iter().any(|e| matches!(e, Event::Aborted { .. })));
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::RunFinished { failures, .. } if failures.is_empty()))
        .count();
    assert_eq!(finished, RUNS as usize, "every run healed in time");
    assert_eq!(assert_truthful(&events, cluster.truth()), 9 * RUNS as usize);

    // The old runner gave up after 8 tries a poll apart (40 s): some replace here waited
    // longer than that for the scheduler, and the waits were journaled as ridden out.
    let mut longest = Dur::from_millis(0);
    for run in 1..=RUNS {
        let at = |p: Phase| {
            events.iter().find_map(|e| match e {
                Event::PhaseObserved {
                    run: r, phase, at, ..
                } if *r == run && *phase == p => Some(*at),
                _ => None,
            })
        };
        let (registered, replaced) = (
            at(Phase::AgentRegistered).unwrap(),
            at(Phase::PodReplaceIssued).unwrap(),
        );
        let ridden = |from: Timestamp, to: Timestamp| {
            events
                .iter()
                .filter(|e| matches!(e, Event::ApiError { run: r, at, .. } if *r == run && from <= *at && *at <= to))
                .count()
        };
        let waited = replaced.since(registered);
        if waited > Dur::from_secs(40) {
            assert!(ridden(registered, replaced) > 8, "run {run}: {waited}");
        }
        longest = longest.max(waited);
    }
    assert!(
        longest > Dur::from_secs(40),
        "no replace met the outage: {longest}"
    );
}
