//! A scenario's `expect` entries judged over its runs: which runs broke each one.
//!
//! The runner records a run's broken expectations as sentences in `run_finished.failures`, each
//! starting with the phase it is about (`task_running took 31m 02.0s, expected within 30m`);
//! an expectation's failed runs are the runs with a failure that names its phase.

use serde::Serialize;

use super::{RunReport, RunVerdict};
use crate::measure::Verdict;
use crate::scenario::{Demand, Expectation};
use crate::time::Dur;
use crate::vocab::Phase;

/// One `expect` entry and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ExpectationResult {
    pub phase: Phase,
    /// `within` (the phase must happen by then) or `absent_for` (it must not happen that soon).
    pub kind: ExpectKind,
    pub limit_ms: u64,
    /// The finished runs it was checked on.
    pub runs: u32,
    pub verdict: Verdict,
    /// The runs that broke it, with the runner's words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_runs: Vec<FailedRun>,
}

impl ExpectationResult {
    /// In words: held everywhere, or which runs broke it (at most `named` listed).
    pub fn note(&self, named: usize) -> String {
        let mut runs: Vec<String> = self.failed_runs.iter().map(|f| f.run.to_string()).collect();
        runs.dedup();
        match runs.len() {
            0 => format!("held in all {} runs", self.runs),
            k if k > named => format!(
                "broken in {k} runs: run {} and {} more",
                runs[..named].join(", "),
                k - named
            ),
            _ => format!("broken in run {}", runs.join(", ")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectKind {
    Within,
    AbsentFor,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedRun {
    pub run: u32,
    pub failure: String,
}

impl ExpectationResult {
    /// The expectation as written in a scenario: `task_running within 30m`.
    pub fn label(&self) -> String {
        let kind = match self.kind {
            ExpectKind::Within => "within",
            ExpectKind::AbsentFor => "absent for",
        };
        format!("{} {kind} {}", self.phase, Dur::from_millis(self.limit_ms))
    }

    /// Whether a run failure is about this expectation's phase.
    pub fn names(&self, failure: &str) -> bool {
        failure
            .strip_prefix(self.phase.as_str())
            .is_some_and(|rest| rest.starts_with(' '))
    }
}

/// Judges each expectation over the finished runs (aborted runs are not counted).
pub fn judge(expect: &[Expectation], runs: &[RunReport]) -> Vec<ExpectationResult> {
    let finished: Vec<&RunReport> = runs
        .iter()
        .filter(|r| r.verdict != RunVerdict::Aborted)
        .collect();
    expect
        .iter()
        .map(|e| {
            let (kind, limit) = match e.demand() {
                Demand::Within(d) => (ExpectKind::Within, d),
                Demand::AbsentFor(d) => (ExpectKind::AbsentFor, d),
            };
            let mut r = ExpectationResult {
                phase: e.phase,
                kind,
                limit_ms: limit.as_millis(),
                runs: finished.len() as u32,
                verdict: Verdict::Pass,
                failed_runs: Vec::new(),
            };
            r.failed_runs = finished
                .iter()
                .flat_map(|run| {
                    run.failures
                        .iter()
                        .filter(|f| r.names(f))
                        .map(|f| FailedRun {
                            run: run.run,
                            failure: f.clone(),
                        })
                })
                .collect();
            r.verdict = if !r.failed_runs.is_empty() {
                Verdict::Fail
            } else if finished.is_empty() {
                Verdict::Inconclusive
            } else {
                Verdict::Pass
            };
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: u32, failures: &[&str]) -> RunReport {
        RunReport {
            run: n,
            verdict: if failures.is_empty() {
                RunVerdict::Pass
            } else {
                RunVerdict::Fail
            },
            failures: failures.iter().map(|s| s.to_string()).collect(),
            victims: Vec::new(),
            replacements: Vec::new(),
            phases: Vec::new(),
            started: crate::time::Timestamp::from_millis(0),
            finished: None,
            requests: Default::default(),
        }
    }

    #[test]
    fn failures_are_attributed_by_the_phase_they_name() {
        let expect = vec![
            Expectation {
                phase: Phase::TaskRunning,
                within: Some(Dur::from_mins(30)),
                absent_for: None,
            },
            Expectation {
                phase: Phase::TaskLost,
                within: None,
                absent_for: Some(Dur::from_mins(1)),
            },
        ];
        let runs = vec![
            run(1, &[]),
            run(2, &["task_running took 31m 02.0s, expected within 30m"]),
            run(3, &["task_running_x is not a phase", "aborted: bye"]),
        ];
        let r = judge(&expect, &runs);
        assert_eq!(r[0].label(), "task_running within 30m");
        assert_eq!(r[0].verdict, Verdict::Fail);
        assert_eq!(r[0].runs, 3);
        assert_eq!(r[0].failed_runs.len(), 1);
        assert_eq!(r[0].failed_runs[0].run, 2);
        assert_eq!(r[1].label(), "task_lost absent for 1m");
        assert_eq!(r[1].verdict, Verdict::Pass);
    }

    #[test]
    fn no_finished_run_is_inconclusive() {
        let expect = vec![Expectation {
            phase: Phase::TaskRunning,
            within: Some(Dur::from_mins(30)),
            absent_for: None,
        }];
        let mut aborted = run(1, &["aborted: stop"]);
        aborted.verdict = RunVerdict::Aborted;
        let r = judge(&expect, &[aborted]);
        assert_eq!(r[0].verdict, Verdict::Inconclusive);
    }
}
