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

/// The z-score of the clamp of a fitted lognormal: 10⁻⁶ of the mass lies beyond it on either
/// side.
const Z_TAIL: f64 = 4.753_424_308_822_899;

/// A duration for a profile: whole milliseconds below a second, tenths of a second below a
/// minute, whole seconds above (the precision a fit from real runs has; figures stay readable).
pub(crate) fn rounded(ms: f64) -> Dur {
    let ms = ms.max(0.0);
    let step = if ms >= 60_000.0 {
        1000.0
    } else if ms >= 1000.0 {
        100.0
    } else {
        1.0
    };
    Dur::from_millis(((ms / step).round() * step) as u64)
}

/// Φ, the standard normal distribution function (erfc after Numerical Recipes' Chebyshev
/// fit, relative error below 1.2·10⁻⁷).
pub(crate) fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

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

    /// A lognormal of location `mu` and spread `sigma` (of the log of milliseconds), as a
    /// fit finds it: clamped at `clamp`'s ends where it names them (where the data pile up),
    /// else only at its 10⁻⁶ tails, so that such a clamp changes no figure a prediction of 10⁵
    /// runs shows. Durations are rounded as [`rounded`] says; the clamps are kept as given.
    pub(crate) fn lognormal_of(
        mu: f64,
        sigma: f64,
        clamp: [Option<Dur>; 2],
    ) -> Result<Self, String> {
        let at = |z: f64| rounded((mu + sigma * z).exp());
        DistSpec::Lognormal(LognormalSpec {
            median: at(0.0),
            p99: at(Z_P99),
            min: clamp[0].unwrap_or_else(|| at(-Z_TAIL)),
            max: clamp[1].unwrap_or_else(|| at(Z_TAIL)),
        })
        .try_into()
    }

    /// A lognormal's clamps, `[min, max]`.
    pub(crate) fn lognormal_clamps(&self) -> Option<[Dur; 2]> {
        match self.kind {
            DistKind::Lognormal { min, max, .. } => {
                Some([Dur::from_millis(min), Dur::from_millis(max)])
            }
            DistKind::Constant(_) | DistKind::Uniform { .. } => None,
        }
    }

    /// P(X ≤ x) for a sample `X` as [`Dist::sample_ms`] draws it (clamp included), `x` in ms.
    pub(crate) fn cdf(&self, x: f64) -> f64 {
        match self.kind {
            DistKind::Constant(c) => f64::from(u8::from(x >= c as f64)),
            DistKind::Uniform { min, max } => {
                if x < min as f64 {
                    0.0
                } else if max == min || x >= max as f64 {
                    1.0
                } else {
                    (x - min as f64) / (max - min) as f64
                }
            }
            DistKind::Lognormal {
                mu,
                sigma,
                min,
                max,
            } => {
                if x < min as f64 {
                    0.0
                } else if x >= max as f64 {
                    1.0
                } else {
                    normal_cdf((x.max(f64::MIN_POSITIVE).ln() - mu) / sigma)
                }
            }
        }
    }

    /// The profile's written form: `{lognormal: {median: 30s, p99: 2m, min: 5s, max: 3m}}`.
    pub(crate) fn to_yaml(&self) -> String {
        match &self.spec {
            DistSpec::Constant(d) => format!("{{constant: {d}}}"),
            DistSpec::Uniform(u) => format!("{{uniform: {{min: {}, max: {}}}}}", u.min, u.max),
            DistSpec::Lognormal(l) => format!(
                "{{lognormal: {{median: {}, p99: {}, min: {}, max: {}}}}}",
                l.median, l.p99, l.min, l.max
            ),
        }
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

    #[test]
    fn the_cdf_follows_the_samples() {
        let d = Dist::lognormal_of(30_000f64.ln(), 0.6, [None; 2]).unwrap();
        assert_eq!(
            d.to_yaml(),
            "{lognormal: {median: 30s, p99: 2m1s, min: 1700ms, max: 8m40s}}"
        );
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let n = 20_000;
        let below = (0..n).filter(|_| d.sample_ms(&mut rng) <= 45_000).count();
        let p = below as f64 / n as f64;
        assert!(
            (p - d.cdf(45_000.0)).abs() < 0.01,
            "{p} vs {}",
            d.cdf(45_000.0)
        );
        assert!((normal_cdf(1.959_963_985) - 0.975).abs() < 1e-7);
        assert!((normal_cdf(-3.0) - 0.001_349_898).abs() < 1e-8);
        let u = Dist::uniform(Dur::from_secs(10), Dur::from_secs(20)).unwrap();
        assert_eq!(u.cdf(15_000.0), 0.5);
        assert_eq!((u.cdf(0.0), u.cdf(30_000.0)), (0.0, 1.0));
        assert_eq!(rounded(30_449.0), Dur::from_millis(30_400));
        assert_eq!(rounded(90_600.0), Dur::from_secs(91));
    }
}
