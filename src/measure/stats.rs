//! HDR histograms per metric and SLO verdicts over them.
//!
//! Each metric keeps an HDR histogram of the measured values (the figures reports show) and
//! the order statistics of every run's value shifted down and up by its error bound
//! ([`Ranked`]). An SLO judges the true percentile, not the observed one: the interval it lies
//! in at the scenario's confidence comes from the order statistics ([`confidence`]) of the
//! values shifted down by their error bounds (the lower end) and up (the upper end). pass =
//! the whole interval at or below the threshold, fail = wholly above, else inconclusive,
//! saying how many runs a pass needs at least.
//!
//! Memory does not grow with the runs: a [`Ranked`] keeps every value exactly up to
//! [`EXACT_VALUES`] of them, then only an HDR histogram, whose order statistics are rounded
//! outward (a lower end down to its bucket's lowest value, an upper end up to its highest):
//! past that many runs an interval is at most 0.1 % wider than the exact one, never narrower,
//! so its coverage holds.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::confidence::{self, Mode};
use super::{Sample, Verdict};
use crate::time::Dur;
use crate::vocab::{Metric, Percentile};

/// Three significant digits: a 13-minute value is kept to within about half a second.
const SIGFIG: u8 = 3;
/// The largest value a histogram holds; larger ones saturate (a week).
const MAX_MS: u64 = 7 * 24 * 3_600_000;

/// Values kept one by one before a [`Ranked`] keeps only their histogram: 2^15 runs of
/// exact order statistics, 256 KiB.
pub(crate) const EXACT_VALUES: usize = 1 << 15;

fn hdr() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MS, SIGFIG).expect("static bounds are valid")
}

/// Values (ms) whose order statistics are asked for: exact up to [`EXACT_VALUES`] of them,
/// then an HDR histogram (three significant digits) whose ranks are rounded outward.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ranked {
    exact: Vec<u64>,
    /// Every value, once there were more than [`EXACT_VALUES`] (then `exact` is empty).
    hist: Option<Box<Histogram<u64>>>,
}

impl Ranked {
    pub(crate) fn record(&mut self, v: u64) {
        match &mut self.hist {
            Some(h) => h.saturating_record(v),
            None if self.exact.len() < EXACT_VALUES => self.exact.push(v),
            None => {
                let mut h = hdr();
                for x in self.exact.drain(..).chain([v]) {
                    h.saturating_record(x);
                }
                self.exact = Vec::new();
                self.hist = Some(Box::new(h));
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.hist
            .as_ref()
            .map_or(self.exact.len(), |h| h.len() as usize)
    }

    /// `(value, how many)` in increasing order: each value on its own while exact (ties
    /// repeated), else each histogram bucket at its highest value.
    pub(crate) fn weighted(&self) -> Vec<(u64, u64)> {
        match &self.hist {
            None => {
                let mut v = self.exact.clone();
                v.sort_unstable();
                v.into_iter().map(|x| (x, 1)).collect()
            }
            Some(h) => h
                .iter_recorded()
                .map(|b| (b.value_iterated_to(), b.count_since_last_iteration()))
                .collect(),
        }
    }

    /// The values sorted, each with its bucket's lowest and highest value (both the value
    /// itself while exact).
    fn sorted(&self) -> Vec<(u64, u64, u64)> {
        match &self.hist {
            None => self
                .weighted()
                .into_iter()
                .map(|(v, _)| (v, v, 1))
                .collect(),
            Some(h) => h
                .iter_recorded()
                .map(|b| {
                    let hi = b.value_iterated_to();
                    (h.lowest_equivalent(hi), hi, b.count_since_last_iteration())
                })
                .collect(),
        }
    }

    /// The `k`-th smallest value (1-based, `k` ≤ [`Ranked::len`]) rounded outward: `up` to
    /// its bucket's highest value, else down to its lowest (exact while exact).
    pub(crate) fn at_rank(&self, k: usize, up: bool) -> u64 {
        let mut seen = 0;
        for (lo, hi, n) in self.sorted() {
            seen += n as usize;
            if seen >= k {
                return if up { hi } else { lo };
            }
        }
        0
    }

    /// How many values lie above `t`: exact while exact, else every value whose bucket
    /// reaches above `t` (never fewer than the truth).
    pub(crate) fn count_above(&self, t: u64) -> usize {
        match &self.hist {
            None => self.exact.iter().filter(|&&v| v > t).count(),
            Some(h) => h
                .iter_recorded()
                .filter(|b| b.value_iterated_to() > t)
                .map(|b| b.count_since_last_iteration() as usize)
                .sum(),
        }
    }
}

/// The distribution of one metric over a scenario's counted runs.
#[derive(Clone, Debug)]
pub(crate) struct MetricHistogram {
    central: Histogram<u64>,
    /// Exact extremes and sum: the histogram keeps only three significant digits.
    min: u64,
    max: u64,
    sum: u128,
    max_error_ms: u64,
    /// Each run's value, for the figures that draw every run.
    values: Ranked,
    /// Each run's value less its error bound, and plus it: the order statistics of the
    /// verdicts.
    low: Ranked,
    high: Ranked,
}

impl Default for MetricHistogram {
    fn default() -> Self {
        Self {
            central: hdr(),
            min: u64::MAX,
            max: 0,
            sum: 0,
            max_error_ms: 0,
            values: Ranked::default(),
            low: Ranked::default(),
            high: Ranked::default(),
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
        self.values.record(v);
        self.low.record(v.saturating_sub(s.error_ms));
        self.high.record(v.saturating_add(s.error_ms));
        self.central.saturating_record(v);
    }

    /// Each run's value (ms), for the figures that draw every run.
    pub(crate) fn values(&self) -> &Ranked {
        &self.values
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
}

/// The interval the true percentile lies in, in ms: `upper` is `None` when the runs cannot
/// bound it from above (too few of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IntervalMs {
    pub(crate) lower: u64,
    pub(crate) upper: Option<u64>,
}

impl IntervalMs {
    /// `[3m 01.2s, 3m 30.5s]`, `[15m 43.4s, ∞)`.
    pub(crate) fn human(self) -> String {
        match self.upper {
            Some(hi) => format!(
                "[{}, {}]",
                Dur::from_millis(self.lower).human(),
                Dur::from_millis(hi).human()
            ),
            None => format!("[{}, ∞)", Dur::from_millis(self.lower).human()),
        }
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
    /// The interval the true percentile lies in at `confidence`, from the runs' order
    /// statistics widened by their error bounds; `None` when no run produced the metric.
    pub(crate) interval_ms: Option<IntervalMs>,
    /// The confidence of the interval; `None` for `max`, which is judged over the runs
    /// themselves (the slowest of them, within its error bound).
    pub(crate) confidence: Option<f64>,
    pub(crate) runs: u64,
    pub(crate) min_runs: u32,
    /// When inconclusive: the fewest runs with which a pass is possible at all, if none of the
    /// runs still to come lies above the threshold (and never fewer than `min_runs`).
    pub(crate) runs_needed: Option<u64>,
    pub(crate) verdict: Verdict,
    /// Why, in words (shown in reports).
    pub(crate) reason: String,
}

impl SloResult {
    /// The interval in words: `[3m 01.2s, 3m 30.5s] at 95 %`, `[15m 43.4s, ∞) at 95 %`,
    /// `[1m 29.5s, 1m 30.5s] (error bounds)` for `max`, `—` without a value.
    pub(crate) fn interval_words(&self) -> String {
        let Some(i) = self.interval_ms else {
            return "—".to_string();
        };
        match self.confidence {
            Some(c) => format!("{} at {}", i.human(), percent(c)),
            None => format!("{} (error bounds)", i.human()),
        }
    }
}

/// `0.95` as `95 %`, `0.999` as `99.9 %`.
pub(crate) fn percent(c: f64) -> String {
    format!("{} %", (c * 1000.0).round() / 10.0)
}

/// Where one percentile of a metric stands against a threshold.
struct Bounds {
    observed: u64,
    interval: IntervalMs,
    /// Runs whose value plus its error bound lies above the threshold.
    above: usize,
}

impl MetricHistogram {
    /// The observed percentile, the interval of the true one (for `max`: of the slowest run),
    /// and the runs above `threshold_ms`.
    fn bounds(&self, p: Percentile, o: &Objective, threshold_ms: u64) -> Bounds {
        let n = self.high.len();
        let above = self.high.count_above(threshold_ms);
        let interval = if p == Percentile::MAX {
            IntervalMs {
                lower: self.low.at_rank(n, false),
                upper: (n > 0).then(|| self.high.at_rank(n, true)),
            }
        } else {
            let r = o.mode.ranks(n, p.quantile(), o.confidence);
            IntervalMs {
                lower: r.lower.map_or(0, |l| self.low.at_rank(l, false)),
                upper: r.upper.map(|u| self.high.at_rank(u, true)),
            }
        };
        Bounds {
            observed: self.quantile(p.quantile()),
            interval,
            above,
        }
    }
}

/// An objective to judge: `metric percentile <= threshold`, at least `min_runs` runs, at
/// `confidence`, on the interval of `mode` (fixed count, or looked at after every run).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Objective {
    pub(crate) metric: Metric,
    pub(crate) percentile: Percentile,
    pub(crate) threshold: Dur,
    pub(crate) min_runs: u32,
    pub(crate) confidence: f64,
    pub(crate) mode: Mode,
}

/// Judges the objective over the histogram: pass when the whole interval of the true
/// percentile is at or below the threshold, fail when it is wholly above, else inconclusive.
pub(crate) fn judge(o: Objective, hist: Option<&MetricHistogram>) -> SloResult {
    let threshold_ms = o.threshold.as_millis();
    let hist = hist.filter(|h| h.count() > 0);
    let runs = hist.map_or(0, MetricHistogram::count);
    let bounds = hist.map(|h| h.bounds(o.percentile, &o, threshold_ms));
    let population = o.percentile != Percentile::MAX;
    let (verdict, reason, runs_needed) = match &bounds {
        None => (
            Verdict::Inconclusive,
            "no run produced this metric".to_string(),
            population.then(|| floor(&o, 0)),
        ),
        Some(b) => decide(&o, b, runs),
    };
    SloResult {
        metric: o.metric,
        percentile: o.percentile,
        threshold_ms,
        observed_ms: bounds.as_ref().map(|b| b.observed),
        interval_ms: bounds.as_ref().map(|b| b.interval),
        confidence: population.then_some(o.confidence),
        runs,
        min_runs: o.min_runs,
        runs_needed,
        verdict,
        reason,
    }
}

/// The fewest runs with which a pass is possible with `above` of them above the threshold,
/// `min_runs` at least.
fn floor(o: &Objective, above: usize) -> u64 {
    confidence::runs_needed(o.mode, o.percentile.quantile(), o.confidence, above)
        .max(u64::from(o.min_runs))
}

/// The verdict, its reason and (when inconclusive) the runs needed.
fn decide(o: &Objective, b: &Bounds, runs: u64) -> (Verdict, String, Option<u64>) {
    let (p, t) = (o.percentile, o.threshold);
    let population = p != Percentile::MAX;
    let what = if population {
        format!("the true {p}")
    } else {
        format!("the slowest of {runs} runs")
    };
    let how = if population {
        let looked = match o.mode {
            Mode::Fixed => "",
            Mode::Sequential => " (sequential)",
        };
        format!("at {} confidence{looked}", percent(o.confidence))
    } else {
        "error bounds included".to_string()
    };
    if runs < u64::from(o.min_runs) {
        let floor_words = format!("only {runs} of the {} runs needed", o.min_runs);
        let (needed, reason) = match population.then(|| needs(o, b, runs)) {
            Some((needed, words)) if needed > u64::from(o.min_runs) => {
                (needed, format!("{floor_words}; {words}"))
            }
            _ => (u64::from(o.min_runs), floor_words),
        };
        return (Verdict::Inconclusive, reason, Some(needed));
    }
    let lower = Dur::from_millis(b.interval.lower).human();
    match b.interval.upper {
        Some(hi) if hi <= t.as_millis() => {
            let hi = Dur::from_millis(hi).human();
            let reason = format!("{what} is at most {hi}, {how}");
            return (Verdict::Pass, reason, None);
        }
        _ if b.interval.lower > t.as_millis() => {
            let reason = format!("{what} is above {t}: at least {lower}, {how}");
            return (Verdict::Fail, reason, None);
        }
        _ => {}
    }
    if !population {
        let reason = format!("{what} lies in {}, which straddles {t}", b.interval.human());
        return (Verdict::Inconclusive, reason, None);
    }
    let (needed, reason) = needs(o, b, runs);
    (Verdict::Inconclusive, reason, Some(needed))
}

/// The runs a pass needs at least, and in words: `p99 ≤ 25m needs at least 299 runs with none
/// above 25m (20 so far)`.
fn needs(o: &Objective, b: &Bounds, runs: u64) -> (u64, String) {
    let (p, t) = (o.percentile, o.threshold);
    let needed = floor(o, b.above);
    let (allowed, so_far) = match b.above {
        0 => ("none".to_string(), format!("{runs} so far")),
        k => (format!("at most {k}"), format!("{runs} so far, {k} above")),
    };
    let words =
        format!("{p} ≤ {t} needs at least {needed} runs with {allowed} above {t} ({so_far})");
    (needed, words)
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

    fn objective(metric: Metric, p: Percentile, threshold: Dur, min_runs: u32) -> Objective {
        Objective {
            metric,
            percentile: p,
            threshold,
            min_runs,
            confidence: 0.95,
            mode: Mode::Fixed,
        }
    }

    fn judged(h: &MetricHistogram, p: Percentile, threshold: Dur) -> SloResult {
        judge(
            objective(Metric::TimeToCassandraRunning, p, threshold, 1),
            Some(h),
        )
    }

    const P99: Percentile = Percentile::from_hundredths(9900);

    #[test]
    fn pass_fail_and_straddle() {
        let h = hist(&[(60_000, 2500); 10]);
        let r = judged(&h, P50, Dur::from_secs(70));
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(
            r.reason,
            "the true p50 is at most 1m 02.5s, at 95 % confidence"
        );
        assert_eq!(r.runs_needed, None);
        let r = judged(&h, P50, Dur::from_secs(50));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            r.reason,
            "the true p50 is above 50s: at least 57.5s, at 95 % confidence"
        );
        let r = judged(&h, P50, Dur::from_secs(61));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(
            r.interval_ms,
            Some(IntervalMs {
                lower: 57_500,
                upper: Some(62_500)
            })
        );
        assert!(
            r.reason.starts_with("p50 ≤ 1m1s needs at least"),
            "{}",
            r.reason
        );
        assert!(
            r.reason
                .ends_with("with at most 10 above 1m1s (10 so far, 10 above)")
        );
    }

    /// The lower end is an order statistic of the values shifted down by their error bounds,
    /// the upper end of those shifted up.
    #[test]
    fn error_bounds_widen_the_interval() {
        // 100 runs of 1 s … 100 s: the median's ranks are 40 and 61 (confidence::tests).
        let exact: Vec<(u64, u64)> = (1..=100).map(|i| (i * 1000, 0)).collect();
        let r = judged(&hist(&exact), P50, Dur::from_secs(61));
        assert_eq!(
            r.interval_ms,
            Some(IntervalMs {
                lower: 40_000,
                upper: Some(61_000)
            })
        );
        assert_eq!(r.verdict, Verdict::Pass);
        // Each run ± 1 s (and the 40th ± 5 s, which moves it below the 39th shifted down).
        let mut blurred: Vec<(u64, u64)> = (1..=100).map(|i| (i * 1000, 1000)).collect();
        blurred[39].1 = 5000;
        let r = judged(&hist(&blurred), P50, Dur::from_secs(61));
        assert_eq!(
            r.interval_ms,
            Some(IntervalMs {
                lower: 38_000,
                upper: Some(62_000)
            })
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn too_few_runs_for_a_p99_say_how_many_it_needs() {
        let h = hist(&[(15 * 60_000, 1000); 20]);
        let r = judged(&h, P99, Dur::from_mins(25));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(
            r.reason,
            "p99 ≤ 25m needs at least 299 runs with none above 25m (20 so far)"
        );
        assert_eq!(r.runs_needed, Some(299));
        assert_eq!(r.confidence, Some(0.95));
        // The 19th of 20 is a lower bound; nothing bounds it from above.
        assert_eq!(
            r.interval_ms,
            Some(IntervalMs {
                lower: 15 * 60_000 - 1000,
                upper: None
            })
        );
        // Two runs of 20 over the threshold: the true p99 is above it.
        let mut values = vec![(15 * 60_000, 0); 18];
        values.extend([(26 * 60_000, 0); 2]);
        assert_eq!(
            judged(&hist(&values), P99, Dur::from_mins(25)).verdict,
            Verdict::Fail
        );
        // One over: a pass needs more runs than with none.
        values.pop();
        let r = judged(&hist(&values), P99, Dur::from_mins(25));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.runs_needed.unwrap() > 299);
        assert!(
            r.reason
                .ends_with("runs with at most 1 above 25m (19 so far, 1 above)"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn max_is_judged_over_the_runs_themselves() {
        let h = hist(&[(60_000, 500), (90_000, 500)]);
        let r = judged(&h, Percentile::MAX, Dur::from_secs(91));
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(r.confidence, None);
        assert_eq!(
            r.reason,
            "the slowest of 2 runs is at most 1m 30.5s, error bounds included"
        );
        let r = judged(&h, Percentile::MAX, Dur::from_secs(90));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.runs_needed, None);
    }

    #[test]
    fn too_few_runs_is_inconclusive_even_when_far_below() {
        let h = hist(&[(1000, 0); 3]);
        let r = judge(
            objective(Metric::TimeToAsgReplacement, P50, Dur::from_mins(10), 6),
            Some(&h),
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.observed_ms, Some(1000));
        assert_eq!(r.reason, "only 3 of the 6 runs needed");
        assert_eq!(r.runs_needed, Some(6));
        // A p99 needs more than its floor: both are said.
        let r = judge(
            objective(Metric::TimeToAsgReplacement, P99, Dur::from_mins(10), 6),
            Some(&h),
        );
        assert_eq!(
            r.reason,
            "only 3 of the 6 runs needed; p99 ≤ 10m needs at least 299 runs with none above 10m (3 so far)"
        );
        assert_eq!(r.runs_needed, Some(299));
    }

    /// Past [`EXACT_VALUES`] values the order statistics come from the histogram, rounded
    /// outward: never inside the exact value, and at most 0.1 % beyond it.
    #[test]
    fn ranks_past_the_exact_values_are_rounded_outward() {
        let mut r = Ranked::default();
        let mut all: Vec<u64> = (0..EXACT_VALUES as u64 * 3)
            .map(|i| 60_000 + (i * 7_919) % 1_000_003)
            .collect();
        for &v in &all {
            r.record(v);
        }
        all.sort_unstable();
        assert_eq!(r.len(), all.len());
        assert!(r.exact.is_empty(), "the values were let go");
        for k in [1, 2, 1000, all.len() / 2, all.len() - 1, all.len()] {
            let exact = all[k - 1];
            let (lo, hi) = (r.at_rank(k, false), r.at_rank(k, true));
            assert!(
                lo <= exact && exact <= hi,
                "rank {k}: {exact} outside [{lo}, {hi}]"
            );
            assert!(
                (hi - lo) as f64 <= exact as f64 * 0.001,
                "rank {k}: [{lo}, {hi}]"
            );
        }
        let t = all[all.len() / 2];
        let above = all.iter().filter(|&&v| v > t).count();
        let counted = r.count_above(t);
        assert!(counted >= above && counted <= above + all.len() / 500);
        // The weights add up to every value.
        assert_eq!(
            r.weighted().iter().map(|w| w.1).sum::<u64>(),
            all.len() as u64
        );
    }

    #[test]
    fn missing_metric_is_inconclusive() {
        let r = judge(
            objective(Metric::TimeToTaskLost, P50, Dur::from_mins(1), 1),
            None,
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.observed_ms, None);
        assert_eq!(r.interval_ms, None);
        assert_eq!(r.runs_needed, Some(5));
    }
}
