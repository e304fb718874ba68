//! Where the service's scheduler runs and how Marathon brings it back (`scheduler:` in a
//! profile).
//!
//! A dcos-commons scheduler is a Marathon app on a private agent (seed-cluster.md, "The
//! scheduler's own agent"). When that agent dies the scheduler dies with it and Admin Router
//! answers `/service/<name>/…` with 502 until a new instance listens. Marathon learns of the
//! loss when the master marks the agent unreachable (`TASK_UNREACHABLE`) and launches a new
//! instance once it has been unreachable for `unreachableStrategy.inactiveAfterSeconds`
//! (default 300 s, Marathon `UnreachableStrategy.DefaultEphemeralInactiveAfter`; the
//! Cassandra app sets none, dcos-commons `frameworks/cassandra/universe/marathon.json.mustache`),
//! or at once when its task is gone (the agent came back without it). The new scheduler
//! serves its API from the state store, registers, and reconciles explicitly with the master
//! (`ExplicitReconciler`); every status it learns that way carries `REASON_RECONCILIATION`
//! and the reconciliation's time (Mesos `master.cpp` `reconcile`). Updates the master sent
//! while it was down were dropped (`__removeSlave`: "Dropping update … for disconnected
//! framework").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::dist::Dist;
use crate::time::Dur;

/// The profile's `scheduler:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SchedulerSpec {
    /// The private agent the scheduler runs on at install.
    pub(crate) agent: Placement,
    /// Marathon's `unreachableStrategy.inactiveAfterSeconds`: how long the scheduler's task
    /// stays unreachable before Marathon launches another instance.
    pub(crate) unreachable_inactive_after: Dur,
    /// Marathon launches the new instance → its API listens (offer, fetch, JVM start, state
    /// store load).
    pub(crate) relaunch: Dist,
    /// The API listens → the explicit reconciliation's answers are stored.
    pub(crate) reconcile: Dist,
}

impl Default for SchedulerSpec {
    fn default() -> Self {
        Self {
            agent: Placement::Random,
            unreachable_inactive_after: Dur::from_mins(5),
            relaunch: Dist::uniform(Dur::from_secs(30), Dur::from_mins(2)).expect("valid"),
            reconcile: Dist::uniform(Dur::from_secs(1), Dur::from_secs(5)).expect("valid"),
        }
    }
}

impl SchedulerSpec {
    pub(crate) fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Which private agent runs the scheduler at install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Any private agent, drawn from a random stream of its own (so that the other seeded
    /// draws stay as they were).
    Random,
    /// The agent of pod `node-<n>`.
    Pod(u32),
    /// None of the private agents (e.g. a scheduler pinned elsewhere): never hit.
    Elsewhere,
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Random => f.write_str("random"),
            Self::Pod(n) => write!(f, "node-{n}"),
            Self::Elsewhere => f.write_str("elsewhere"),
        }
    }
}

impl FromStr for Placement {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "random" => Ok(Self::Random),
            "elsewhere" => Ok(Self::Elsewhere),
            other => other
                .strip_prefix("node-")
                .and_then(|n| n.parse().ok())
                .map(Self::Pod)
                .ok_or_else(|| {
                    format!(
                        "`{other}` is no scheduler placement; hint: `random`, `elsewhere` or a pod's name such as `node-4`"
                    )
                }),
        }
    }
}

impl Serialize for Placement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Placement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_parse_and_print_back() {
        for s in ["random", "elsewhere", "node-4"] {
            assert_eq!(s.parse::<Placement>().unwrap().to_string(), s);
        }
        assert!("node-x".parse::<Placement>().unwrap_err().contains("hint"));
    }
}
