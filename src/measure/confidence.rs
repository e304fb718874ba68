//! Sampling confidence: a distribution-free confidence interval for a percentile from the
//! order statistics of the runs, and how many runs a pass needs at all.
//!
//! Of n runs, the number B at or below the true q-quantile ξ is Binomial(n, q) whatever the
//! metric's distribution (for a continuous one). The k-th smallest value X₍ₖ₎ is at or below ξ
//! exactly when B ≥ k, so the interval [X₍ₗ₎, X₍ᵤ₎] misses ξ with probability at most
//! P(B < l) + P(B ≥ u). With α = 1 − confidence:
//!
//! - each end gets α/2 (equal tails) when both can be bounded so;
//! - when the upper end cannot (too few runs for an α/2 tail even at the largest value) but the
//!   largest value bounds it within α (1 − qⁿ ≥ confidence), the upper end is X₍ₙ₎ and the
//!   lower end gets what is left of α: with that many runs a pass is possible at all;
//! - otherwise the upper end is unbounded and the lower end gets the whole α.
//!
//! An end that cannot be bounded within its share is unbounded. The choice depends only on n, q
//! and the confidence, never on the values, so the coverage holds. The number of runs a pass
//! needs with `k` of them above the threshold is then the smallest n with n − u ≥ k; n − u
//! never decreases with n, so it is found by bisection.

/// The ranks (1-based) of the order statistics that bound a percentile; `None` is unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ranks {
    pub(crate) lower: Option<usize>,
    pub(crate) upper: Option<usize>,
}

/// Terms of the binomial mass smaller than e^CUT times the mode's are left out (below 1e-26).
const CUT: f64 = -60.0;

/// Binomial(n, q) near its mode, with both tails summed from their own ends (so that small
/// tail probabilities keep their precision).
struct Binomial {
    n: usize,
    /// The smallest k with a mass kept.
    first: usize,
    /// `below[i]` = P(B < first + i), for i in 0..=len.
    below: Vec<f64>,
    /// `above[i]` = P(B ≥ first + i), for i in 0..=len.
    above: Vec<f64>,
}

impl Binomial {
    /// `q` in (0, 1), `n` ≥ 1.
    fn new(n: usize, q: f64) -> Self {
        let odds = (q / (1.0 - q)).ln();
        let mode = (((n + 1) as f64 * q).floor() as usize).min(n);
        // ln of each mass relative to the mode's, walking outwards with the ratio
        // P(k + 1) / P(k) = (n − k) / (k + 1) · q / (1 − q).
        let mut up = vec![0.0_f64];
        let mut k = mode;
        while k < n && *up.last().expect("not empty") > CUT {
            let next =
                up.last().expect("not empty") + ((n - k) as f64 / (k + 1) as f64).ln() + odds;
            up.push(next);
            k += 1;
        }
        let mut down = Vec::new();
        let (mut k, mut w) = (mode, 0.0_f64);
        while k > 0 && w > CUT {
            w -= ((n - k + 1) as f64 / k as f64).ln() + odds;
            down.push(w);
            k -= 1;
        }
        let first = mode - down.len();
        let mass: Vec<f64> = down.iter().rev().chain(&up).map(|w| w.exp()).collect();
        let total: f64 = mass.iter().sum();
        let mut below = vec![0.0];
        for m in &mass {
            below.push(below.last().expect("not empty") + m / total);
        }
        let mut above = vec![0.0];
        for m in mass.iter().rev() {
            above.push(above.last().expect("not empty") + m / total);
        }
        above.reverse();
        Self {
            n,
            first,
            below,
            above,
        }
    }

    /// P(B < k).
    fn below(&self, k: usize) -> f64 {
        match k.checked_sub(self.first) {
            None => 0.0,
            Some(i) => self.below.get(i).copied().unwrap_or(1.0),
        }
    }

    /// P(B ≥ k).
    fn above(&self, k: usize) -> f64 {
        match k.checked_sub(self.first) {
            None => 1.0,
            Some(i) => self.above.get(i).copied().unwrap_or(0.0),
        }
    }

    /// The smallest rank u whose upper tail P(B ≥ u) is within `budget`.
    fn upper_rank(&self, budget: f64) -> Option<usize> {
        first_true(1, self.n, |u| self.above(u) <= budget)
    }

    /// The largest rank l whose lower tail P(B < l) is within `budget`.
    fn lower_rank(&self, budget: f64) -> Option<usize> {
        // below(l) grows with l: the first l over budget, less one.
        match first_true(1, self.n, |l| self.below(l) > budget) {
            Some(1) => None,
            Some(l) => Some(l - 1),
            None => Some(self.n),
        }
    }
}

/// The smallest x in `lo..=hi` for which `pred` (false, then true) holds.
fn first_true(lo: usize, hi: usize, pred: impl Fn(usize) -> bool) -> Option<usize> {
    if lo > hi || !pred(hi) {
        return None;
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// The ranks bounding the q-quantile (q in (0, 1)) of `n` runs at `confidence` (in (0.5, 1)).
pub(crate) fn ranks(n: usize, q: f64, confidence: f64) -> Ranks {
    if n == 0 {
        return Ranks {
            lower: None,
            upper: None,
        };
    }
    let alpha = 1.0 - confidence;
    let b = Binomial::new(n, q);
    if let Some(u) = b.upper_rank(alpha / 2.0) {
        return Ranks {
            lower: b.lower_rank(alpha / 2.0),
            upper: Some(u),
        };
    }
    let top = b.above(n);
    if top <= alpha {
        return Ranks {
            lower: b.lower_rank(alpha - top),
            upper: Some(n),
        };
    }
    Ranks {
        lower: b.lower_rank(alpha),
        upper: None,
    }
}

/// How many of `n` runs may lie above a threshold for the upper end to stay at or below it;
/// `None` when the upper end is unbounded.
fn allowed_above(n: usize, q: f64, confidence: f64) -> Option<usize> {
    ranks(n, q, confidence).upper.map(|u| n - u)
}

/// The fewest runs with which a pass is possible at all when `above` of them lie above the
/// threshold (and no more will): the smallest n with n − u ≥ `above`. With none above it is
/// the smallest n with 1 − qⁿ ≥ confidence.
pub(crate) fn runs_needed(q: f64, confidence: f64, above: usize) -> u64 {
    let enough = |n: usize| allowed_above(n, q, confidence).is_some_and(|a| a >= above);
    let mut hi = above.max(1);
    while !enough(hi) {
        if hi >= 1 << 40 {
            return u64::MAX;
        }
        hi *= 2;
    }
    first_true(hi / 2 + 1, hi, enough).unwrap_or(hi) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn runs_needed_for_a_pass_at_95_percent() {
        assert_eq!(runs_needed(0.99, 0.95, 0), 299);
        assert_eq!(runs_needed(0.90, 0.95, 0), 29);
        assert_eq!(runs_needed(0.50, 0.95, 0), 5);
        // The closed form: the smallest n with 1 − qⁿ ≥ confidence.
        for (q, c) in [
            (0.99, 0.95),
            (0.9, 0.99),
            (0.999, 0.9),
            (0.5, 0.8),
            (0.75, 0.95),
        ] {
            let n = (1.0_f64 - c).ln() / f64::ln(q);
            assert_eq!(runs_needed(q, c, 0), n.ceil() as u64, "q {q} c {c}");
        }
        // More runs are needed the more lie above, and exactly then is a pass possible.
        let mut last = 0;
        for above in 0..6 {
            let n = runs_needed(0.9, 0.95, above);
            assert!(n > last, "{above} above: {n} after {last}");
            assert!(allowed_above(n as usize, 0.9, 0.95).unwrap() >= above);
            assert!(allowed_above(n as usize - 1, 0.9, 0.95).is_none_or(|a| a < above));
            last = n;
        }
    }

    #[test]
    fn too_few_runs_leave_the_upper_end_unbounded() {
        // p99 over 20 runs: the largest value is below the true p99 with probability 82 %.
        let r = ranks(20, 0.99, 0.95);
        assert_eq!(r.upper, None);
        // ... and the 19th of 20 is at or below it with probability 98 %.
        assert_eq!(r.lower, Some(19));
        // At 299 runs the largest bounds it; the median of 4 runs is bounded by nothing.
        assert_eq!(ranks(299, 0.99, 0.95).upper, Some(299));
        assert_eq!(
            ranks(4, 0.5, 0.95),
            Ranks {
                lower: None,
                upper: None
            }
        );
        // The median of 100 runs: the textbook ranks 40 and 61 (equal tails of at most 2.5 %).
        assert_eq!(
            ranks(100, 0.5, 0.95),
            Ranks {
                lower: Some(40),
                upper: Some(61)
            }
        );
    }

    #[test]
    fn the_ranks_hold_their_error_budget() {
        for n in [1, 2, 5, 20, 29, 100, 299, 1000, 100_000] {
            for q in [0.5, 0.9, 0.99] {
                let b = Binomial::new(n, q);
                let r = ranks(n, q, 0.95);
                let miss =
                    r.lower.map_or(0.0, |l| b.below(l)) + r.upper.map_or(0.0, |u| b.above(u));
                assert!(miss <= 0.05 + 1e-12, "n {n} q {q}: {r:?} misses {miss}");
                if let (Some(l), Some(u)) = (r.lower, r.upper) {
                    assert!(l <= u, "n {n} q {q}: {r:?}");
                }
            }
        }
        let b = Binomial::new(1_000_000, 0.5);
        assert!((b.below(500_001) - 0.5).abs() < 1e-3);
    }

    /// Uniform values on [0, 1000000) ms: the true q-quantile is q · 1000000. Over many suites
    /// the interval holds it in at least 95 % of them (less the Monte-Carlo error).
    #[test]
    fn the_interval_covers_the_true_percentile() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(12);
        for (n, q) in [(20, 0.5), (20, 0.9), (60, 0.9), (300, 0.99), (7, 0.5)] {
            let r = ranks(n, q, 0.95);
            let truth = q * 1_000_000.0;
            let suites = 4000;
            let mut covered = 0;
            for _ in 0..suites {
                let mut v: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..1_000_000.0)).collect();
                v.sort_by(f64::total_cmp);
                let lo = r.lower.map_or(f64::NEG_INFINITY, |l| v[l - 1]);
                let hi = r.upper.map_or(f64::INFINITY, |u| v[u - 1]);
                covered += usize::from(lo <= truth && truth <= hi);
            }
            let share = covered as f64 / f64::from(suites);
            // Three standard errors of a 95 % share over 4000 suites: 1 %.
            assert!(share >= 0.94, "n {n} q {q}: {share}");
        }
    }
}
