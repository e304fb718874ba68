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
    /// A new suite of `loaded`, each scenario with `runs` runs when given, else its own count.
    pub fn fresh(
        loaded: Vec<Loaded>,
        target: Target,
        seed: u64,
        runs: Option<u32>,
        profile: Option<String>,
    ) -> Self {
        let scenarios = loaded
            .into_iter()
            .map(|loaded| PlannedScenario {
                runs: runs.unwrap_or(loaded.scenario.runs),
                loaded,
                start: None,
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
        for e in events {
            match e.borrow() {
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
        }
        let mut plan = plan?;
        // Only the simulator can replay finished runs to where an uninterrupted suite would be.
        let replay = plan.target == Target::Sim;
        for s in &mut plan.scenarios {
            let name = s.loaded.scenario.name.as_str();
            if began.contains(name) {
                let done = finished_runs.get(name).copied().unwrap_or(0);
                s.start = Some(Start {
                    first_run: done + 1,
                    replay,
                });
            }
        }
        Some(plan)
    }

    /// The runs of each scenario already finished (0 for a fresh suite).
    pub(crate) fn done(&self) -> impl Iterator<Item = (&PlannedScenario, u32)> {
        self.scenarios
            .iter()
            .map(|s| (s, s.start.map_or(0, |st| st.first_run.saturating_sub(1))))
    }
}

/// The cluster each scenario of a suite runs on.
pub trait Clusters {
    type Cluster: Cluster;

    /// The cluster the `i`-th scenario (`l`) runs on.
    fn for_scenario(&mut self, i: usize, l: &Loaded) -> &mut Self::Cluster;
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
        let Some(start) = scenario_start(s, sink)? else {
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
fn scenario_start(s: &PlannedScenario, sink: &mut dyn Sink) -> Result<Option<Start>, RunError> {
    match s.start {
        Some(start) if start.first_run > s.runs => Ok(None),
        Some(start) => {
            // The run that was cut short left a partial record: discard it.
            sink.emit(&Event::RunDiscarded {
                scenario: s.loaded.scenario.name.clone(),
                run: start.first_run,
                reason: "interrupted; redone on resume".into(),
            })?;
            Ok(Some(start))
        }
        None => {
            sink.emit(&Event::ScenarioStarted {
                scenario: Box::new(s.loaded.scenario.clone()),
                file: s.loaded.path.display().to_string(),
                runs: s.runs,
            })?;
            Ok(Some(Start::FRESH))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::scenario::load_paths;

    fn reference(runs: u32) -> Vec<Loaded> {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cassandra-node-replace.yaml");
        let mut loaded = load_paths(&[path]).unwrap();
        loaded[0].scenario.runs = runs;
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
        assert_eq!(
            s.start,
            Some(Start {
                first_run: 2,
                replay: true
            })
        );
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
}
