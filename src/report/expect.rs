//! A scenario's `expect` entries judged over its runs: which runs broke each one.
//!
//! The runner records a run's broken expectations as [`RunFailure`]s in
//! `run_finished.failures`, each with the phase it is about and how it broke; an expectation's
//! failed runs are the runs with a failure on its phase, of a kind its demand can break.

use serde::Serialize;

use super::{LISTED, RunReport, RunVerdict};
use crate::journal::{FailureKind, RunFailure};
use crate::measure::Verdict;
use crate::scenario::{Demand, Expectation};
use crate::time::Dur;
use crate::vocab::Phase;

/// One `expect` entry and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ExpectationResult {
    pub(crate) phase: Phase,
    /// `within` (the phase must happen by then) or `absent_for` (it must not happen that soon).
    pub(crate) kind: ExpectKind,
    pub(crate) limit_ms: u64,
    /// The finished runs it was checked on.
    pub(crate) runs: u32,
    pub(crate) verdict: Verdict,
    /// The runs that broke it, with the runner's words (the first
    /// [`LISTED`](super::LISTED)).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) failed_runs: Vec<FailedRun>,
    /// How many runs broke it, when `failed_runs` does not list them all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) runs_broken: Option<u32>,
    /// How many runs broke it.
    #[serde(skip)]
    broken: u32,
}

impl ExpectationResult {
    /// In words: held everywhere, or which runs broke it (at most `named` listed).
    pub(crate) fn note(&self, named: usize) -> String {
        let mut runs: Vec<String> = self.failed_runs.iter().map(|f| f.run.to_string()).collect();
        runs.dedup();
        match self.broken as usize {
            0 => format!("held in all {} runs", self.runs),
            k if k > named => format!(
                "broken in {k} runs: run {} and {} more",
                runs[..named].join(", "),
                k - named
            ),
            _ => format!("broken in run {}", runs.join(", ")),
        }
    }

    /// How many runs broke it.
    pub(crate) fn runs_broken(&self) -> u32 {
        self.broken
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExpectKind {
    Within,
    AbsentFor,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct FailedRun {
    pub(crate) run: u32,
    pub(crate) failure: String,
}

impl ExpectationResult {
    /// The expectation as written in a scenario: `task_running within 30m`.
    pub(crate) fn label(&self) -> String {
        let kind = match self.kind {
            ExpectKind::Within => "within",
            ExpectKind::AbsentFor => "absent for",
        };
        format!("{} {kind} {}", self.phase, Dur::from_millis(self.limit_ms))
    }

    /// Whether a run failure broke this expectation: it is about the same phase, and it is a
    /// way a `within` (not seen, or seen late) or an `absent_for` (seen too soon) breaks.
    pub(crate) fn covers(&self, failure: &RunFailure) -> bool {
        failure.phase == self.phase
            && match self.kind {
                ExpectKind::Within => {
                    matches!(
                        failure.kind,
                        FailureKind::NotObserved | FailureKind::TooLate
                    )
                }
                ExpectKind::AbsentFor => failure.kind == FailureKind::Happened,
            }
    }
}

/// Each expectation before any run.
pub(crate) fn results(expect: &[Expectation]) -> Vec<ExpectationResult> {
    expect
        .iter()
        .map(|e| {
            let (kind, limit) = match e.demand() {
                Demand::Within(d) => (ExpectKind::Within, d),
                Demand::AbsentFor(d) => (ExpectKind::AbsentFor, d),
            };
            ExpectationResult {
                phase: e.phase,
                kind,
                limit_ms: limit.as_millis(),
                runs: 0,
                verdict: Verdict::Inconclusive,
                failed_runs: Vec::new(),
                runs_broken: None,
                broken: 0,
            }
        })
        .collect()
}

impl ExpectationResult {
    /// Judges it on one more run (aborted runs are not counted).
    pub(crate) fn fold(&mut self, run: &RunReport) {
        if run.verdict == RunVerdict::Aborted {
            return;
        }
        self.runs += 1;
        let mut broke = false;
        for f in &run.broken {
            if !self.covers(f) {
                continue;
            }
            broke = true;
            if self.failed_runs.len() < LISTED {
                self.failed_runs.push(FailedRun {
                    run: run.run,
                    failure: f.detail.clone(),
                });
            }
        }
        self.broken += u32::from(broke);
        self.runs_broken = (self.failed_runs.len() == LISTED).then_some(self.broken);
        self.verdict = if self.broken > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(expect: &[Expectation], runs: &[RunReport]) -> Vec<ExpectationResult> {
        let mut r = results(expect);
        for run in runs {
            r.iter_mut().for_each(|e| e.fold(run));
        }
        r
    }

    #[test]
    fn a_long_list_of_broken_runs_is_named_in_part_and_counted() {
        let expect = vec![Expectation {
            phase: Phase::TaskRunning,
            within: Some(Dur::from_mins(30)),
            absent_for: None,
        }];
        let runs: Vec<RunReport> = (1..=LISTED as u32 + 5)
            .map(|i| run(i, &["task_running took 31m 02.0s, expected within 30m"]))
            .collect();
        let r = judge(&expect, &runs);
        assert_eq!(r[0].failed_runs.len(), LISTED);
        assert_eq!(r[0].runs_broken, Some(LISTED as u32 + 5));
        assert!(
            r[0].note(2)
                .starts_with("broken in 1005 runs: run 1, 2 and 1003 more")
        );
    }

    fn run(n: u32, failures: &[&str]) -> RunReport {
        RunReport {
            broken: failures
                .iter()
                .filter_map(|s| RunFailure::from_sentence(s))
                .collect(),
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
            scheduler_unavailable: Vec::new(),
            api_errors: 0,
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
    fn failed_runs_are_found_by_phase_and_kind() {
        let expect = vec![
            Expectation {
                phase: Phase::AgentRegistered,
                within: Some(Dur::from_mins(20)),
                absent_for: None,
            },
            Expectation {
                phase: Phase::TaskLost,
                within: None,
                absent_for: Some(Dur::from_mins(1)),
            },
        ];
        let mut runs = vec![run(1, &[]), run(2, &[]), run(3, &[])];
        let failure = |phase, kind, detail: &str| RunFailure {
            phase,
            kind,
            detail: detail.into(),
        };
        // The detail's words do not matter: the record's phase and kind do.
        runs[1].broken = vec![
            failure(Phase::AgentRegistered, FailureKind::NotObserved, "late"),
            failure(Phase::TaskLost, FailureKind::Happened, "soon"),
        ];
        runs[2].broken = vec![
            failure(Phase::AgentRegistered, FailureKind::TooLate, "later"),
            failure(
                Phase::TaskLost,
                FailureKind::NotObserved,
                "not a way to break absent_for",
            ),
        ];
        let r = judge(&expect, &runs);
        let found = |i: usize| -> Vec<(u32, &str)> {
            r[i].failed_runs
                .iter()
                .map(|f| (f.run, f.failure.as_str()))
                .collect()
        };
        assert_eq!(found(0), [(2, "late"), (3, "later")]);
        assert_eq!(found(1), [(2, "soon")]);
        assert_eq!(r[0].note(3), "broken in run 2, 3");
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
