//! Time as the harness sees it: UTC wall-clock stamps with millisecond resolution and
//! human-written durations (`90s`, `15m`, `1h30m`).
//!
//! Everything that flows through the runner, the journal and the reports uses these two types,
//! never `f64` seconds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant, milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Unix seconds as a float, the way Mesos reports `registered_time` and task timestamps.
    pub(crate) fn from_unix_seconds_f64(secs: f64) -> Self {
        Self((secs * 1000.0).round() as i64)
    }

    pub(crate) fn as_unix_seconds_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The start of the whole second holding this instant (AWS `LaunchTime`, activity `EndTime`).
    pub(crate) const fn floor_to_second(self) -> Self {
        Self(self.0.div_euclid(1000) * 1000)
    }

    pub(crate) fn now() -> Self {
        Self(jiff::Timestamp::now().as_millisecond())
    }

    pub(crate) fn saturating_add(self, d: Dur) -> Self {
        Self(self.0.saturating_add(d.as_millis() as i64))
    }

    /// The duration from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Dur {
        Dur::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// RFC 3339 with milliseconds, e.g. `2026-01-05T10:00:00.000Z`.
    pub(crate) fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// Parses RFC 3339 (any sub-second precision); sub-millisecond digits are truncated.
    pub(crate) fn parse_rfc3339(s: &str) -> Option<Self> {
        s.parse::<jiff::Timestamp>()
            .ok()
            .map(|ts| Self(ts.as_millisecond()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 timestamp `{s}`")))
    }
}

/// The clock of a real target: the wall clock, or (to benchmark against `sim serve` without
/// waiting hours) the wall clock sped up `speed` times from an origin. A server and a client
/// that share one `Clock` agree on every instant.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    speed: u32,
    origin: Timestamp,
    origin_instant: std::time::Instant,
}

impl Clock {
    pub(crate) fn wall() -> Self {
        Self::scaled(1)
    }

    /// Runs `speed` times faster than the wall clock from now on (`speed` ≥ 1).
    pub fn scaled(speed: u32) -> Self {
        Self {
            speed: speed.max(1),
            origin: Timestamp::now(),
            origin_instant: std::time::Instant::now(),
        }
    }

    #[cfg(test)]
    pub(crate) fn speed(&self) -> u32 {
        self.speed
    }

    pub(crate) fn now(&self) -> Timestamp {
        if self.speed == 1 {
            return Timestamp::now();
        }
        // From microseconds, so that a sped-up clock does not move in steps of `speed` ms.
        let real_us = self.origin_instant.elapsed().as_micros();
        let ms = real_us.saturating_mul(u128::from(self.speed)) / 1000;
        self.origin
            .saturating_add(Dur::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
    }

    /// How long `d` on this clock lasts on the wall clock.
    pub(crate) fn real(&self, d: Dur) -> std::time::Duration {
        d.to_std() / self.speed
    }

    pub(crate) async fn sleep(&self, d: Dur) {
        tokio::time::sleep(self.real(d)).await;
    }
}

/// A non-negative duration with millisecond resolution, written like `90s`, `15m`, `1h30m`,
/// `250ms` in scenario files and reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(u64);

impl Dur {
    pub const ZERO: Dur = Dur(0);

    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    pub const fn from_secs(s: u64) -> Self {
        Self(s * 1000)
    }

    pub const fn from_mins(m: u64) -> Self {
        Self(m * 60_000)
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    pub(crate) const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    /// A compact human form for tables: `13m 25.3s`, `42.0s`, `850ms`, `1h 02m`.
    pub fn human(self) -> String {
        let ms = self.0;
        if ms < 1000 {
            format!("{ms}ms")
        } else if ms < 60_000 {
            format!("{:.1}s", ms as f64 / 1000.0)
        } else if ms < 3_600_000 {
            format!("{}m {:04.1}s", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
        } else {
            format!("{}h {:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
        }
    }
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurError {
    #[error("empty duration; hint: write a number with a unit, e.g. `90s` or `15m`")]
    Empty,
    #[error("duration `{0}` is negative; hint: durations count forward from the fault, e.g. `90s`")]
    Negative(String),
    #[error("duration `{0}` has no unit; hint: add one of ms, s, m, h (e.g. `{0}s`)")]
    MissingUnit(String),
    #[error("duration `{text}` has an unknown unit `{unit}`; hint: use ms, s, m or h")]
    UnknownUnit { text: String, unit: String },
    #[error("duration `{0}` is not a number with a unit; hint: write e.g. `90s`, `15m`, `1h30m`")]
    Malformed(String),
    #[error("duration `{0}` is too large; hint: the longest accepted duration is 7 days")]
    TooLarge(String),
}

/// The longest duration a scenario or profile may name (a week): beyond it is a typo.
pub(crate) const MAX_DURATION: Dur = Dur::from_mins(7 * 24 * 60);

impl FromStr for Dur {
    type Err = DurError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurError::Empty);
        }
        if s.starts_with('-') {
            return Err(DurError::Negative(s.to_string()));
        }
        let mut total: f64 = 0.0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if num_len == 0 {
                return Err(DurError::Malformed(s.to_string()));
            }
            let value: f64 = rest[..num_len]
                .parse()
                .map_err(|_| DurError::Malformed(s.to_string()))?;
            rest = rest[num_len..].trim_start();
            let unit_len = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = rest[unit_len..].trim_start();
            let factor = match unit {
                "ms" => 1.0,
                "s" => 1000.0,
                "m" | "min" => 60_000.0,
                "h" => 3_600_000.0,
                "" => return Err(DurError::MissingUnit(s.to_string())),
                other => {
                    return Err(DurError::UnknownUnit {
                        text: s.to_string(),
                        unit: other.to_string(),
                    });
                }
            };
            total += value * factor;
            if total > MAX_DURATION.0 as f64 {
                return Err(DurError::TooLarge(s.to_string()));
            }
        }
        Ok(Dur(total.round() as u64))
    }
}

impl fmt::Display for Dur {
    /// The canonical written form, which parses back to the same value: `1h30m`, `15m`, `90s`,
    /// `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let mut secs = ms / 1000;
        let h = secs / 3600;
        secs %= 3600;
        let m = secs / 60;
        let s = secs % 60;
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, e.g. `90s` or `15m`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Err(E::custom(DurError::MissingUnit(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                if v < 0 {
                    Err(E::custom(DurError::Negative(v.to_string())))
                } else {
                    Err(E::custom(DurError::MissingUnit(v.to_string())))
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(DurError::MissingUnit(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration with units: ms, s, m (or min), h; e.g. `90s`, `15m`, `1h30m`.",
            "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|min|h))+$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sped_up_clock_shortens_real_waits_and_never_runs_slow() {
        let c = Clock::scaled(100);
        assert_eq!(c.speed(), 100);
        assert_eq!(
            c.real(Dur::from_secs(5)),
            std::time::Duration::from_millis(50)
        );
        assert_eq!(Clock::scaled(0).speed(), 1);
        assert_eq!(
            Clock::wall().real(Dur::from_secs(5)),
            std::time::Duration::from_secs(5)
        );
        // Starts at the wall clock's now and only moves forward.
        let before = Timestamp::now();
        let c = Clock::scaled(1000);
        let (a, b) = (c.now(), c.now());
        assert!(a >= before && b >= a, "{before} {a} {b}");
    }

    #[test]
    fn parses_human_durations() {
        assert_eq!("90s".parse::<Dur>().unwrap(), Dur::from_secs(90));
        assert_eq!("15m".parse::<Dur>().unwrap(), Dur::from_mins(15));
        assert_eq!("1h30m".parse::<Dur>().unwrap(), Dur::from_mins(90));
        assert_eq!("250ms".parse::<Dur>().unwrap(), Dur::from_millis(250));
        assert_eq!("1.5s".parse::<Dur>().unwrap(), Dur::from_millis(1500));
        assert_eq!("2m 30s".parse::<Dur>().unwrap(), Dur::from_secs(150));
    }

    #[test]
    fn rejects_bad_durations_with_a_reason() {
        assert_eq!("".parse::<Dur>(), Err(DurError::Empty));
        assert!(matches!("-5s".parse::<Dur>(), Err(DurError::Negative(_))));
        assert!(matches!("15".parse::<Dur>(), Err(DurError::MissingUnit(_))));
        assert!(matches!(
            "15 minutes".parse::<Dur>(),
            Err(DurError::UnknownUnit { .. })
        ));
        assert!(matches!("m15".parse::<Dur>(), Err(DurError::Malformed(_))));
        assert!(matches!(
            "8d".parse::<Dur>(),
            Err(DurError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "99999999h".parse::<Dur>(),
            Err(DurError::TooLarge(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for ms in [0, 1, 999, 1000, 61_000, 90 * 60_000, 3_600_000 + 1000, 1500] {
            let d = Dur::from_millis(ms);
            assert_eq!(d.to_string().parse::<Dur>().unwrap(), d, "{d}");
        }
        assert_eq!(Dur::from_mins(90).to_string(), "1h30m");
    }

    #[test]
    fn timestamps_render_with_milliseconds_and_parse_back() {
        let t = Timestamp::from_millis(1_767_225_600_123);
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
        assert_eq!(
            Timestamp::parse_rfc3339("2020-02-11T18:34:31.268123Z")
                .unwrap()
                .as_millis()
                % 1000,
            268
        );
        assert_eq!(t.floor_to_second().as_millis() % 1000, 0);
    }

    #[test]
    fn human_form_for_tables() {
        assert_eq!(Dur::from_millis(850).human(), "850ms");
        assert_eq!(Dur::from_millis(42_000).human(), "42.0s");
        assert_eq!(Dur::from_millis(805_300).human(), "13m 25.3s");
        assert_eq!(Dur::from_mins(62).human(), "1h 02m");
    }
}
