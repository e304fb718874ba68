//! HDR histograms per metric and SLO verdicts over them.
//!
//! Each metric keeps three histograms: the measured values, and the values shifted down and up
//! by each run's error bound. A percentile of the shifted histograms bounds the true percentile,
//! so a verdict is `inconclusive` when the bounds straddle the threshold.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{Sample, Verdict};
use crate::time::Dur;
use crate::vocab::{Metric, Percentile};

/// Three significant digits: a 13-minute value is kept to within about half a second.
const SIGFIG: u8 = 3;
/// The largest value a histogram holds; larger ones saturate (a week).
const MAX_MS: u64 = 7 * 24 * 3_600_000;

/// The distribution of one metric over a scenario's counted runs.
#[derive(Clone, Debug)]
pub(crate) struct MetricHistogram {
    central: Histogram<u64>,
    low: Histogram<u64>,
    high: Histogram<u64>,
    /// Exact extremes and sum: the histogram keeps only three significant digits.
    min: u64,
    max: u64,
    sum: u128,
    max_error_ms: u64,
}

impl Default for MetricHistogram {
    fn default() -> Self {
        let new =
            || Histogram::new_with_bounds(1, MAX_MS, SIGFIG).expect("static bounds are valid");
        Self {
            central: new(),
            low: new(),
            high: new(),
            min: u64::MAX,
            max: 0,
            sum: 0,
            max_error_ms: 0,
        }
    }
}

/// The contract's per-metric figures, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct MetricSummary {
    pub(crate) count: u64,
    pub(crate) min: u64,
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) max: u64,
    pub(crate) mean: u64,
    /// The largest error bound of any run's value.
    pub(crate) max_error_ms: u64,
}

impl MetricHistogram {
    pub(crate) fn record(&mut self, s: Sample) {
        let v = s.value.as_millis();
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += u128::from(v);
        self.max_error_ms = self.max_error_ms.max(s.error_ms);
        self.central.saturating_record(v);
        self.low.saturating_record(v.saturating_sub(s.error_ms));
        self.high.saturating_record(v.saturating_add(s.error_ms));
    }

    pub(crate) fn count(&self) -> u64 {
        self.central.len()
    }

    /// The underlying histogram of measured values.
    pub(crate) fn histogram(&self) -> &Histogram<u64> {
        &self.central
    }

    pub(crate) fn summary(&self) -> MetricSummary {
        let count = self.count();
        if count == 0 {
            return MetricSummary {
                count,
                min: 0,
                p50: 0,
                p90: 0,
                p99: 0,
                max: 0,
                mean: 0,
                max_error_ms: 0,
            };
        }
        MetricSummary {
            count,
            min: self.min,
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            max: self.max,
            mean: (self.sum / u128::from(count)) as u64,
            max_error_ms: self.max_error_ms,
        }
    }

    /// A quantile of the measured values, never above the largest one seen.
    fn quantile(&self, q: f64) -> u64 {
        self.central.value_at_quantile(q).min(self.max)
    }

    /// `(observed, lower bound, upper bound)` of a percentile, in ms.
    pub(crate) fn percentile(&self, p: Percentile) -> (u64, u64, u64) {
        let q = p.quantile();
        (
            self.quantile(q),
            self.low.value_at_quantile(q),
            self.high.value_at_quantile(q),
        )
    }
}

/// One objective judged: `metric percentile <= threshold`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SloResult {
    pub(crate) metric: Metric,
    pub(crate) percentile: Percentile,
    pub(crate) threshold_ms: u64,
    /// `None` when no run produced the metric.
    pub(crate) observed_ms: Option<u64>,
    /// The interval the true percentile lies in, given the runs' error bounds.
    pub(crate) lower_ms: Option<u64>,
    pub(crate) upper_ms: Option<u64>,
    pub(crate) runs: u64,
    pub(crate) min_runs: u32,
    pub(crate) verdict: Verdict,
    /// Why, in words (shown in reports).
    pub(crate) reason: String,
}

/// Judges `metric percentile <= threshold` over the histogram.
pub(crate) fn judge(
    metric: Metric,
    hist: Option<&MetricHistogram>,
    percentile: Percentile,
    threshold: Dur,
    min_runs: u32,
) -> SloResult {
    let threshold_ms = threshold.as_millis();
    let runs = hist.map_or(0, MetricHistogram::count);
    let bounds = hist
        .filter(|h| h.count() > 0)
        .map(|h| h.percentile(percentile));
    let (verdict, reason) = match bounds {
        None => (
            Verdict::Inconclusive,
            "no run produced this metric".to_string(),
        ),
        Some(_) if runs < u64::from(min_runs) => (
            Verdict::Inconclusive,
            format!("only {runs} of the {min_runs} runs needed"),
        ),
        Some((_, _, hi)) if hi <= threshold_ms => (
            Verdict::Pass,
            format!(
                "{percentile} {} <= {}",
                Dur::from_millis(hi).human(),
                threshold.human()
            ),
        ),
        Some((_, lo, _)) if lo > threshold_ms => (
            Verdict::Fail,
            format!(
                "{percentile} {} > {}",
                Dur::from_millis(lo).human(),
                threshold.human()
            ),
        ),
        Some((_, lo, hi)) => (
            Verdict::Inconclusive,
            format!(
                "{percentile} lies in [{}, {}], which straddles {}",
                Dur::from_millis(lo).human(),
                Dur::from_millis(hi).human(),
                threshold.human()
            ),
        ),
    };
    SloResult {
        metric,
        percentile,
        threshold_ms,
        observed_ms: bounds.map(|b| b.0),
        lower_ms: bounds.map(|b| b.1),
        upper_ms: bounds.map(|b| b.2),
        runs,
        min_runs,
        verdict,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[(u64, u64)]) -> MetricHistogram {
        let mut h = MetricHistogram::default();
        for &(v, e) in values {
            h.record(Sample {
                value: Dur::from_millis(v),
                error_ms: e,
            });
        }
        h
    }

    const P50: Percentile = Percentile::from_hundredths(5000);

    #[test]
    fn summary_holds_the_contract_fields() {
        let h = hist(&[(1000, 0), (2000, 0), (3000, 0), (4000, 0)]);
        let s = h.summary();
        assert_eq!(s.count, 4);
        assert_eq!(s.min, 1000);
        assert_eq!(s.max, 4000);
        assert_eq!(s.p50, 2000);
        assert_eq!(s.mean, 2500);
        assert_eq!(s.max_error_ms, 0);
    }

    #[test]
    fn pass_fail_and_straddle() {
        let m = Metric::TimeToCassandraRunning;
        let h = hist(&[(60_000, 2500); 10]);
        assert_eq!(
            judge(m, Some(&h), P50, Dur::from_secs(70), 5).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge(m, Some(&h), P50, Dur::from_secs(50), 5).verdict,
            Verdict::Fail
        );
        let r = judge(m, Some(&h), P50, Dur::from_secs(61), 5);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.contains("straddles"), "{}", r.reason);
    }

    #[test]
    fn too_few_runs_is_inconclusive_even_when_far_below() {
        let h = hist(&[(1000, 0); 3]);
        let r = judge(
            Metric::TimeToAsgReplacement,
            Some(&h),
            P50,
            Dur::from_mins(10),
            5,
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.observed_ms, Some(1000));
        assert!(r.reason.contains("only 3 of the 5"));
    }

    #[test]
    fn missing_metric_is_inconclusive() {
        let r = judge(Metric::TimeToTaskLost, None, P50, Dur::from_mins(1), 1);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.observed_ms, None);
    }
}
