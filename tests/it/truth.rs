//! Measurement honesty: every phase the runner reports against the in-process simulated
//! cluster lies within its error bound of the simulator's ground truth.

use std::path::PathBuf;

use chaos_harness::cluster::Cluster;
use chaos_harness::cluster::sim::{Profile, SimCluster, TruthEvent, TruthKind};
use chaos_harness::journal::Event;
use chaos_harness::runner::StopFlag;
use chaos_harness::runner::suite::{SuitePlan, run_suite};
use chaos_harness::scenario::parse::Loaded;
use chaos_harness::scenario::{Scenario, load_paths};
use chaos_harness::verify;

use crate::root;

/// Runs `runs` runs of `sc` on `cluster` on a current-thread runtime as a suite of its own,
/// appending the journal (as `run` writes it) to `events`; the suite must not fail.
pub(crate) fn run_in_process<C: Cluster>(
    cluster: &mut C,
    sc: &Scenario,
    runs: u32,
    seed: u64,
    events: &mut Vec<Event>,
) {
    let loaded = Loaded {
        path: PathBuf::from(format!("scenarios/{}.yaml", sc.name)),
        scenario: sc.clone(),
    };
    let plan = SuitePlan::fresh(vec![loaded], cluster.target(), seed, Some(runs), None);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(run_suite(
            &plan,
            &mut &mut *cluster,
            events,
            &StopFlag::default(),
        ))
        .unwrap();
}

/// A drill's journal, the simulator's truth, and how many failing API answers it injected.
fn drill(file: &str, profile: &str, runs: u32, seed: u64) -> (Vec<Event>, Vec<TruthEvent>, usize) {
    let loaded = load_paths(&[root().join(file)]).unwrap();
    let sc = &loaded[0].scenario;
    let profile = Profile::load(profile).unwrap();
    let mut cluster = SimCluster::at_epoch(&profile, seed);
    let mut events: Vec<Event> = Vec::new();
    run_in_process(&mut cluster, sc, runs, seed, &mut events);
    let failures = cluster
        .injected_api_faults()
        .iter()
        .filter(|f| f.cluster_error().is_some())
        .count();
    (events, cluster.truth().to_vec(), failures)
}

/// The finished runs of a journal.
fn runs_of(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::RunFinished { .. }))
        .count()
}

/// Asserts that every phase with a truth counterpart lies within its error bound of it
/// (`chaos-harness verify-truth`'s check); returns how many phases were checked.
pub(crate) fn assert_truthful(events: &[Event], truth: &[TruthEvent]) -> usize {
    let acc = verify::check(events, truth);
    assert!(acc.all_inside(), "{}", acc.render());
    acc.checks.len()
}

fn check(file: &str, profile: &str, runs: u32, seed: u64) -> usize {
    let (events, truth, _) = drill(file, profile, runs, seed);
    assert_eq!(runs_of(&events), runs as usize);
    assert_truthful(&events, &truth)
}

#[test]
fn reference_drill_phases_lie_within_their_bounds_of_the_truth() {
    let n = check("scenarios/cassandra-node-replace.yaml", "default", 30, 11);
    // Every phase but the harness's own (fault injection, pod replace) has a truth event.
    assert_eq!(n, 30 * 9);
}

#[test]
fn immediate_replace_on_a_spare_agent_is_measured_truthfully() {
    let n = check(
        "scenarios/cassandra-replace-immediately.yaml",
        "spare-agent",
        20,
        5,
    );
    assert_eq!(n, 20 * 9);
}

#[test]
fn reboot_phases_are_measured_truthfully() {
    let n = check("scenarios/cassandra-agent-reboot.yaml", "default", 20, 5);
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
    assert_eq!(runs_of(&events), 20);
    // Every failed answer the simulator gave is in the journal as ridden out.
    let ridden = events
        .iter()
        .filter(|e| matches!(e, Event::ApiError { .. }))
        .count();
    assert!(injected > 100, "only {injected} faults injected");
    assert_eq!(ridden, injected);
    // Polls that failed only widen the brackets: every phase still holds the truth.
    assert_eq!(assert_truthful(&events, &truth), 20 * 9);
    // The fault was never sent twice in a run: one terminate per run reached the world.
    let terminates = truth
        .iter()
        .filter(|t| t.kind == TruthKind::FaultInjected)
        .count();
    assert_eq!(terminates, 20);
}

/// Issue 13: a group that keeps no scaling activities and replaces a member within seconds.
/// `replacement_in_service` has no server stamp: it is a polled phase, polled densely from
/// the first run on; no bound leans on the simulator's usual timings.
#[test]
fn without_scaling_activities_an_instant_replacement_is_polled_densely_from_the_first_run() {
    polled_phases_are_timed_to_half_a_poll("profiles/instant-replacement.yaml");
}

/// Issue 13: the same world, with a recovery that completes within a second of RUNNING: the
/// task's RUNNING is awaited densely so that the plan's bracket starts in time.
#[test]
fn a_recovery_a_second_after_running_is_timed_to_half_a_poll_from_the_first_run() {
    polled_phases_are_timed_to_half_a_poll("profiles/instant-recovery.yaml");
}

/// Every poll-bracketed phase of the reference drill, polled every second under the default
/// request budget (which a 1 s poll raises to 120 a minute per service: the victim's pod
/// awaiting RUNNING, then the recovery plan, are read densely one after the other), on
/// `profile` is bounded to half a poll, in every run; the truth lies in every bound.
fn polled_phases_are_timed_to_half_a_poll(profile: &str) {
    use chaos_harness::measure::Source;
    use chaos_harness::time::Dur;

    const RUNS: u32 = 4;
    let mut sc = load_paths(&[root().join("scenarios/cassandra-node-replace.yaml")]).unwrap()[0]
        .scenario
        .clone();
    let poll = 1;
    sc.poll_interval = Dur::from_secs(poll);
    sc.max_poll_interval = None; // 30 s
    assert_eq!(sc.max_requests_per_minute, None);
    assert_eq!(sc.request_budget(), 120);
    let profile = root().join(profile);
    let profile = Profile::load(profile.to_str().unwrap()).unwrap();
    let mut cluster = SimCluster::at_epoch(&profile, 13);
    let mut events: Vec<Event> = Vec::new();
    run_in_process(&mut cluster, &sc, RUNS, 13, &mut events);
    assert_eq!(runs_of(&events), RUNS as usize);
    assert_eq!(assert_truthful(&events, cluster.truth()), 9 * RUNS as usize);

    // Half the poll interval, plus the calls' own time on the simulator's clock.
    let goal = poll * 500 + 50;
    let mut in_service = 0;
    for e in &events {
        let Event::PhaseObserved {
            run,
            phase,
            error_ms,
            source,
            ..
        } = e
        else {
            continue;
        };
        let polled = matches!(
            source,
            Source::PollEc2 | Source::PollAutoScaling | Source::PollMesos | Source::PollScheduler
        );
        if polled {
            let journal: Vec<String> = events
                .iter()
                .filter_map(|e| match e {
                    Event::PhaseObserved {
                        run: r,
                        phase,
                        at,
                        error_ms,
                        source,
                        ..
                    } if r == run => Some(format!("{phase:?} {at} ± {error_ms} {source:?}")),
                    Event::ApiError { run: r, at, .. } if r == run => {
                        Some(format!("api error at {at}"))
                    }
                    _ => None,
                })
                .collect();
            assert!(
                *error_ms <= goal,
                "run {run}: {phase:?} ± {error_ms} ms by {source:?}, more than ± {goal} ms:\n{}",
                journal.join("\n")
            );
        }
        if format!("{phase:?}") == "ReplacementInService" {
            assert_eq!(*source, Source::PollAutoScaling, "run {run}: no activities");
            in_service += 1;
        }
    }
    assert_eq!(in_service, RUNS);
}

/// Issue 13: an ASG-only drill on a group that replaces a member within seconds and keeps no
/// scaling activities, polled every second, under the default request budget (120 a minute
/// per service at a 1 s poll: a run asks Auto Scaling about 6 times, so the runs are spread
/// by the budget, which waits before a run rather than in it). Each run ends within a poll of its last
/// awaited phase, steady state is verified at its start, a run takes seconds of the cluster's
/// clock, and every polled phase is timed to half a poll from the first run on. (Wall clock
/// through `sim serve`: docs/BENCHMARKS.md §2.)
#[test]
fn an_asg_only_run_on_an_instant_group_ends_within_a_poll_of_its_last_phase() {
    use chaos_harness::measure::Source;
    use chaos_harness::time::{Dur, Timestamp};

    const RUNS: u32 = 20;
    let mut sc = load_paths(&[root().join("scenarios/asg-terminate-only.yaml")]).unwrap()[0]
        .scenario
        .clone();
    sc.poll_interval = Dur::from_secs(1);
    assert_eq!(sc.request_budget(), 120);
    let profile = root().join("profiles/instant-replacement.yaml");
    let profile = Profile::load(profile.to_str().unwrap()).unwrap();
    let mut cluster = SimCluster::at_epoch(&profile, 13);
    let mut events: Vec<Event> = Vec::new();
    run_in_process(&mut cluster, &sc, RUNS, 13, &mut events);
    assert_eq!(runs_of(&events), RUNS as usize);
    // Terminated, launched, in service: every one with its truth, inside its bound.
    assert_eq!(assert_truthful(&events, cluster.truth()), 3 * RUNS as usize);

    let (mut started, mut last_phase) = (None, None::<Timestamp>);
    for e in &events {
        match e {
            Event::RunStarted { at, .. } => (started, last_phase) = (Some(*at), None),
            Event::PhaseObserved {
                run,
                phase,
                at,
                error_ms,
                source,
                ..
            } => {
                let phase = format!("{phase:?}");
                if phase == "SteadyStateVerified" {
                    assert_eq!(Some(*at), started, "run {run}: steady state waited for");
                    continue;
                }
                if phase == "FaultInjected" {
                    continue;
                }
                let polled = matches!(source, Source::PollEc2 | Source::PollAutoScaling);
                assert!(
                    !polled || *error_ms <= 550,
                    "run {run}: {phase} ± {error_ms} ms"
                );
                let upper = Timestamp::from_millis(at.as_millis() + *error_ms as i64);
                last_phase = Some(last_phase.map_or(upper, |l| l.max(upper)));
            }
            Event::RunFinished { run, at, .. } => {
                let last = last_phase.expect("polled phases");
                let tail = at.since(last);
                assert!(
                    tail <= Dur::from_millis(1_050),
                    "run {run}: ended {tail} after its last phase"
                );
                let took = at.since(started.unwrap());
                assert!(took <= Dur::from_secs(6), "run {run} took {took}");
            }
            _ => {}
        }
    }
}
