//! The feeds a poll may ask (each API on its own cadence), a set of them, and one value per
//! feed indexed by the feed itself.

use crate::vocab::Phase;

/// What one poll may ask, each on its own cadence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Feed {
    /// `DescribeInstances` of the victims.
    Ec2,
    /// The group, its scaling activities since the fault, and its new members' descriptions.
    Asg,
    /// The Mesos master's agents.
    Agents,
    /// The victims' pods.
    Pods,
    /// The recovery plan.
    Recovery,
    /// Every pod's status and the group's members, for the stop conditions: gently, to the
    /// end of the run.
    Watch,
}

impl Feed {
    pub(crate) const ALL: [Feed; 6] = [
        Feed::Ec2,
        Feed::Asg,
        Feed::Agents,
        Feed::Pods,
        Feed::Recovery,
        Feed::Watch,
    ];

    pub(super) fn of(phase: Phase) -> Option<Feed> {
        match phase {
            Phase::InstanceTerminated => Some(Feed::Ec2),
            Phase::ReplacementLaunched | Phase::ReplacementInService => Some(Feed::Asg),
            Phase::AgentDisconnected | Phase::AgentLost | Phase::AgentRegistered => {
                Some(Feed::Agents)
            }
            Phase::TaskLost | Phase::TaskRunning => Some(Feed::Pods),
            Phase::RecoveryComplete | Phase::RingRestarted => Some(Feed::Recovery),
            Phase::SteadyStateVerified | Phase::FaultInjected | Phase::PodReplaceIssued => None,
        }
    }
}

/// One value per feed, indexed by the feed itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PerFeed<T>([T; Feed::ALL.len()]);

impl<T: Copy> PerFeed<T> {
    /// The same value for every feed.
    pub(crate) fn splat(v: T) -> Self {
        Self([v; Feed::ALL.len()])
    }
}

impl<T> std::ops::Index<Feed> for PerFeed<T> {
    type Output = T;

    fn index(&self, f: Feed) -> &T {
        &self.0[f as usize]
    }
}

impl<T> std::ops::IndexMut<Feed> for PerFeed<T> {
    fn index_mut(&mut self, f: Feed) -> &mut T {
        &mut self.0[f as usize]
    }
}

/// The set of feeds one poll asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Feeds(pub(super) u8);

impl Feeds {
    pub(crate) fn has(self, f: Feed) -> bool {
        self.0 & (1 << f as u8) != 0
    }

    pub(super) fn insert(&mut self, f: Feed) {
        self.0 |= 1 << f as u8;
    }
}
