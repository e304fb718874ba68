//! Duration distributions of the simulated cluster's steps, as a profile writes them
//! (`{uniform: {min, max}}`, `{lognormal: {median, p99, min, max}}`, `{constant: 5s}`), validated
//! and ready to sample.

use rand::RngExt;
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::time::Dur;

/// A duration distribution as written in a profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DistSpec {
    Uniform(UniformSpec),
    Lognormal(LognormalSpec),
    Constant(Dur),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UniformSpec {
    min: Dur,
    max: Dur,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LognormalSpec {
    median: Dur,
    p99: Dur,
    min: Dur,
    max: Dur,
}

/// The z-score of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

/// A validated duration distribution, ready to sample: `{uniform: {min, max}}`,
/// `{lognormal: {median, p99, min, max}}` (median and p99 fix the shape, the result is clamped
/// to `[min, max]`) or `{constant: 5s}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DistSpec", into = "DistSpec")]
pub struct Dist {
    spec: DistSpec,
    kind: DistKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DistKind {
    Constant(u64),
    Uniform {
        min: u64,
        max: u64,
    },
    Lognormal {
        mu: f64,
        sigma: f64,
        min: u64,
        max: u64,
    },
}

impl From<Dist> for DistSpec {
    fn from(d: Dist) -> Self {
        d.spec
    }
}

impl TryFrom<DistSpec> for Dist {
    type Error = String;

    fn try_from(spec: DistSpec) -> Result<Self, String> {
        let kind = match &spec {
            DistSpec::Constant(d) => DistKind::Constant(d.as_millis()),
            DistSpec::Uniform(u) => {
                if u.min > u.max {
                    return Err(format!(
                        "uniform distribution has min {} > max {}; hint: swap them",
                        u.min, u.max
                    ));
                }
                DistKind::Uniform {
                    min: u.min.as_millis(),
                    max: u.max.as_millis(),
                }
            }
            DistSpec::Lognormal(l) => {
                if l.median.is_zero() {
                    return Err(
                        "lognormal distribution needs a median above zero; hint: e.g. `median: 30s`"
                            .to_string(),
                    );
                }
                if l.min > l.max {
                    return Err(format!(
                        "lognormal distribution has min {} > max {}; hint: swap them",
                        l.min, l.max
                    ));
                }
                if !(l.min <= l.median && l.median <= l.p99) {
                    return Err(format!(
                        "lognormal distribution needs min <= median <= p99, got min {}, median {}, p99 {}; hint: the median is the typical value, p99 a rare slow one",
                        l.min, l.median, l.p99
                    ));
                }
                if l.median > l.max {
                    return Err(format!(
                        "lognormal distribution has median {} > max {}; hint: raise max",
                        l.median, l.max
                    ));
                }
                let median = l.median.as_millis() as f64;
                DistKind::Lognormal {
                    mu: median.ln(),
                    sigma: (l.p99.as_millis() as f64 / median).ln() / Z_P99,
                    min: l.min.as_millis(),
                    max: l.max.as_millis(),
                }
            }
        };
        Ok(Self { spec, kind })
    }
}

impl Dist {
    pub(crate) fn uniform(min: Dur, max: Dur) -> Result<Self, String> {
        DistSpec::Uniform(UniformSpec { min, max }).try_into()
    }

    #[cfg(test)]
    pub(crate) fn lognormal(median: Dur, p99: Dur, min: Dur, max: Dur) -> Result<Self, String> {
        DistSpec::Lognormal(LognormalSpec {
            median,
            p99,
            min,
            max,
        })
        .try_into()
    }

    /// Whether every sample is the same value.
    #[cfg(test)]
    pub(crate) fn is_constant(&self) -> bool {
        matches!(self.kind, DistKind::Constant(_))
    }

    /// The smallest and largest value a sample can take.
    #[cfg(test)]
    pub(crate) fn bounds(&self) -> (Dur, Dur) {
        let (lo, hi) = match self.kind {
            DistKind::Constant(c) => (c, c),
            DistKind::Uniform { min, max } | DistKind::Lognormal { min, max, .. } => (min, max),
        };
        (Dur::from_millis(lo), Dur::from_millis(hi))
    }

    /// One draw, in milliseconds.
    pub(crate) fn sample_ms(&self, rng: &mut Xoshiro256PlusPlus) -> u64 {
        match self.kind {
            DistKind::Constant(c) => c,
            DistKind::Uniform { min, max } => rng.random_range(min..=max),
            DistKind::Lognormal {
                mu,
                sigma,
                min,
                max,
            } => {
                let z: f64 = rng.sample(StandardNormal);
                let x = (mu + sigma * z).exp();
                (x.round() as u64).clamp(min, max)
            }
        }
    }

    pub(crate) fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> Dur {
        Dur::from_millis(self.sample_ms(rng))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn lognormal_median_and_p99_shape_the_samples() {
        let d = Dist::lognormal(
            Dur::from_secs(30),
            Dur::from_secs(120),
            Dur::from_secs(1),
            Dur::from_mins(10),
        )
        .unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut v: Vec<u64> = (0..20_000).map(|_| d.sample_ms(&mut rng)).collect();
        v.sort_unstable();
        let p50 = v[v.len() / 2] as f64;
        let p99 = v[v.len() * 99 / 100] as f64;
        assert!((p50 - 30_000.0).abs() < 1_500.0, "p50 {p50}");
        assert!((p99 - 120_000.0).abs() < 12_000.0, "p99 {p99}");

        let u = Dist::uniform(Dur::from_secs(20), Dur::from_secs(90)).unwrap();
        for _ in 0..1000 {
            let x = u.sample_ms(&mut rng);
            assert!((20_000..=90_000).contains(&x));
        }
        assert!(Dist::uniform(Dur::from_secs(2), Dur::from_secs(1)).is_err());
    }
}
