//! Measurement: observed phases with error bounds, the metrics derived from them, HDR
//! histograms per metric, and SLO verdicts. Pure functions of data.

pub mod stats;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::scenario::Phase;
use crate::time::{Dur, Timestamp};

/// Where a phase's time came from; the better the source, the tighter the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The harness's own clock around its own call (fault injection, pod replace, preflight).
    Harness,
    /// A scaling activity's `StartTime` / `EndTime`.
    AsgActivity,
    /// The instance's EC2 `LaunchTime` (whole seconds).
    Ec2LaunchTime,
    /// A Mesos agent's `registered_time` / `reregistered_time`.
    MesosAgent,
    /// A Mesos task status `timestamp`.
    MesosTaskStatus,
    /// Bracketed between two polls of EC2.
    PollEc2,
    /// Bracketed between two polls of Auto Scaling.
    PollAutoScaling,
    /// Bracketed between two polls of the Mesos master.
    PollMesos,
    /// Bracketed between two polls of the service scheduler.
    PollScheduler,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Harness => "harness",
            Self::AsgActivity => "asg-activity",
            Self::Ec2LaunchTime => "ec2-launch-time",
            Self::MesosAgent => "mesos-agent",
            Self::MesosTaskStatus => "mesos-task-status",
            Self::PollEc2 => "poll-ec2",
            Self::PollAutoScaling => "poll-auto-scaling",
            Self::PollMesos => "poll-mesos",
            Self::PollScheduler => "poll-scheduler",
        }
    }
}

/// A phase as observed: its best estimate and the half-width of the interval the truth lies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub at: Timestamp,
    pub error_ms: u64,
    pub source: Source,
}

impl Observed {
    /// A poll-observed transition: it happened in `(last_old, first_new]`; report the midpoint
    /// and the half-width.
    pub fn between_polls(last_old: Timestamp, first_new: Timestamp, source: Source) -> Self {
        let lo = last_old.as_millis();
        let hi = first_new.as_millis().max(lo);
        let half = (hi - lo) as u64 / 2;
        Self {
            at: Timestamp::from_millis(hi - half as i64),
            error_ms: (hi - lo) as u64 - half,
            source,
        }
    }

    /// A server-side stamp truncated to whole seconds (`LaunchTime`, activity `EndTime`): the truth
    /// lies in `[t, t + 1 s)`.
    pub fn whole_second(t: Timestamp, source: Source) -> Self {
        Self {
            at: Timestamp::from_millis(t.floor_to_second().as_millis() + 500),
            error_ms: 500,
            source,
        }
    }

    /// A server-side stamp with millisecond precision.
    pub fn exact(t: Timestamp, source: Source) -> Self {
        Self {
            at: t,
            error_ms: 1,
            source,
        }
    }

    /// The harness's own clock reading.
    pub fn harness(t: Timestamp, error_ms: u64) -> Self {
        Self {
            at: t,
            error_ms,
            source: Source::Harness,
        }
    }
}

/// A duration between two phases, aggregated over runs (names are part of the JSON contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    TimeToAsgReplacement,
    TimeToCassandraRunning,
    TimeToReplacementLaunched,
    TimeToAgentRegistered,
    TimeToTaskLost,
    ReplaceToRunning,
    TimeToRecoveryComplete,
}

impl Metric {
    /// Headline metrics first.
    pub const ALL: [Metric; 7] = [
        Metric::TimeToAsgReplacement,
        Metric::TimeToCassandraRunning,
        Metric::TimeToReplacementLaunched,
        Metric::TimeToAgentRegistered,
        Metric::TimeToTaskLost,
        Metric::ReplaceToRunning,
        Metric::TimeToRecoveryComplete,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TimeToAsgReplacement => "time_to_asg_replacement",
            Self::TimeToCassandraRunning => "time_to_cassandra_running",
            Self::TimeToReplacementLaunched => "time_to_replacement_launched",
            Self::TimeToAgentRegistered => "time_to_agent_registered",
            Self::TimeToTaskLost => "time_to_task_lost",
            Self::ReplaceToRunning => "replace_to_running",
            Self::TimeToRecoveryComplete => "time_to_recovery_complete",
        }
    }

    /// `(from, to)`: the metric is `to − from`.
    pub const fn span(self) -> (Phase, Phase) {
        match self {
            Self::TimeToAsgReplacement => (Phase::FaultInjected, Phase::ReplacementInService),
            Self::TimeToCassandraRunning => (Phase::FaultInjected, Phase::TaskRunning),
            Self::TimeToReplacementLaunched => (Phase::FaultInjected, Phase::ReplacementLaunched),
            Self::TimeToAgentRegistered => (Phase::FaultInjected, Phase::AgentRegistered),
            Self::TimeToTaskLost => (Phase::FaultInjected, Phase::TaskLost),
            Self::ReplaceToRunning => (Phase::PodReplaceIssued, Phase::TaskRunning),
            Self::TimeToRecoveryComplete => (Phase::FaultInjected, Phase::RecoveryComplete),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A percentile in hundredths of a percent: `p50` = 5000, `p99.9` = 9990, `max` = 10000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percentile(u32);

impl Percentile {
    pub const MAX: Percentile = Percentile(10_000);

    pub const fn from_hundredths(h: u32) -> Self {
        Self(h)
    }

    /// As a quantile in `(0, 1]`.
    pub fn quantile(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }
}

/// Why a percentile key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentileError {
    #[error("`{0}` is not a percentile; hint: write `p50`, `p90`, `p99`, `p99.9` or `max`")]
    Malformed(String),
    #[error("percentile `{0}` is over 100; hint: percentiles run from p0.01 to p100 (or `max`)")]
    OverHundred(String),
    #[error("percentile `{0}` is zero; hint: the smallest percentile is p0.01")]
    Zero(String),
    #[error(
        "percentile `{0}` is finer than hundredths; hint: write at most two decimals, e.g. `p99.99`"
    )]
    TooFine(String),
}

impl FromStr for Percentile {
    type Err = PercentileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "max" {
            return Ok(Self::MAX);
        }
        let num = s
            .strip_prefix('p')
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| PercentileError::Malformed(s.to_string()))?;
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) {
            return Err(PercentileError::Malformed(s.to_string()));
        }
        if frac.len() > 2 {
            return Err(PercentileError::TooFine(s.to_string()));
        }
        let int: u64 = int
            .parse()
            .map_err(|_| PercentileError::OverHundred(s.to_string()))?;
        let frac_h: u64 = format!("{frac:0<2}").parse().unwrap_or(0);
        let h = int.saturating_mul(100).saturating_add(frac_h);
        if h > 10_000 {
            return Err(PercentileError::OverHundred(s.to_string()));
        }
        if h == 0 {
            return Err(PercentileError::Zero(s.to_string()));
        }
        Ok(Self(h as u32))
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::MAX {
            return f.write_str("max");
        }
        let (int, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "p{int}"),
            f2 if f2 % 10 == 0 => write!(f, "p{int}.{}", f2 / 10),
            f2 => write!(f, "p{int}.{f2:02}"),
        }
    }
}

impl Serialize for Percentile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percentile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The verdict of an SLO, a scenario or a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Inconclusive,
    Fail,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Inconclusive => "inconclusive",
            Self::Fail => "fail",
        }
    }

    /// The worse of two verdicts (fail > inconclusive > pass).
    pub fn worst(self, other: Verdict) -> Verdict {
        self.max(other)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric's value in one run, with its error bound (the sum of both phases' bounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub value: Dur,
    pub error_ms: u64,
}

impl Sample {
    pub fn between(from: &Observed, to: &Observed) -> Self {
        Self {
            value: to.at.since(from.at),
            error_ms: from.error_ms + to.error_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_parse_and_print() {
        for (s, h) in [
            ("p50", 5000),
            ("p99", 9900),
            ("p99.9", 9990),
            ("p99.99", 9999),
            ("max", 10000),
            ("p100", 10000),
        ] {
            assert_eq!(s.parse::<Percentile>().unwrap(), Percentile(h), "{s}");
        }
        assert_eq!(Percentile(9990).to_string(), "p99.9");
        assert_eq!(Percentile(9999).to_string(), "p99.99");
        assert_eq!(Percentile(5000).to_string(), "p50");
    }

    #[test]
    fn bad_percentiles_say_why() {
        assert!(matches!(
            "p101".parse::<Percentile>(),
            Err(PercentileError::OverHundred(_))
        ));
        assert!(matches!(
            "p100.5".parse::<Percentile>(),
            Err(PercentileError::OverHundred(_))
        ));
        assert!(matches!(
            "p0".parse::<Percentile>(),
            Err(PercentileError::Zero(_))
        ));
        assert!(matches!(
            "p99.999".parse::<Percentile>(),
            Err(PercentileError::TooFine(_))
        ));
        for bad in ["p", "99", "p9x", "p.5", "p5.", "median", "p1.2.3"] {
            assert!(
                matches!(
                    bad.parse::<Percentile>(),
                    Err(PercentileError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            "p99999999999999999999".parse::<Percentile>(),
            Err(PercentileError::OverHundred(_))
        ));
    }

    #[test]
    fn poll_bracket_reports_midpoint_and_half_width() {
        let o = Observed::between_polls(
            Timestamp::from_millis(10_000),
            Timestamp::from_millis(15_000),
            Source::PollEc2,
        );
        assert_eq!(o.at, Timestamp::from_millis(12_500));
        assert_eq!(o.error_ms, 2500);
        // odd widths keep the whole interval covered
        let o = Observed::between_polls(
            Timestamp::from_millis(0),
            Timestamp::from_millis(5),
            Source::PollEc2,
        );
        assert!(o.at.as_millis() - o.error_ms as i64 <= 0);
        assert!(o.at.as_millis() + o.error_ms as i64 >= 5);
    }

    #[test]
    fn whole_second_stamps_cover_their_second() {
        let o = Observed::whole_second(Timestamp::from_millis(61_000), Source::AsgActivity);
        assert_eq!(o.at, Timestamp::from_millis(61_500));
        assert_eq!(o.error_ms, 500);
    }

    #[test]
    fn verdicts_order_by_severity() {
        assert_eq!(
            Verdict::Pass.worst(Verdict::Inconclusive),
            Verdict::Inconclusive
        );
        assert_eq!(Verdict::Fail.worst(Verdict::Inconclusive), Verdict::Fail);
    }
}
