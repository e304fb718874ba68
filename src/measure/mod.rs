//! Measurement: observed phases with error bounds, the metrics derived from them, HDR
//! histograms per metric, and SLO verdicts. Pure functions of data.

pub(crate) mod confidence;
pub(crate) mod decided;
pub mod ks;
pub(crate) mod stats;

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// Whether two polls bracketed the phase (no server stamp, not the harness's own call).
    pub(crate) const fn is_poll(self) -> bool {
        matches!(
            self,
            Self::PollEc2 | Self::PollAutoScaling | Self::PollMesos | Self::PollScheduler
        )
    }

    pub(crate) const fn as_str(self) -> &'static str {
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
pub(crate) struct Observed {
    pub(crate) at: Timestamp,
    pub(crate) error_ms: u64,
    pub(crate) source: Source,
}

impl Observed {
    /// A poll-observed transition: it happened in `(last_old, first_new]`; report the midpoint
    /// and the half-width, rounded outward.
    pub(crate) fn between_polls(last_old: Timestamp, first_new: Timestamp, source: Source) -> Self {
        Self::spanning(last_old, first_new, source)
    }

    /// The truth lies somewhere in `[lo, hi]` (milliseconds): report the midpoint and the
    /// half-width, both rounded up, so that `[at − error, at + error]` still holds both ends
    /// when the span is an odd number of milliseconds.
    pub(crate) fn spanning(lo: Timestamp, hi: Timestamp, source: Source) -> Self {
        let lo = lo.as_millis();
        let hi = hi.as_millis().max(lo);
        let width = (hi - lo) as u64;
        let below = width / 2;
        Self {
            at: Timestamp::from_millis(hi - below as i64),
            error_ms: width - below,
            source,
        }
    }

    /// A server-side stamp truncated to whole seconds (`LaunchTime`, activity `EndTime`): the truth
    /// lies in `[t, t + 1 s)`.
    pub(crate) fn whole_second(t: Timestamp, source: Source) -> Self {
        Self {
            at: Timestamp::from_millis(t.floor_to_second().as_millis() + 500),
            error_ms: 500,
            source,
        }
    }

    /// A server-side stamp with millisecond precision.
    pub(crate) fn exact(t: Timestamp, source: Source) -> Self {
        Self {
            at: t,
            error_ms: 1,
            source,
        }
    }

    /// The harness's own clock reading.
    pub(crate) fn harness(t: Timestamp, error_ms: u64) -> Self {
        Self {
            at: t,
            error_ms,
            source: Source::Harness,
        }
    }

    /// Something the harness caused between reading its clock at `before` and at `after`
    /// (a call and its retries): the midpoint, bounded by both readings, rounded outward.
    pub(crate) fn harness_between(before: Timestamp, after: Timestamp) -> Self {
        Self::spanning(before, after, Source::Harness)
    }
}

/// The verdict of an SLO, a scenario or a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Pass,
    Inconclusive,
    Fail,
}

impl Verdict {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Inconclusive => "inconclusive",
            Self::Fail => "fail",
        }
    }

    /// The worse of two verdicts (fail > inconclusive > pass).
    pub(crate) fn worst(self, other: Verdict) -> Verdict {
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
pub(crate) struct Sample {
    pub(crate) value: Dur,
    pub(crate) error_ms: u64,
}

impl Sample {
    pub(crate) fn between(from: &Observed, to: &Observed) -> Self {
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

    /// `[at − error, at + error]` holds all of `[lo, hi]`, and is at most one millisecond wider
    /// than it on each side.
    fn covers(o: Observed, lo: i64, hi: i64) {
        let (a, b) = (
            o.at.as_millis() - o.error_ms as i64,
            o.at.as_millis() + o.error_ms as i64,
        );
        assert!(a <= lo && hi <= b, "[{a}, {b}] misses [{lo}, {hi}]");
        assert!(
            lo - a <= 1 && b - hi <= 1,
            "[{a}, {b}] too wide for [{lo}, {hi}]"
        );
    }

    #[test]
    fn odd_millisecond_spans_are_rounded_outward() {
        for (lo, hi) in [
            (0, 1),
            (0, 5),
            (10_000, 15_001),
            (-7, 0),
            (1_764_532_800_123, 1_764_532_800_456),
            (3, 3),
            (41, 42),
        ] {
            let (a, b) = (Timestamp::from_millis(lo), Timestamp::from_millis(hi));
            covers(Observed::between_polls(a, b, Source::PollMesos), lo, hi);
            let h = Observed::harness_between(a, b);
            covers(h, lo, hi);
            assert_eq!(h.source, Source::Harness);
        }
        // (0, 5]: 3 ms ± 3 ms; never ± 2 ms (the old harness bracket, 2 ms ± 2 ms, lost 5).
        let o = Observed::harness_between(Timestamp::from_millis(0), Timestamp::from_millis(5));
        assert_eq!((o.at.as_millis(), o.error_ms), (3, 3));
        // Even spans stay exact: (10 000, 15 000] is 12 500 ± 2 500.
        let o = Observed::harness_between(
            Timestamp::from_millis(10_000),
            Timestamp::from_millis(15_000),
        );
        assert_eq!((o.at.as_millis(), o.error_ms), (12_500, 2_500));
        // A clock read backwards collapses to the first reading.
        let o = Observed::harness_between(Timestamp::from_millis(9), Timestamp::from_millis(4));
        assert_eq!((o.at.as_millis(), o.error_ms), (9, 0));
        // The old `between_polls` figures are unchanged (no snapshot moves).
        let o = Observed::between_polls(
            Timestamp::from_millis(10_000),
            Timestamp::from_millis(15_001),
            Source::PollScheduler,
        );
        assert_eq!((o.at.as_millis(), o.error_ms), (12_501, 2_501));
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
