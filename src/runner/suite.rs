//! The suite: what a `run` call will do (a fresh suite, or the rest of an interrupted one read
//! back from its journal) and the loop that runs its scenarios one after the other, journaling
//! the suite's own events around theirs. `chaos-harness run`, the tests and the benches all run
//! suites through [`run_suite`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::cluster::Cluster;
use crate::cluster::sim::{Profile, SimCluster};
use crate::journal::{self, Event, SCHEMA_VERSION, Sink};
use crate::scenario::parse::Loaded;
use crate::time::Timestamp;
use crate::vocab::Target;

use super::count::Counter;
use super::{RunError, Start, StopFlag, run_scenario_from, scenario_seed};

/// One scenario of a suite: its file, its run count, and where it starts when the journal
/// already began it.
#[derive(Clone, Debug)]
pub(crate) struct PlannedScenario {
    pub(crate) loaded: Loaded,
    pub(crate) runs: u32,
    pub(crate) start: Option<Start>,
}

/// What a `run` call will do: a fresh suite, or the rest of an interrupted one.
#[derive(Clone, Debug)]
pub struct SuitePlan {
    pub(crate) resumed: bool,
    /// The journal already holds `suite_finished`: nothing is left to run.
    pub(crate) finished: bool,
    pub(crate) target: Target,
    pub(crate) seed: u64,
    /// `--profile`, journaled so that a resume uses the same simulated cluster.
    pub(crate) profile: Option<String>,
    pub(crate) scenarios: Vec<PlannedScenario>,
}

impl SuitePlan {
    /// A new suite of `loaded`, each scenario with `runs` runs (at most, with `until:
    /// decided`) when given, else its own count.
    pub fn fresh(
        loaded: Vec<Loaded>,
        target: Target,
        seed: u64,
        runs: Option<u32>,
        profile: Option<String>,
    ) -> Self {
        let scenarios = loaded
            .into_iter()
            .map(|mut loaded| {
                let max = runs.unwrap_or(loaded.scenario.runs.max);
                loaded.scenario.runs.max = max;
                PlannedScenario {
                    runs: max,
                    loaded,
                    start: None,
                }
            })
            .collect();
        Self {
            resumed: false,
            finished: false,
            target,
            seed,
            profile,
            scenarios,
        }
    }

    /// The rest of the suite a journal records: which scenarios and runs are done, which run
    /// was cut short (it is redone; its partial record is discarded), what is left (the whole
    /// suite is in `suite_started`). `None` when the journal holds no suite.
    pub(crate) fn resume<E: std::borrow::Borrow<Event>>(
        events: impl IntoIterator<Item = E>,
    ) -> Option<Self> {
        let mut plan: Option<Self> = None;
        let mut finished_runs: BTreeMap<String, u32> = BTreeMap::new();
        let mut began: BTreeSet<String> = BTreeSet::new();
        let mut counters: BTreeMap<String, Counter> = BTreeMap::new();
        for e in events {
            let e = e.borrow();
            match e {
                Event::SuiteStarted {
                    target,
                    seed,
                    planned,
                    profile,
                    ..
                } => {
                    let scenarios = planned
                        .iter()
                        .map(|p| PlannedScenario {
                            loaded: Loaded {
                                path: PathBuf::from(&p.file),
                                scenario: (*p.scenario).clone(),
                            },
                            runs: p.runs,
                            start: None,
                        })
                        .collect();
                    plan = Some(Self {
                        resumed: true,
                        finished: false,
                        target: *target,
                        seed: *seed,
                        profile: profile.clone(),
                        scenarios,
                    });
                }
                Event::ScenarioStarted { scenario, .. } => {
                    began.insert(scenario.name.clone());
                    counters
                        .entry(scenario.name.clone())
                        .or_insert_with(|| Counter::new(&scenario.name));
                }
                Event::RunFinished { scenario, run, .. } => match finished_runs.get_mut(scenario) {
                    Some(last) => *last = *run,
                    None => {
                        finished_runs.insert(scenario.clone(), *run);
                    }
                },
                Event::SuiteFinished { .. } => {
                    plan.iter_mut().for_each(|p| p.finished = true);
                }
                Event::SuiteResumed { .. } => {
                    plan.iter_mut().for_each(|p| p.finished = false);
                }
                _ => {}
            }
            counters.values_mut().for_each(|c| c.see(e));
        }
        let mut plan = plan?;
        // Only the simulator can replay finished runs to where an uninterrupted suite would be.
        let replay = plan.target == Target::Sim;
        for s in &mut plan.scenarios {
            let name = s.loaded.scenario.name.as_str();
            if began.contains(name) {
                let done = finished_runs.get(name).copied().unwrap_or(0);
                let counted = counters.remove(name).unwrap_or_else(|| Counter::new(name));
                s.start = Some(Start {
                    first_run: done + 1,
                    replay,
                    counted,
                });
            }
        }
        Some(plan)
    }

    /// The runs of each scenario already finished (0 for a fresh suite).
    pub(crate) fn done(&self) -> impl Iterator<Item = (&PlannedScenario, u32)> {
        self.scenarios.iter().map(|s| {
            let done = s.start.as_ref().map_or(1, |st| st.first_run);
            (s, done.saturating_sub(1))
        })
    }
}

/// The cluster each scenario of a suite runs on.
pub trait Clusters {
    type Cluster: Cluster;

    /// The cluster the `i`-th scenario (`l`) runs on.
    fn for_scenario(&mut self, i: usize, l: &Loaded) -> &mut Self::Cluster;

    /// What the `i`-th scenario's runs are when they are not measurements of a cluster but a
    /// model's prediction (a profile fitted by `profile fit`): the label its reports carry.
    fn prediction(&self, _i: usize) -> Option<String> {
        None
    }
}

/// One cluster for every scenario: a real one, or a simulated one a test or bench built.
impl<C: Cluster> Clusters for &mut C {
    type Cluster = C;

    fn for_scenario(&mut self, _: usize, _: &Loaded) -> &mut C {
        self
    }
}

/// A fresh simulated cluster per scenario: scenario `i` runs on `profiles[i]`, seeded from the
/// suite seed and its name, starting at [`crate::cluster::sim::EPOCH`], without a truth log.
pub struct SimClusters<'p> {
    profiles: &'p [Profile],
    seed: u64,
    current: Option<SimCluster>,
}

impl<'p> SimClusters<'p> {
    pub fn new(profiles: &'p [Profile], seed: u64) -> Self {
        Self {
            profiles,
            seed,
            current: None,
        }
    }
}

impl Clusters for SimClusters<'_> {
    type Cluster = SimCluster;

    fn for_scenario(&mut self, i: usize, l: &Loaded) -> &mut SimCluster {
        let seed = scenario_seed(self.seed, &l.scenario.name);
        self.current
            .insert(SimCluster::at_epoch(&self.profiles[i], seed).without_truth())
    }

    fn prediction(&self, i: usize) -> Option<String> {
        self.profiles.get(i).and_then(Profile::prediction)
    }
}

/// Runs the suite: `suite_started` (or `suite_resumed`), each scenario's runs on the cluster
/// `clusters` gives for it, `suite_finished`. Returns early with the reason a scenario was
/// aborted (already journaled).
pub async fn run_suite(
    plan: &SuitePlan,
    clusters: &mut impl Clusters,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> Result<(), RunError> {
    sink.emit(&opening(plan))?;
    for (i, s) in plan.scenarios.iter().enumerate() {
        let Some(start) = scenario_start(s, clusters.prediction(i), sink)? else {
            continue;
        };
        run_scenario_from(
            clusters.for_scenario(i, &s.loaded),
            &s.loaded.scenario,
            s.runs,
            plan.seed,
            sink,
            stop,
            start,
        )
        .await?;
    }
    sink.emit(&Event::SuiteFinished {
        wall_clock: Timestamp::now(),
    })?;
    Ok(())
}

/// The suite's first event: what it is to run, or that an interrupted one goes on.
fn opening(plan: &SuitePlan) -> Event {
    if plan.resumed {
        return Event::SuiteResumed {
            wall_clock: Timestamp::now(),
        };
    }
    Event::SuiteStarted {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        target: plan.target,
        simulated: plan.target.simulated(),
        seed: plan.seed,
        wall_clock: Timestamp::now(),
        planned: plan
            .scenarios
            .iter()
            .map(|s| journal::Planned {
                scenario: Box::new(s.loaded.scenario.clone()),
                file: s.loaded.path.display().to_string(),
                runs: s.runs,
            })
            .collect(),
        profile: plan.profile.clone(),
    }
}

/// Where a scenario starts, journaling it: a new scenario is announced, a resumed one has
/// its cut-short run discarded; `None` when it has nothing left to run.
fn scenario_start(
    s: &PlannedScenario,
    prediction: Option<String>,
    sink: &mut dyn Sink,
) -> Result<Option<Start>, RunError> {
    match &s.start {
        Some(start) if start.first_run > s.runs => Ok(None),
        Some(start) => {
            // The run that was cut short left a partial record: discard it.
            sink.emit(&Event::RunDiscarded {
                scenario: s.loaded.scenario.name.clone(),
                run: start.first_run,
                reason: "interrupted; redone on resume".into(),
            })?;
            Ok(Some(start.clone()))
        }
        None => {
            sink.emit(&Event::ScenarioStarted {
                scenario: Box::new(s.loaded.scenario.clone()),
                file: s.loaded.path.display().to_string(),
                runs: s.runs,
                prediction,
            })?;
            Ok(Some(Start::fresh(&s.loaded.scenario)))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::measure::Verdict;
    use crate::measure::confidence::Mode;
    use crate::report::{self, Report, Stopped};
    use crate::scenario::{Scenario, SloSpec, Slos, load_paths};
    use crate::time::Dur;
    use crate::vocab::{Metric, Percentile};

    fn reference(runs: u32) -> Vec<Loaded> {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cassandra-node-replace.yaml");
        let mut loaded = load_paths(&[path]).unwrap();
        loaded[0].scenario.runs.max = runs;
        loaded
    }

    fn run(plan: &SuitePlan, events: &mut Vec<Event>) -> Result<(), RunError> {
        let profiles = vec![Profile::default_profile(); plan.scenarios.len()];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(run_suite(
            plan,
            &mut SimClusters::new(&profiles, plan.seed),
            events,
            &StopFlag::default(),
        ))
    }

    fn runs_finished(events: &[Event]) -> Vec<u32> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::RunFinished { run, .. } => Some(*run),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_fresh_suite_is_framed_by_its_own_events() {
        let plan = SuitePlan::fresh(reference(5), Target::Sim, 7, Some(2), None);
        let mut events = Vec::new();
        run(&plan, &mut events).unwrap();
        assert!(matches!(
            &events[0],
            Event::SuiteStarted { target: Target::Sim, simulated: true, seed: 7, planned, .. }
                if planned.len() == 1 && planned[0].runs == 2
        ));
        assert!(matches!(&events[1], Event::ScenarioStarted { runs: 2, .. }));
        assert!(matches!(events.last(), Some(Event::SuiteFinished { .. })));
        assert_eq!(runs_finished(&events), [1, 2]);
    }

    #[test]
    fn a_resumed_suite_discards_the_cut_run_and_runs_the_rest() {
        let plan = SuitePlan::fresh(reference(3), Target::Sim, 7, None, None);
        let mut whole = Vec::new();
        run(&plan, &mut whole).unwrap();
        // Cut the journal inside run 2: after its start, before it finished.
        let cut = whole
            .iter()
            .position(|e| matches!(e, Event::RunStarted { run: 2, .. }))
            .unwrap()
            + 2;
        let mut events = whole[..cut].to_vec();
        let resumed = SuitePlan::resume(&events).expect("a suite to resume");
        assert!(resumed.resumed && !resumed.finished);
        let (s, done) = resumed.done().next().unwrap();
        assert_eq!((s.runs, done), (3, 1));
        let start = s.start.as_ref().unwrap();
        assert_eq!((start.first_run, start.replay), (2, true));
        run(&resumed, &mut events).unwrap();
        assert!(matches!(&events[cut], Event::SuiteResumed { .. }));
        assert!(matches!(
            &events[cut + 1],
            Event::RunDiscarded { run: 2, .. }
        ));
        assert_eq!(runs_finished(&events), [1, 2, 3]);
        // Replayed silently: the redone runs are the ones an uninterrupted suite ran.
        let finished = |evs: &[Event]| -> Vec<Event> {
            evs.iter()
                .filter(|e| matches!(e, Event::RunFinished { .. }))
                .cloned()
                .collect()
        };
        assert_eq!(finished(&events), finished(&whole));
        assert!(SuitePlan::resume(&events).unwrap().finished);
    }

    #[test]
    fn a_journal_without_a_suite_is_nothing_to_resume() {
        assert!(SuitePlan::resume(&[] as &[Event]).is_none());
    }

    /// The reference scenario judged only on `metric p ≤ threshold`, `until: decided`.
    fn until_decided(max: u32, metric: Metric, p: u32, threshold: Dur) -> Vec<Loaded> {
        let mut loaded = reference(max);
        let sc = &mut loaded[0].scenario;
        sc.runs.until_decided = true;
        sc.slos = Slos(vec![SloSpec {
            metric,
            objectives: vec![(Percentile::from_hundredths(p * 100), threshold)],
            min_runs: 1,
        }]);
        loaded
    }

    /// The report of the events, and the verdict of its one SLO after each of its runs.
    fn judged(events: &[Event], sc: &Scenario) -> (Report, Vec<Verdict>) {
        let mut counter = Counter::new(&sc.name);
        let mut after_each = Vec::new();
        for e in events {
            counter.see(e);
            if matches!(e, Event::RunFinished { .. }) {
                after_each.push(counter.tally.judge(sc)[0].verdict);
            }
        }
        (report::build(events, false), after_each)
    }

    #[test]
    fn until_decided_stops_at_the_first_decided_verdict() {
        // The true p50 of the replacement is near 3 minutes: 30 minutes passes and 10 seconds
        // fails, each clearly, after a handful of runs.
        for (threshold, verdict) in [
            (Dur::from_mins(30), Verdict::Pass),
            (Dur::from_secs(10), Verdict::Fail),
        ] {
            let loaded = until_decided(60, Metric::TimeToAsgReplacement, 50, threshold);
            let sc = loaded[0].scenario.clone();
            let plan = SuitePlan::fresh(loaded, Target::Sim, 7, None, None);
            let mut events = Vec::new();
            run(&plan, &mut events).unwrap();
            let (r, after_each) = judged(&events, &sc);
            let s = &r.scenarios[0];
            let n = after_each.len();
            assert!(n < 10, "{threshold}: {n} runs");
            assert_eq!(after_each[n - 1], verdict, "{threshold}");
            assert!(
                after_each[..n - 1]
                    .iter()
                    .all(|v| *v == Verdict::Inconclusive),
                "{threshold}: {after_each:?}"
            );
            assert_eq!(
                (s.mode, s.stopped),
                (Mode::Sequential, Some(Stopped::Decided))
            );
            assert_eq!((s.runs_finished, s.runs_requested), (n as u32, 60));
            assert_eq!(s.verdict, verdict);
            assert!(
                s.slos[0].reason.contains("(sequential)"),
                "{}",
                s.slos[0].reason
            );
            assert!(matches!(events.last(), Some(Event::SuiteFinished { .. })));
        }
    }

    #[test]
    fn until_decided_runs_to_max_when_it_cannot_decide() {
        // A threshold at the true p50 (3m 07.5s, BENCHMARKS §7) is never decided in 25 runs.
        let loaded = until_decided(
            25,
            Metric::TimeToAsgReplacement,
            50,
            Dur::from_millis(187_500),
        );
        let sc = loaded[0].scenario.clone();
        let plan = SuitePlan::fresh(loaded, Target::Sim, 7, None, None);
        let mut events = Vec::new();
        run(&plan, &mut events).unwrap();
        let (r, after_each) = judged(&events, &sc);
        let s = &r.scenarios[0];
        assert_eq!(after_each, [Verdict::Inconclusive; 25]);
        assert_eq!(
            (s.runs_finished, s.stopped),
            (25, Some(Stopped::MaxReached))
        );
        assert_eq!(s.verdict, Verdict::Inconclusive);
        assert_eq!(
            s.runs_words(),
            "until decided: undecided after 25 runs, the most allowed, 0 failed"
        );
        // The same runs at a fixed count: the fixed interval is the narrower one.
        let fixed = report::build(&events.iter().map(fixed_count).collect::<Vec<_>>(), false);
        let (seq_i, fixed_i) = (
            s.slos[0].interval_ms.unwrap(),
            fixed.scenarios[0].slos[0].interval_ms.unwrap(),
        );
        assert!(seq_i.lower <= fixed_i.lower && seq_i.upper >= fixed_i.upper);
        assert_eq!(fixed.scenarios[0].mode, Mode::Fixed);
    }

    /// The event as a fixed-count suite would have journaled it.
    fn fixed_count(e: &Event) -> Event {
        let mut e = e.clone();
        if let Event::ScenarioStarted { scenario, .. } = &mut e {
            scenario.runs.until_decided = false;
        }
        e
    }

    #[test]
    fn a_resumed_until_decided_scenario_counts_the_journaled_runs() {
        let loaded = until_decided(60, Metric::TimeToAsgReplacement, 50, Dur::from_mins(30));
        let plan = SuitePlan::fresh(loaded, Target::Sim, 7, None, None);
        let mut whole = Vec::new();
        run(&plan, &mut whole).unwrap();
        let decided_after = runs_finished(&whole).len();
        // Cut inside the last run, and after it (before `suite_finished`).
        for back in [3, 1] {
            let mut events = whole[..whole.len() - back].to_vec();
            let resumed = SuitePlan::resume(&events).unwrap();
            run(&resumed, &mut events).unwrap();
            assert_eq!(
                runs_finished(&events).len(),
                decided_after,
                "cut {back} back"
            );
            let r = report::build(&events, false);
            assert_eq!(r.scenarios[0].stopped, Some(Stopped::Decided));
            assert_eq!(r.scenarios[0].runs_finished as usize, decided_after);
        }
    }
}
