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
//!
//! # Looking after every run (`until: decided`)
//!
//! A suite that stops as soon as its verdicts are decided looks at its interval after every
//! run; the fixed-n interval above, looked at so, misses more often than α (each look is
//! another chance). [`sequential_ranks`] gives intervals that hold *at every n at once*: a
//! confidence sequence in the manner of Howard & Ramdas ("Sequential estimation of quantiles
//! with applications to A/B testing and best-arm identification", Bernoulli 28(3), 2022),
//! from one-sided mixture martingales and Ville's inequality.
//!
//! Let Bₙ count the first n runs at or below ξ (or below ξ, see the end). For θ ≠ q the
//! likelihood ratio Lₙ(θ) = (θ/q)^Bₙ ((1−θ)/(1−q))^(n−Bₙ) is a nonnegative martingale of mean
//! 1 when the runs are i.i.d. with P(X ≤ ξ) = q, and so is any mixture of them over θ. Ville's
//! inequality: P(∃n: Mₙ ≥ 1/β) ≤ β. Two mixtures, each with β = α/2:
//!
//! - *above* (θ > q): Uₙ(k) = ½·q^(−n)·[k = n] + ½·∫_q^1 Lₙ(θ) dθ/(1−q), half a point mass at
//!   θ = 1 (so that runs all below decide as soon as possible) and half uniform on (q, 1).
//!   With the beta–binomial identity ∫_q^1 θ^k(1−θ)^(n−k) dθ = P(Bin(n+1, q) ≤ k) / ((n+1)
//!   C(n, k)) and P(Bin(n+1, q) ≤ k) = P(Bin(n, q) ≤ k) − q·P(Bin(n, q) = k):
//!   Uₙ(k) = ½·q^(−n)·[k = n] + ½·(P(B ≤ k)/P(B = k) − q) / ((n+1)(1−q)), B ~ Bin(n, q).
//!   Every Lₙ(θ), θ > q, grows with k, so Uₙ does: uₙ = the smallest k with Uₙ(k) ≥ 2/α.
//! - *below* (θ < q), the mirror image: Dₙ(k) = ½·(1−q)^(−n)·[k = 0] + ½·(P(B ≥ k+1)/P(B = k)
//!   + q) / ((n+1) q), falling with k: lₙ = the smallest k with Dₙ(k) < 2/α (none below it).
//!
//! The upper end X₍ᵤₙ₎ lies below ξ only if #{runs < ξ} ≥ uₙ, and the lower end X₍ₗₙ₎ above ξ
//! only if #{runs ≤ ξ} < lₙ. For a continuous metric both counts are Bₙ, so the upper end is
//! ever wrong, at any n, with probability at most P(∃n: Uₙ(Bₙ) ≥ 2/α) ≤ α/2, and the lower end
//! likewise: the interval holds ξ at every n at once with probability ≥ 1 − α, whenever the
//! suite stops. For any metric (ties at ξ), #{runs < ξ} is a Bernoulli walk of rate ≤ q and
//! #{runs ≤ ξ} one of rate ≥ q; coupled with the rate-q walk path by path, they cross the
//! (monotone) boundaries only when it does, so the bound holds too.
//!
//! A pass with `k` runs above the threshold needs n − uₙ ≥ k. Since Lₙ₊₁(θ) at k+1 is Lₙ(θ) at k
//! times θ/q > 1 (θ > q), Uₙ₊₁(k+1) ≥ Uₙ(k): uₙ₊₁ ≤ uₙ + 1, n − uₙ never decreases, and the
//! runs needed are again found by bisection. The price of looking: with all runs below the
//! threshold, a p50 needs 6 runs (fixed: 5), a p90 40 (29), a p99 415 (299) at 95 %.

use serde::{Deserialize, Serialize};

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
    /// `mass[i]` = P(B = first + i), for i in 0..len.
    mass: Vec<f64>,
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
        let mut mass: Vec<f64> = down.iter().rev().chain(&up).map(|w| w.exp()).collect();
        let total: f64 = mass.iter().sum();
        mass.iter_mut().for_each(|m| *m /= total);
        let mut below = vec![0.0];
        for m in &mass {
            below.push(below.last().expect("not empty") + m);
        }
        let mut above = vec![0.0];
        for m in mass.iter().rev() {
            above.push(above.last().expect("not empty") + m);
        }
        above.reverse();
        Self {
            n,
            first,
            below,
            above,
            mass,
        }
    }

    /// P(B = k); `None` outside the masses kept (a tail below e^CUT of the mode's).
    fn mass(&self, k: usize) -> Option<f64> {
        self.mass.get(k.checked_sub(self.first)?).copied()
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

/// How the runs of a scenario are judged: a count fixed in advance, or looked at after every
/// run until the verdicts are decided (`runs: {max: N, until: decided}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    #[default]
    Fixed,
    Sequential,
}

impl Mode {
    /// The ranks bounding the q-quantile of `n` runs at `confidence`.
    pub(crate) fn ranks(self, n: usize, q: f64, confidence: f64) -> Ranks {
        match self {
            Self::Fixed => ranks(n, q, confidence),
            Self::Sequential => sequential_ranks(n, q, confidence),
        }
    }

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Sequential => "sequential",
        }
    }
}

/// The ranks bounding the q-quantile after `n` runs of a suite that may stop after any run,
/// at `confidence`: they hold at every n at once (the module's doc proves it).
pub(crate) fn sequential_ranks(n: usize, q: f64, confidence: f64) -> Ranks {
    if n == 0 {
        return Ranks {
            lower: None,
            upper: None,
        };
    }
    let level = 2.0 / (1.0 - confidence);
    let b = Binomial::new(n, q);
    let upper = first_true(1, n, |k| evidence_above(&b, q, k) >= level);
    let lower = match first_true(0, n, |k| evidence_below(&b, q, k) < level) {
        Some(0) | None => None,
        l => l,
    };
    Ranks { lower, upper }
}

/// Uₙ(k): the evidence that more than a share q of the runs lies below the quantile, when
/// `k` of `b.n` do. Outside the masses kept it is taken as 0 below the mode (conservative)
/// and as ∞ above it (where it exceeds 10^20).
fn evidence_above(b: &Binomial, q: f64, k: usize) -> f64 {
    let n = b.n as f64;
    let point = if k == b.n { (-n * q.ln()).exp() } else { 0.0 };
    let mixed = match b.mass(k) {
        Some(m) if m > 0.0 => (b.below(k + 1) / m - q) / ((n + 1.0) * (1.0 - q)),
        _ if k < b.first => 0.0,
        _ => f64::INFINITY,
    };
    0.5 * point + 0.5 * mixed
}

/// Dₙ(k): the evidence that less than a share q of the runs lies below the quantile, when `k`
/// of `b.n` do (the mirror image of [`evidence_above`]).
fn evidence_below(b: &Binomial, q: f64, k: usize) -> f64 {
    let n = b.n as f64;
    let point = if k == 0 {
        (-n * (1.0 - q).ln()).exp()
    } else {
        0.0
    };
    let mixed = match b.mass(k) {
        Some(m) if m > 0.0 => (b.above(k + 1) / m + q) / ((n + 1.0) * q),
        _ if k < b.first => f64::INFINITY,
        _ => 0.0,
    };
    0.5 * point + 0.5 * mixed
}

/// How many of `n` runs may lie above a threshold for the upper end to stay at or below it;
/// `None` when the upper end is unbounded.
fn allowed_above(mode: Mode, n: usize, q: f64, confidence: f64) -> Option<usize> {
    mode.ranks(n, q, confidence).upper.map(|u| n - u)
}

/// The fewest runs with which a pass is possible at all when `above` of them lie above the
/// threshold (and no more will): the smallest n with n − u ≥ `above`. With none above it is
/// the smallest n with 1 − qⁿ ≥ confidence.
pub(crate) fn runs_needed(mode: Mode, q: f64, confidence: f64, above: usize) -> u64 {
    let enough = |n: usize| allowed_above(mode, n, q, confidence).is_some_and(|a| a >= above);
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
        assert_eq!(runs_needed(Mode::Fixed, 0.99, 0.95, 0), 299);
        assert_eq!(runs_needed(Mode::Fixed, 0.90, 0.95, 0), 29);
        assert_eq!(runs_needed(Mode::Fixed, 0.50, 0.95, 0), 5);
        // The closed form: the smallest n with 1 − qⁿ ≥ confidence.
        for (q, c) in [
            (0.99, 0.95),
            (0.9, 0.99),
            (0.999, 0.9),
            (0.5, 0.8),
            (0.75, 0.95),
        ] {
            let n = (1.0_f64 - c).ln() / f64::ln(q);
            assert_eq!(
                runs_needed(Mode::Fixed, q, c, 0),
                n.ceil() as u64,
                "q {q} c {c}"
            );
        }
        // More runs are needed the more lie above, and exactly then is a pass possible.
        let mut last = 0;
        for above in 0..6 {
            let n = runs_needed(Mode::Fixed, 0.9, 0.95, above);
            assert!(n > last, "{above} above: {n} after {last}");
            assert!(allowed_above(Mode::Fixed, n as usize, 0.9, 0.95).unwrap() >= above);
            assert!(
                allowed_above(Mode::Fixed, n as usize - 1, 0.9, 0.95).is_none_or(|a| a < above)
            );
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

    #[test]
    fn looking_after_every_run_costs_runs() {
        // With none above: the fewest runs a sequential pass needs, against the fixed count.
        for (q, fixed, sequential) in [(0.5, 5, 6), (0.9, 29, 40), (0.99, 299, 415)] {
            assert_eq!(runs_needed(Mode::Fixed, q, 0.95, 0), fixed, "q {q}");
            assert_eq!(
                runs_needed(Mode::Sequential, q, 0.95, 0),
                sequential,
                "q {q}"
            );
        }
        // n − uₙ never decreases (the bisection relies on it), and more runs above need more.
        for q in [0.5, 0.9, 0.99] {
            let mut last = 0;
            for n in 1..2000 {
                let a = allowed_above(Mode::Sequential, n, q, 0.95).map_or(0, |a| a + 1);
                assert!(a >= last, "q {q} n {n}: {a} after {last}");
                last = a;
            }
        }
        let mut last = 0;
        for above in 0..6 {
            let n = runs_needed(Mode::Sequential, 0.9, 0.95, above);
            assert!(n > last, "{above} above: {n} after {last}");
            assert!(allowed_above(Mode::Sequential, n as usize, 0.9, 0.95).unwrap() >= above);
            last = n;
        }
    }

    #[test]
    fn the_sequential_interval_is_never_narrower_than_the_fixed_one() {
        for n in [1, 5, 20, 42, 100, 436, 1000, 100_000] {
            for q in [0.5, 0.9, 0.99] {
                let (f, s) = (ranks(n, q, 0.95), sequential_ranks(n, q, 0.95));
                // None is unbounded: below every rank for the lower end, above for the upper.
                let up = |r: Ranks| r.upper.unwrap_or(usize::MAX);
                assert!(
                    s.lower <= f.lower && up(s) >= up(f),
                    "n {n} q {q}: {f:?} {s:?}"
                );
                if let (Some(l), Some(u)) = (s.lower, s.upper) {
                    assert!(l <= u, "n {n} q {q}: {s:?}");
                }
            }
        }
    }

    /// Uniform values on [0, 1000000) ms, looked at after every one of 150 runs: the
    /// sequential interval holds the true percentile at every look in at least 95 % of the
    /// sequences; the fixed-n interval looked at so does not (the error a stopping rule would
    /// inherit from it).
    #[test]
    fn the_sequential_interval_covers_at_every_look() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(12);
        let runs = 150;
        for q in [0.5, 0.9] {
            let truth = q * 1_000_000.0;
            let [seq, fixed]: [Vec<Ranks>; 2] = [Mode::Sequential, Mode::Fixed]
                .map(|m| (1..=runs).map(|n| m.ranks(n, q, 0.95)).collect());
            let suites = 1000;
            let (mut held_seq, mut held_fixed) = (0, 0);
            for _ in 0..suites {
                let mut v: Vec<f64> = Vec::with_capacity(runs);
                let (mut ok_seq, mut ok_fixed) = (true, true);
                for n in 1..=runs {
                    let x = rng.random_range(0.0..1_000_000.0);
                    let at = v.partition_point(|&y| y < x);
                    v.insert(at, x);
                    let holds = |r: &Ranks| {
                        r.lower.is_none_or(|l| v[l - 1] <= truth)
                            && r.upper.is_none_or(|u| truth <= v[u - 1])
                    };
                    ok_seq &= holds(&seq[n - 1]);
                    ok_fixed &= holds(&fixed[n - 1]);
                }
                held_seq += usize::from(ok_seq);
                held_fixed += usize::from(ok_fixed);
            }
            let (s, f) = (
                held_seq as f64 / f64::from(suites),
                held_fixed as f64 / f64::from(suites),
            );
            // The bound promises 95 % (the exact check below); held in 96.0 % and 97.0 % here,
            // two standard errors over 1000 sequences are 1.4 points.
            assert!(
                s >= 0.95 - 0.014,
                "q {q}: sequential held at every look in {s}"
            );
            assert!(f < 0.90, "q {q}: fixed held at every look in {f}");
        }
    }

    /// The chance that an end of the interval is ever wrong within `horizon` looks, computed
    /// exactly: the walk Bₙ (runs at or below the true quantile, Binomial(n, q) steps) is
    /// followed while it stays inside the boundaries, and the mass that crosses is summed.
    fn ever_wrong(horizon: usize, q: f64, bounds: impl Fn(usize) -> Ranks) -> (f64, f64) {
        let mut alive = vec![1.0_f64]; // alive[k] = P(Bₙ = k, no end wrong so far)
        let (mut upper_wrong, mut lower_wrong) = (0.0, 0.0);
        for n in 1..=horizon {
            let mut next = vec![0.0; n + 1];
            for (k, p) in alive.iter().enumerate() {
                next[k] += p * (1.0 - q);
                next[k + 1] += p * q;
            }
            let r = bounds(n);
            for (k, p) in next.iter_mut().enumerate() {
                // The upper end X₍ᵤ₎ is below the quantile when k ≥ u, the lower X₍ₗ₎ above it
                // when k < l.
                if r.upper.is_some_and(|u| k >= u) {
                    upper_wrong += *p;
                    *p = 0.0;
                } else if r.lower.is_some_and(|l| k < l) {
                    lower_wrong += *p;
                    *p = 0.0;
                }
            }
            alive = next;
        }
        (upper_wrong, lower_wrong)
    }

    /// Over 2000 looks (3000 for a p99) the sequential ends are ever wrong with probability
    /// 2.2 % / 2.2 % (p50), 2.2 % / 1.4 % (p90), 1.9 % / 1.2 % (p99), upper / lower; the
    /// fixed-n ends looked at after every run 24 % / 23 %, 20 % / 24 %, 12 % / 22 %.
    #[test]
    fn each_end_of_the_sequential_interval_is_ever_wrong_at_most_half_alpha() {
        for (q, horizon) in [(0.5, 2000), (0.9, 2000), (0.99, 3000)] {
            let (up, low) = ever_wrong(horizon, q, |n| sequential_ranks(n, q, 0.95));
            assert!(up <= 0.025 && low <= 0.025, "q {q}: {up} {low}");
            // The fixed-n interval, looked at after every run, is wrong far more often.
            let (up, low) = ever_wrong(horizon, q, |n| ranks(n, q, 0.95));
            assert!(up + low > 0.1, "q {q}: fixed {up} {low}");
        }
    }
}
