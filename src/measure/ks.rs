//! The two-sample Kolmogorov–Smirnov distance, and the distance two samples of the same
//! distribution stay under (asymptotic critical value).

/// The largest gap between the empirical distribution functions of `a` and `b` (0 to 1).
pub fn two_sample(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] == x {
            i += 1;
        }
        while j < b.len() && b[j] == x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// `c(α)` of the Kolmogorov distribution at α = 1 %: two samples of one distribution are
/// further apart than `c(α)·√((n+m)/(n·m))` in 1 % of draws.
pub(crate) const C_ONE_PERCENT: f64 = 1.628;

/// The distance beyond which samples of `n` and `m` values differ at the 1 % level.
pub(crate) fn critical(n: usize, m: usize) -> f64 {
    let (n, m) = (n as f64, m as f64);
    C_ONE_PERCENT * ((n + m) / (n * m)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_of_shifted_and_equal_samples() {
        let a: Vec<u64> = (0..100).collect();
        assert_eq!(two_sample(&a, &a), 0.0);
        let b: Vec<u64> = (50..150).collect();
        assert!((two_sample(&a, &b) - 0.5).abs() < 1e-12);
        let c: Vec<u64> = (1000..1010).collect();
        assert_eq!(two_sample(&a, &c), 1.0);
        assert_eq!(two_sample(&a, &[]), 0.0);
        // ties count once, on both sides
        assert!((two_sample(&[1, 1, 2], &[1, 2, 2]) - 1.0 / 3.0).abs() < 1e-12);
        assert!((critical(100, 100) - 0.2302).abs() < 1e-3);
    }
}
