//! The timeline's words (DESIGN §3): the phases of a run, the metrics between them, and the
//! percentiles SLOs are stated in.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A named moment in a run's timeline (DESIGN §3).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    SteadyStateVerified,
    FaultInjected,
    InstanceTerminated,
    ReplacementLaunched,
    ReplacementInService,
    AgentDisconnected,
    AgentLost,
    AgentRegistered,
    TaskLost,
    PodReplaceIssued,
    TaskRunning,
    RecoveryComplete,
    // A seed was replaced: the recovery's restart of every other node in place is done (the
    // whole `permanent-node-failure-recovery` phase is COMPLETE). Never seen when no victim
    // is a seed. (A plain comment: a doc comment would split the schema's enum.)
    RingRestarted,
}

impl Phase {
    pub(crate) const ALL: [Phase; 13] = [
        Phase::SteadyStateVerified,
        Phase::FaultInjected,
        Phase::InstanceTerminated,
        Phase::ReplacementLaunched,
        Phase::ReplacementInService,
        Phase::AgentDisconnected,
        Phase::AgentLost,
        Phase::AgentRegistered,
        Phase::TaskLost,
        Phase::PodReplaceIssued,
        Phase::TaskRunning,
        Phase::RecoveryComplete,
        Phase::RingRestarted,
    ];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::SteadyStateVerified => "steady_state_verified",
            Self::FaultInjected => "fault_injected",
            Self::InstanceTerminated => "instance_terminated",
            Self::ReplacementLaunched => "replacement_launched",
            Self::ReplacementInService => "replacement_in_service",
            Self::AgentDisconnected => "agent_disconnected",
            Self::AgentLost => "agent_lost",
            Self::AgentRegistered => "agent_registered",
            Self::TaskLost => "task_lost",
            Self::PodReplaceIssued => "pod_replace_issued",
            Self::TaskRunning => "task_running",
            Self::RecoveryComplete => "recovery_complete",
            Self::RingRestarted => "ring_restarted",
        }
    }

    /// Phases that only exist when a DC/OS service is watched.
    pub(crate) const fn needs_service(self) -> bool {
        matches!(
            self,
            Self::AgentDisconnected
                | Self::AgentLost
                | Self::AgentRegistered
                | Self::TaskLost
                | Self::PodReplaceIssued
                | Self::TaskRunning
                | Self::RecoveryComplete
                | Self::RingRestarted
        )
    }

    /// Phases that only exist when the ASG replaces the instance.
    pub(crate) const fn needs_replacement(self) -> bool {
        matches!(
            self,
            Self::InstanceTerminated | Self::ReplacementLaunched | Self::ReplacementInService
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A duration between two phases, aggregated over runs (names are part of the JSON contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Metric {
    TimeToAsgReplacement,
    TimeToCassandraRunning,
    TimeToReplacementLaunched,
    TimeToAgentRegistered,
    TimeToTaskLost,
    ReplaceToRunning,
    TimeToRecoveryComplete,
    TimeToRingRestarted,
}

impl Metric {
    /// Headline metrics first.
    pub(crate) const ALL: [Metric; 8] = [
        Metric::TimeToAsgReplacement,
        Metric::TimeToCassandraRunning,
        Metric::TimeToReplacementLaunched,
        Metric::TimeToAgentRegistered,
        Metric::TimeToTaskLost,
        Metric::ReplaceToRunning,
        Metric::TimeToRecoveryComplete,
        Metric::TimeToRingRestarted,
    ];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::TimeToAsgReplacement => "time_to_asg_replacement",
            Self::TimeToCassandraRunning => "time_to_cassandra_running",
            Self::TimeToReplacementLaunched => "time_to_replacement_launched",
            Self::TimeToAgentRegistered => "time_to_agent_registered",
            Self::TimeToTaskLost => "time_to_task_lost",
            Self::ReplaceToRunning => "replace_to_running",
            Self::TimeToRecoveryComplete => "time_to_recovery_complete",
            Self::TimeToRingRestarted => "time_to_ring_restarted",
        }
    }

    /// `(from, to)`: the metric is `to − from`.
    pub(crate) const fn span(self) -> (Phase, Phase) {
        match self {
            Self::TimeToAsgReplacement => (Phase::FaultInjected, Phase::ReplacementInService),
            Self::TimeToCassandraRunning => (Phase::FaultInjected, Phase::TaskRunning),
            Self::TimeToReplacementLaunched => (Phase::FaultInjected, Phase::ReplacementLaunched),
            Self::TimeToAgentRegistered => (Phase::FaultInjected, Phase::AgentRegistered),
            Self::TimeToTaskLost => (Phase::FaultInjected, Phase::TaskLost),
            Self::ReplaceToRunning => (Phase::PodReplaceIssued, Phase::TaskRunning),
            Self::TimeToRecoveryComplete => (Phase::FaultInjected, Phase::RecoveryComplete),
            Self::TimeToRingRestarted => (Phase::FaultInjected, Phase::RingRestarted),
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
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
pub(crate) struct Percentile(u32);

impl Percentile {
    pub(crate) const MAX: Percentile = Percentile(10_000);

    #[cfg(test)]
    pub(crate) const fn from_hundredths(h: u32) -> Self {
        Self(h)
    }

    /// As a quantile in `(0, 1]`.
    pub(crate) fn quantile(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }
}

/// Why a percentile key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PercentileError {
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
}
