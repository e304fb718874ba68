//! A scenario's runs folded into its report one at a time, so that a report costs the same
//! memory and size whatever the number of runs: every figure is aggregated as the runs come
//! (histograms and order statistics, [`crate::measure::stats`]), lists of runs are counted and
//! named up to [`LISTED`], and only the runs that matter are kept whole ([`Tally::keeps`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::expect::{self, ExpectationResult};
use super::{LISTED, RunReport, html};
use crate::measure::decided;
use crate::measure::stats::Ranked;
use crate::scenario::Scenario;
use crate::time::{Dur, Timestamp};
use crate::vocab::{Metric, Phase, Requests};

/// The runs kept whole: every one of the first `KEEP_FIRST`, …
pub(crate) const KEEP_FIRST: u32 = 1000;
/// … the first failed or aborted runs after them, …
const KEEP_FAILED: usize = 100;
/// … the slowest runs of each metric, …
const KEEP_SLOWEST: usize = 5;
/// … and a sample spread evenly over the requested runs (every k-th run).
const KEEP_SAMPLE: u32 = 100;

/// Entries about runs, pushed in run order: how many in all, about how many runs, and the
/// first [`LISTED`] of them.
#[derive(Clone, Debug)]
pub(crate) struct Listed<T> {
    pub(crate) total: usize,
    pub(crate) runs: usize,
    pub(crate) items: Vec<(u32, T)>,
    last_run: Option<u32>,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self {
            total: 0,
            runs: 0,
            items: Vec::new(),
            last_run: None,
        }
    }
}

impl<T> Listed<T> {
    fn push(&mut self, run: u32, item: T) {
        self.total += 1;
        self.runs += usize::from(self.last_run != Some(run));
        self.last_run = Some(run);
        if self.items.len() < LISTED {
            self.items.push((run, item));
        }
    }

    /// The runs named, each once.
    pub(crate) fn run_numbers(&self) -> Vec<u32> {
        let mut runs: Vec<u32> = self.items.iter().map(|(r, _)| *r).collect();
        runs.dedup();
        runs
    }
}

/// What `report.json` says about the runs it holds when it does not hold them all.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptRuns {
    pub(crate) kept: usize,
    pub(crate) of: u32,
    pub(crate) rule: String,
}

/// Where one phase fell over the runs (all of them, aborted ones included).
#[derive(Clone, Debug, Default)]
pub(crate) struct PhaseTimes {
    pub(crate) runs: usize,
    /// Milliseconds since the fault (a phase before it counts as 0).
    pub(crate) since_fault: Ranked,
    pub(crate) max_error_ms: u64,
    pub(crate) sources: Vec<&'static str>,
}

/// A stage (two phases of a run) over the counted runs: its start since the fault and its
/// duration, in ms.
#[derive(Clone, Debug, Default)]
pub(crate) struct StageTimes {
    pub(crate) starts: Ranked,
    pub(crate) durations: Ranked,
}

/// A metric's runs over an SLO threshold.
#[derive(Clone, Debug)]
pub(crate) struct Over {
    pub(crate) metric: Metric,
    pub(crate) threshold_ms: u64,
    pub(crate) runs: Listed<Dur>,
}

/// The API economy and time use of the finished runs, summed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Economy {
    pub(crate) finished: u64,
    pub(crate) total: Requests,
    pub(crate) run_ms: u64,
    /// The start of the finished run with the lowest number, the end of the highest one.
    pub(crate) first: Option<(u32, Timestamp)>,
    pub(crate) last: Option<(u32, Timestamp)>,
    pub(crate) recovery_ms: u64,
    /// Finished runs after the first (each follows a cooldown).
    pub(crate) after_first: u64,
}

/// A scenario's runs so far, folded.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) runs: u32,
    pub(crate) with_failures: u32,
    kept: Vec<RunReport>,
    failed_kept: usize,
    /// Per metric, the slowest runs: `(value, run)`, the slowest first.
    slowest: BTreeMap<Metric, Vec<(u64, RunReport)>>,
    sample_every: u32,
    /// Each metric's values over the counted runs, judged as the runner judges them.
    pub(crate) metrics: decided::Tally,
    pub(crate) phases: BTreeMap<Phase, PhaseTimes>,
    /// Per stage of [`html::stage_spans`], in its order.
    pub(crate) stages: Vec<StageTimes>,
    /// The first fault of any run, and the last phase of any run.
    pub(crate) first_fault: Option<Timestamp>,
    pub(crate) last_phase: Option<Timestamp>,
    pub(crate) economy: Economy,
    pub(crate) expectations: Vec<ExpectationResult>,
    pub(crate) over: Vec<Over>,
    /// Failures no expectation names (aborted or interrupted runs, phases missed by the
    /// scenario's `timeout`): `(run, failure)`.
    pub(crate) unattributed: Listed<String>,
}

impl Tally {
    pub(crate) fn new(spec: &Scenario, runs_requested: u32) -> Self {
        let over = spec
            .slos
            .0
            .iter()
            .flat_map(|slo| {
                slo.objectives.iter().map(|(_, d)| Over {
                    metric: slo.metric,
                    threshold_ms: d.as_millis(),
                    runs: Listed::default(),
                })
            })
            .collect();
        Self {
            sample_every: runs_requested.div_ceil(KEEP_SAMPLE).max(1),
            stages: vec![StageTimes::default(); html::stage_spans().count()],
            expectations: expect::results(&spec.expect),
            over,
            ..Self::default()
        }
    }

    /// Folds one run in (a finished run, or an aborted or interrupted one at the end).
    pub(crate) fn fold(&mut self, r: RunReport) {
        self.runs += 1;
        self.with_failures += u32::from(!r.failures.is_empty());
        self.phases_of(&r);
        if let Some(f) = r.phase(Phase::FaultInjected) {
            self.first_fault = Some(self.first_fault.map_or(f.at, |a| a.min(f.at)));
        }
        if let Some(end) = r.phases.iter().map(|p| p.at).max() {
            self.last_phase = Some(self.last_phase.map_or(end, |b| b.max(end)));
        }
        self.economy_of(&r);
        for e in &mut self.expectations {
            e.fold(&r);
        }
        self.unattributed_of(&r);
        if r.counted() {
            self.counted(&r);
        }
        self.keep(r);
    }

    fn phases_of(&mut self, r: &RunReport) {
        for p in &r.phases {
            let t = self.phases.entry(p.phase).or_default();
            t.runs += 1;
            t.since_fault.record(p.since_fault_ms.max(0) as u64);
            t.max_error_ms = t.max_error_ms.max(p.error_ms);
            if !t.sources.contains(&p.source.as_str()) {
                t.sources.push(p.source.as_str());
            }
        }
    }

    fn economy_of(&mut self, r: &RunReport) {
        let Some(end) = r.finished else {
            return;
        };
        let e = &mut self.economy;
        e.finished += 1;
        e.total = e.total + r.requests;
        e.run_ms += end.since(r.started).as_millis();
        if e.first.is_none_or(|(run, _)| r.run < run) {
            e.first = Some((r.run, r.started));
        }
        if e.last.is_none_or(|(run, _)| r.run > run) {
            e.last = Some((r.run, end));
        }
        if let Some(fault) = r.phase(Phase::FaultInjected) {
            e.recovery_ms += end.since(fault.at).as_millis();
        }
        e.after_first += u64::from(r.run > 1);
    }

    fn unattributed_of(&mut self, r: &RunReport) {
        let broken = r
            .broken
            .iter()
            .filter(|f| !self.expectations.iter().any(|e| e.covers(f)))
            .map(|f| f.detail.clone());
        let cut_short = r.failures.iter().skip(r.broken.len()).cloned();
        let all: Vec<String> = broken.chain(cut_short).collect();
        for f in all {
            self.unattributed.push(r.run, f);
        }
    }

    /// A counted run's metrics, stages and values over the SLO thresholds.
    fn counted(&mut self, r: &RunReport) {
        self.metrics.record(|p| r.observed(p));
        for m in Metric::ALL {
            if let Some(s) = r.sample(m) {
                let v = s.value.as_millis();
                let top = self.slowest.entry(m).or_default();
                if top.len() < KEEP_SLOWEST || top.last().is_some_and(|(w, _)| v > *w) {
                    top.truncate(KEEP_SLOWEST - 1);
                    let at = top.partition_point(|(w, _)| *w >= v);
                    top.insert(at, (v, r.clone()));
                }
            }
        }
        for (st, (from, to, unless)) in self.stages.iter_mut().zip(html::stage_spans()) {
            if unless.is_some_and(|p| r.phase(p).is_some()) {
                continue;
            }
            if let (Some(a), Some(b)) = (r.phase(from), r.phase(to)) {
                st.starts.record(a.since_fault_ms.max(0) as u64);
                st.durations.record(b.at.since(a.at).as_millis());
            }
        }
        for o in &mut self.over {
            if let Some(s) = r.sample(o.metric)
                && s.value.as_millis() > o.threshold_ms
            {
                o.runs.push(r.run, s.value);
            }
        }
    }

    /// Keeps the run whole if it is one of the first, an early failure or in the sample.
    fn keep(&mut self, r: RunReport) {
        let failed = !r.failures.is_empty();
        if r.run <= KEEP_FIRST {
            self.kept.push(r);
        } else if failed && self.failed_kept < KEEP_FAILED {
            self.failed_kept += 1;
            self.kept.push(r);
        } else if r.run.is_multiple_of(self.sample_every) {
            self.kept.push(r);
        }
    }

    /// The runs kept whole, in run order (the slowest of each metric among them), and what
    /// they are when they are not all the runs.
    pub(crate) fn keeps(&mut self) -> (Vec<RunReport>, Option<KeptRuns>) {
        let mut kept = std::mem::take(&mut self.kept);
        for (_, r) in std::mem::take(&mut self.slowest).into_values().flatten() {
            if !kept.iter().any(|k| k.run == r.run) {
                kept.push(r);
            }
        }
        kept.sort_by_key(|r| r.run);
        let note = (kept.len() < self.runs as usize).then(|| KeptRuns {
            kept: kept.len(),
            of: self.runs,
            rule: format!(
                "the first {KEEP_FIRST} runs, the first {KEEP_FAILED} failed or aborted runs \
                 after them, the {KEEP_SLOWEST} slowest runs of each metric, and every {}th run; \
                 every figure is over all {} runs",
                self.sample_every, self.runs
            ),
        });
        (kept, note)
    }
}

#[cfg(test)]
mod tests {
    use crate::report::fixture::{Run, journal};
    use crate::report::{build, json};
    use crate::vocab::Phase;

    const SPEC: &str = "\
name: t
service: {name: cassandra}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
slos:
  time_to_cassandra_running: {p50: 15m}
expect:
  - {phase: task_running, within: 20m}
";

    /// `n` runs of 10 min + the run's number in ms; every 7th fails (at 5 min: a run that
    /// fails is not among the slowest here).
    fn report_of(n: u32) -> crate::report::Report {
        let phases: Vec<[(Phase, u64, u64); 1]> = (1..=n)
            .map(|i| {
                let ms = if i % 7 == 0 {
                    300_000
                } else {
                    600_000 + u64::from(i)
                };
                [(Phase::TaskRunning, ms, 1)]
            })
            .collect();
        let late = ["task_running took 21m, expected within 20m"];
        let runs: Vec<Run> = (1..=n)
            .map(|i| Run {
                run: i,
                phases: &phases[i as usize - 1],
                failures: if i % 7 == 0 { &late } else { &[] },
            })
            .collect();
        build(&journal(SPEC, &runs), false)
    }

    #[test]
    fn up_to_the_first_thousand_runs_every_run_is_kept() {
        let r = report_of(super::KEEP_FIRST);
        let s = &r.scenarios[0];
        assert_eq!(s.runs.len(), super::KEEP_FIRST as usize);
        assert!(s.runs_kept.is_none());
        assert!(!json::render(&r).contains("runs_kept"));
    }

    #[test]
    fn past_them_the_runs_that_matter_are_kept_and_said_so() {
        let n = 20_000;
        let r = report_of(n);
        let s = &r.scenarios[0];
        let kept: Vec<u32> = s.runs.iter().map(|x| x.run).collect();
        // The first thousand, …
        assert!((1..=super::KEEP_FIRST).all(|i| kept.contains(&i)));
        // … the first hundred failed runs after them (every 7th), …
        let failed_after: Vec<u32> = kept
            .iter()
            .copied()
            .filter(|&i| i > super::KEEP_FIRST && i % 7 == 0)
            .collect();
        let first_failed: Vec<u32> = (1001..).step_by(7).take(super::KEEP_FAILED).collect();
        assert_eq!(failed_after[..super::KEEP_FAILED], first_failed[..]);
        assert!(
            failed_after[super::KEEP_FAILED..]
                .iter()
                .all(|i| i % 200 == 0)
        );
        // … the five slowest runs (the last passing ones) and every 200th run.
        assert!(
            [20_000, 19_998, 19_997, 19_996, 19_995]
                .iter()
                .all(|i| kept.contains(i))
        );
        assert!(!kept.contains(&19_994));
        assert!((1..=100).all(|k| kept.contains(&(k * 200))));
        let note = s.runs_kept.as_ref().expect("a note on the runs kept");
        assert_eq!((note.kept, note.of), (kept.len(), n));
        assert!(note.rule.contains("every 200th run"), "{}", note.rule);
        // Every figure is over all runs.
        assert_eq!(s.runs_finished, n);
        assert_eq!(s.runs_failed, n / 7);
        assert_eq!(s.metrics[0].1.count, u64::from(n));
        assert_eq!(s.expectations[0].runs_broken(), n / 7);
        assert_eq!(s.expectations[0].failed_runs.len(), crate::report::LISTED);
    }

    #[test]
    fn report_json_does_not_grow_with_the_runs() {
        let size = |n| json::render(&report_of(n)).len();
        let (a, b) = (size(5_000), size(40_000));
        // Eight times the runs: the same runs kept (bar a few), the same lists.
        assert!(b < a + a / 10, "{a} bytes for 5000 runs, {b} for 40000");
    }
}
