//! The Mesos master's agent-loss flags as a profile writes them (`mesos_master:`), and the
//! master's removal rate limiter.
//!
//! The master pings every agent once per `agent_ping_timeout`; a ping unanswered by the next
//! one counts as a timeout, and after `max_agent_ping_timeouts` in a row the agent is marked
//! unreachable (Mesos `SlaveObserver::timeout`). That transition waits for a permit of
//! `agent_removal_rate_limit` (libprocess `RateLimiter`: the first permit at once, then one
//! per `duration / permits`, first come first served). DC/OS up to 1.11 sets 20 × 15 s and
//! `1/20mins`; from 1.12 `100/1mins` (`gen/dcos-config.yaml`).

use std::fmt;
use std::str::FromStr;

use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::{Dur, Timestamp};

/// The master's flags that decide when a lost agent becomes unreachable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MesosMaster {
    /// `--agent_ping_timeout`: the time a ping has to be answered (Mesos default 15 s).
    pub(crate) agent_ping_timeout: Dur,
    /// `--max_agent_ping_timeouts`: unanswered pings in a row before the agent is marked
    /// unreachable (Mesos default 5; DC/OS sets 20).
    pub(crate) max_agent_ping_timeouts: u32,
    /// `--agent_removal_rate_limit`, e.g. `1/20mins`; none (the key left out): no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent_removal_rate_limit: Option<RemovalRate>,
}

impl MesosMaster {
    /// From the host's death to the master's last unanswered ping: the death falls anywhere in
    /// a ping period, and the ping sent before it was answered, so `[N·T, (N+1)·T)`.
    pub(crate) fn pings_exhausted_ms(&self, rng: &mut Xoshiro256PlusPlus) -> u64 {
        let t = self.agent_ping_timeout.as_millis();
        let phase = if t == 0 { 0 } else { rng.random_range(0..t) };
        u64::from(self.max_agent_ping_timeouts) * t + (t - phase)
    }
}

/// `PERMITS/DURATION` with Mesos' duration units (`1/20mins`, `100/1mins`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RemovalRate {
    pub(crate) permits: u32,
    pub(crate) per: Dur,
}

impl RemovalRate {
    /// The time between two permits.
    fn interval(self) -> Dur {
        Dur::from_millis(self.per.as_millis() / u64::from(self.permits.max(1)))
    }
}

/// Mesos duration units (`stout/duration.hpp`), in milliseconds.
const UNITS: [(&str, u64); 6] = [
    ("ms", 1),
    ("secs", 1_000),
    ("mins", 60_000),
    ("hrs", 3_600_000),
    ("days", 86_400_000),
    ("weeks", 604_800_000),
];

impl FromStr for RemovalRate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a removal rate; hint: PERMITS/DURATION with a Mesos unit (ms, secs, mins, hrs, days, weeks), e.g. `1/20mins` (DC/OS 1.10-1.11) or `100/1mins` (1.12 on); leave the key out for no limit"
            )
        };
        let (permits, per) = s.trim().split_once('/').ok_or_else(bad)?;
        let permits: u32 = permits.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let digits = per.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = per.split_at(digits);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, ms)| *ms)
            .ok_or_else(bad)?;
        if permits == 0 || n == 0 {
            return Err(bad());
        }
        Ok(Self {
            permits,
            per: Dur::from_millis(n.saturating_mul(scale)),
        })
    }
}

impl fmt::Display for RemovalRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.per.as_millis();
        let (unit, scale) = UNITS
            .iter()
            .rev()
            .find(|(_, s)| ms.is_multiple_of(*s))
            .copied()
            .unwrap_or(UNITS[0]);
        write!(f, "{}/{}{unit}", self.permits, ms / scale)
    }
}

impl Serialize for RemovalRate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RemovalRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The master's removal rate limiter: when the next permit is free.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limiter {
    next: Option<Timestamp>,
}

impl Limiter {
    /// A permit asked for at `now`: when it is granted (at once, or after the ones before it).
    pub(crate) fn acquire(&mut self, now: Timestamp, rate: Option<RemovalRate>) -> Timestamp {
        let Some(rate) = rate else { return now };
        let at = self.next.map_or(now, |n| n.max(now));
        self.next = Some(at.saturating_add(rate.interval()));
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rates_parse_in_mesos_units_and_print_back() {
        let r: RemovalRate = "1/20mins".parse().unwrap();
        assert_eq!((r.permits, r.per), (1, Dur::from_mins(20)));
        assert_eq!(r.to_string(), "1/20mins");
        let r: RemovalRate = "100/1mins".parse().unwrap();
        assert_eq!(r.interval(), Dur::from_millis(600));
        assert_eq!(r.to_string(), "100/1mins");
        for bad in ["1/20m", "20mins", "0/1mins", "1/0secs", "x/1mins", "1/mins"] {
            let e = bad.parse::<RemovalRate>().unwrap_err();
            assert!(e.contains("hint:") && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn a_second_removal_waits_for_the_next_permit() {
        let rate = Some("1/20mins".parse().unwrap());
        let t = |m: u64| Timestamp::from_millis(0).saturating_add(Dur::from_mins(m));
        let mut l = Limiter::default();
        assert_eq!(l.acquire(t(5), rate), t(5));
        assert_eq!(l.acquire(t(5), rate), t(25));
        assert_eq!(l.acquire(t(6), rate), t(45));
        // Long after, the permit is free at once again.
        assert_eq!(l.acquire(t(100), rate), t(100));
        // No limit: always at once.
        assert_eq!(l.acquire(t(100), None), t(100));
    }

    #[test]
    fn the_dcos_1_10_profile_has_the_flags_and_a_profile_says_it_once() {
        use crate::cluster::sim::Profile;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/dcos-1.10.yaml");
        let p = Profile::load(path).unwrap();
        let m = p.mesos_master.clone().unwrap();
        assert_eq!(m.agent_ping_timeout, Dur::from_secs(15));
        assert_eq!(m.max_agent_ping_timeouts, 20);
        assert_eq!(m.agent_removal_rate_limit.unwrap().to_string(), "1/20mins");
        assert!(p.timings.agent_unreachable.is_none());
        let text = std::fs::read_to_string(path).unwrap();
        // Both the flags and the timing: refused where the timing is written.
        let both = text.replace(
            "  agent_inactive:",
            "  agent_unreachable: {constant: 5m}\n  agent_inactive:",
        );
        let err = Profile::parse(&both, "both.yaml").unwrap_err();
        let d = &err.diagnostics()[0];
        assert!(d.message.contains("both say"), "{err}");
        let line = both
            .lines()
            .position(|l| l.contains("agent_unreachable:"))
            .unwrap()
            + 1;
        assert_eq!(d.line, line, "{err}");
        // Neither: refused too.
        let start = text.find("mesos_master:").unwrap();
        let end = text.find("timings:").unwrap();
        let neither = format!("{}{}", &text[..start], &text[end..]);
        let err = Profile::parse(&neither, "neither.yaml").unwrap_err();
        assert!(err.to_string().contains("nothing says"), "{err}");
        // A malformed rate is located with its hint.
        let bad = text.replace("1/20mins", "1/20m");
        let err = Profile::parse(&bad, "bad.yaml").unwrap_err();
        assert!(err.to_string().contains("Mesos unit"), "{err}");
    }

    #[test]
    fn an_agent_is_unreachable_between_n_and_n_plus_one_pings_after_it_died() {
        let m = MesosMaster {
            agent_ping_timeout: Dur::from_secs(15),
            max_agent_ping_timeouts: 20,
            agent_removal_rate_limit: None,
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for _ in 0..1000 {
            let d = m.pings_exhausted_ms(&mut rng);
            assert!((300_000..=315_000).contains(&d), "{d}");
        }
    }
}
