//! A scenario's SLOs judged over its runs so far, and the stopping rule of
//! `runs: {max: N, until: decided}`: the report and the runner (after every run) both judge
//! through [`Tally`], so the runner stops exactly when the report will say "decided".
//!
//! What "decided" means:
//! - a percentile SLO is decided when it passes or fails on its interval; in `until: decided`
//!   mode that is the sequential interval ([`confidence::sequential_ranks`]), valid however
//!   often it is looked at, so stopping at the first decided look keeps the error rates at
//!   most α/2 each (a pass when the true percentile is above the threshold, a fail when it is
//!   at or below it);
//! - a `max` SLO is a statement about the runs done (the slowest of them, within its error
//!   bound): decided when it passes or fails on them;
//! - an expectation (`within`, `absent_for`) is a demand on every run, judged run by run: it
//!   fails as soon as one run breaks it and holds while none has. Each run decides it, so it
//!   never keeps a scenario running;
//! - a scenario without SLOs has nothing more to decide after its first run (validation
//!   refuses `until: decided` there; `--until-decided` runs such a scenario once).

use std::collections::BTreeMap;

use super::confidence::Mode;
use super::stats::{MetricHistogram, Objective, SloResult, judge};
use super::{Observed, Sample, Verdict};
use crate::scenario::Scenario;
use crate::vocab::{Metric, Phase};

/// Each metric's values over the counted runs of a scenario.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    histograms: BTreeMap<Metric, MetricHistogram>,
}

impl Tally {
    /// Counts a finished run, given how it observed each phase.
    pub(crate) fn record(&mut self, phase: impl Fn(Phase) -> Option<Observed>) {
        for m in Metric::ALL {
            let (from, to) = m.span();
            if let (Some(a), Some(b)) = (phase(from), phase(to)) {
                self.histograms
                    .entry(m)
                    .or_default()
                    .record(Sample::between(&a, &b));
            }
        }
    }

    /// Every SLO objective of the scenario judged over the runs counted.
    pub(crate) fn judge(&self, sc: &Scenario) -> Vec<SloResult> {
        let mode = mode(sc);
        sc.slos
            .0
            .iter()
            .flat_map(|slo| {
                let h = self.histograms.get(&slo.metric);
                slo.objectives.iter().map(move |(p, d)| {
                    let objective = Objective {
                        metric: slo.metric,
                        percentile: *p,
                        threshold: *d,
                        min_runs: slo.min_runs,
                        confidence: sc.confidence,
                        mode,
                    };
                    judge(objective, h)
                })
            })
            .collect()
    }

    /// Whether an `until: decided` scenario may stop now: every SLO is decided.
    pub(crate) fn decided(&self, sc: &Scenario) -> bool {
        all_decided(&self.judge(sc))
    }

    /// The histograms, in metric order.
    pub(crate) fn into_histograms(self) -> Vec<(Metric, MetricHistogram)> {
        self.histograms.into_iter().collect()
    }
}

/// How a scenario's runs are judged: sequentially with `until: decided`, else at a fixed count.
pub(crate) fn mode(sc: &Scenario) -> Mode {
    if sc.runs.until_decided {
        Mode::Sequential
    } else {
        Mode::Fixed
    }
}

/// Every SLO has a decided verdict (pass or fail).
pub(crate) fn all_decided(slos: &[SloResult]) -> bool {
    slos.iter().all(|s| s.verdict != Verdict::Inconclusive)
}
