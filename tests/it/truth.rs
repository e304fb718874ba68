//! Measurement honesty: every phase the runner reports against the in-process simulated
//! cluster lies within its error bound of the simulator's ground truth.

use chaos_harness::cluster::sim::{Profile, SimCluster, TruthEvent, TruthKind};
use chaos_harness::journal::{Event, Replacement, Victim};
use chaos_harness::runner::{self, StopFlag};
use chaos_harness::scenario::{Phase, load_paths};
use chaos_harness::time::Timestamp;

use crate::root;

struct Run {
    victim: Victim,
    replacement: Replacement,
    fault: Timestamp,
    phases: Vec<(Phase, Timestamp, u64)>,
}

/// A drill's journal, the simulator's truth, and how many failing API answers it injected.
fn drill(file: &str, profile: &str, runs: u32, seed: u64) -> (Vec<Event>, Vec<TruthEvent>, usize) {
    let loaded = load_paths(&[root().join(file)]).unwrap();
    let sc = &loaded[0].scenario;
    let profile = Profile::load(profile).unwrap();
    let mut cluster = SimCluster::new(&profile, seed, Timestamp::from_millis(1_767_225_600_000));
    let mut events: Vec<Event> = Vec::new();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(runner::run_scenario(
            &mut cluster,
            sc,
            runs,
            seed,
            &mut events,
            &StopFlag::default(),
        ))
        .unwrap();
    let failures = cluster
        .injected_api_faults()
        .iter()
        .filter(|f| f.cluster_error().is_some())
        .count();
    (events, cluster.truth().to_vec(), failures)
}

/// The finished runs of a journal, with their victim, replacement and phases.
fn runs_of(events: &[Event]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut victim = None;
    let mut phases = Vec::new();
    for e in events {
        match e {
            Event::VictimsSelected { victims, .. } => victim = victims.first().cloned(),
            Event::PhaseObserved {
                phase,
                at,
                error_ms,
                ..
            } => phases.push((*phase, *at, *error_ms)),
            Event::RunFinished { replacements, .. } => {
                let fault = phases
                    .iter()
                    .find(|p| p.0 == Phase::FaultInjected)
                    .unwrap()
                    .1;
                out.push(Run {
                    victim: victim.take().unwrap(),
                    replacement: replacements[0].clone(),
                    fault,
                    phases: std::mem::take(&mut phases),
                });
            }
            _ => {}
        }
    }
    out
}

/// Asserts that every phase with a truth counterpart lies within its error bound of it;
/// returns how many phases were checked.
pub(crate) fn assert_truthful(events: &[Event], truth: &[TruthEvent], task: &str) -> usize {
    let mut checked = 0;
    for run in &runs_of(events) {
        for &(phase, at, err) in &run.phases {
            if let Some(truth_at) = truth_of(run, phase, truth, task) {
                let off = (at.as_millis() - truth_at.as_millis()).unsigned_abs();
                assert!(
                    off <= err,
                    "{phase}: measured {at} ± {err} ms, truth {truth_at} ({off} ms off)"
                );
                checked += 1;
            }
        }
    }
    checked
}

/// The first truth event at or after the fault that matches.
fn first(
    truth: &[TruthEvent],
    after: Timestamp,
    f: impl Fn(&TruthEvent) -> bool,
) -> Option<Timestamp> {
    truth.iter().find(|t| t.at >= after && f(t)).map(|t| t.at)
}

fn truth_of(run: &Run, phase: Phase, truth: &[TruthEvent], task: &str) -> Option<Timestamp> {
    let v = &run.victim;
    let r = &run.replacement;
    let is = |t: &TruthEvent, kind: TruthKind, subject: Option<&str>| {
        t.kind == kind && subject.is_some_and(|s| t.subject == s)
    };
    let old_agent = v.agent.as_ref().map(|a| a.as_str());
    let new_instance = r.instance.as_ref().map(|a| a.as_str());
    match phase {
        Phase::InstanceTerminated => first(truth, run.fault, |t| {
            is(t, TruthKind::InstanceTerminated, Some(v.instance.as_str()))
                || is(t, TruthKind::InstanceStopped, Some(v.instance.as_str()))
        }),
        Phase::ReplacementLaunched => first(truth, run.fault, |t| {
            is(t, TruthKind::ReplacementLaunchStarted, new_instance)
        }),
        Phase::ReplacementInService => first(truth, run.fault, |t| {
            is(t, TruthKind::ReplacementInService, new_instance)
        }),
        Phase::AgentLost => first(truth, run.fault, |t| {
            is(t, TruthKind::AgentDisconnected, old_agent)
                || is(t, TruthKind::AgentUnreachable, old_agent)
        }),
        Phase::AgentRegistered => first(truth, run.fault, |t| {
            let new_agent = r.agent.as_ref().map(|a| a.as_str());
            is(t, TruthKind::AgentRegistered, new_agent)
                || is(t, TruthKind::AgentReregistered, new_agent)
        }),
        // The pod's task leaves RUNNING: the old task's status changes, or (replaced before
        // the agent was declared lost) a new task takes its place.
        Phase::TaskLost => first(truth, run.fault, |t| {
            let old = v.task.as_ref().map(|x| x.as_str());
            t.kind == TruthKind::TaskStatus
                && t.subject == task
                && (t.id.as_deref() != old || t.state.as_deref() != Some("RUNNING"))
        }),
        Phase::TaskRunning => first(truth, run.fault, |t| {
            t.kind == TruthKind::TaskStatus
                && t.id.as_deref() == r.task.as_ref().map(|x| x.as_str())
                && t.state.as_deref() == Some("RUNNING")
        }),
        Phase::RecoveryComplete => {
            let pod = v.pod.as_ref().unwrap();
            first(truth, run.fault, |t| {
                t.kind == TruthKind::RecoveryStep
                    && t.subject == format!("{pod}:[server]")
                    && t.state.as_deref() == Some("COMPLETE")
            })
        }
        _ => None,
    }
}

fn check(file: &str, profile: &str, runs: u32, seed: u64, task: &str) -> usize {
    let (events, truth, _) = drill(file, profile, runs, seed);
    assert_eq!(runs_of(&events).len(), runs as usize);
    assert_truthful(&events, &truth, task)
}

#[test]
fn reference_drill_phases_lie_within_their_bounds_of_the_truth() {
    let n = check(
        "scenarios/cassandra-node-replace.yaml",
        "default",
        30,
        11,
        "node-4-server",
    );
    // Every phase but the harness's own (fault injection, pod replace) has a truth event.
    assert_eq!(n, 30 * 8);
}

#[test]
fn immediate_replace_on_a_spare_agent_is_measured_truthfully() {
    let n = check(
        "scenarios/cassandra-replace-immediately.yaml",
        "spare-agent",
        20,
        5,
        "node-4-server",
    );
    assert_eq!(n, 20 * 8);
}

#[test]
fn reboot_phases_are_measured_truthfully() {
    let n = check(
        "scenarios/cassandra-agent-reboot.yaml",
        "default",
        20,
        5,
        "node-2-server",
    );
    // agent lost and back, task lost and running again, recovery complete.
    assert_eq!(n, 20 * 5);
}

#[test]
fn a_flaky_cluster_is_ridden_out_and_still_measured_truthfully() {
    let (events, truth, injected) = drill("scenarios/cassandra-node-replace.yaml", "flaky", 20, 3);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Aborted { .. })),
        "a 20 % fault rate must not abort the suite"
    );
    assert_eq!(runs_of(&events).len(), 20);
    // Every failed answer the simulator gave is in the journal as ridden out.
    let ridden = events
        .iter()
        .filter(|e| matches!(e, Event::ApiError { .. }))
        .count();
    assert!(injected > 100, "only {injected} faults injected");
    assert_eq!(ridden, injected);
    // Polls that failed only widen the brackets: every phase still holds the truth.
    assert_eq!(assert_truthful(&events, &truth, "node-4-server"), 20 * 8);
    // The fault was never sent twice in a run: one terminate per run reached the world.
    let terminates = truth
        .iter()
        .filter(|t| t.kind == TruthKind::FaultInjected)
        .count();
    assert_eq!(terminates, 20);
}
