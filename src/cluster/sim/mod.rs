//! The built-in simulated cluster: a faithful, seeded model of EC2 + one Auto Scaling group +
//! DC/OS (Mesos master, a dcos-commons Cassandra service), served through the [`Cluster`]
//! port on a virtual clock.
//!
//! - [`profile`]: the YAML profile (topology, behaviour switches, timing distributions);
//! - [`model`]: the synchronous world model and its event queue, clock-agnostic;
//! - [`SimCluster`] (here): the model on a virtual clock, where `sleep` just advances time, so
//!   a 20-minute drill takes microseconds and the same seed gives the same observations.

pub mod model;
pub mod profile;

#[cfg(test)]
mod tests;

pub use model::{Sim, TruthEvent, TruthKind};
pub use profile::{BUILTIN_PROFILES, Dist, LostStatus, Profile, ProfileError};

use super::{
    ActivityObs, AgentObs, AsgLookup, AsgObs, Cluster, ClusterResult, FaultKind, InstanceFilter,
    InstanceId, InstanceObs, PlanObs, PodName, PodObs,
};
use crate::time::{Dur, Timestamp};

/// The simulated cluster on a virtual clock. Every call is instantaneous in virtual time;
/// only [`Cluster::sleep`] moves the clock.
pub struct SimCluster {
    sim: Sim,
}

impl SimCluster {
    /// A cluster in steady state at `start`, its randomness seeded by `seed`.
    pub fn new(profile: &Profile, seed: u64, start: Timestamp) -> Self {
        Self::from_sim(Sim::new(profile, seed, start))
    }

    pub fn from_sim(sim: Sim) -> Self {
        Self { sim }
    }

    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    pub fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    pub fn into_sim(self) -> Sim {
        self.sim
    }

    /// Every real transition so far, in order (the ground truth to check measurements
    /// against).
    pub fn truth(&self) -> &[TruthEvent] {
        self.sim.truth()
    }
}

impl Cluster for SimCluster {
    fn target(&self) -> &'static str {
        "sim"
    }

    fn simulated(&self) -> bool {
        true
    }

    fn now(&self) -> Timestamp {
        self.sim.now()
    }

    async fn sleep(&mut self, d: Dur) {
        let until = self.sim.now().saturating_add(d);
        self.sim.advance_to(until);
    }

    async fn describe_instances(
        &mut self,
        filter: &InstanceFilter,
    ) -> ClusterResult<Vec<InstanceObs>> {
        self.sim.describe_instances(filter)
    }

    async fn describe_asgs(&mut self, lookup: &AsgLookup) -> ClusterResult<Vec<AsgObs>> {
        Ok(self.sim.describe_asgs(lookup))
    }

    async fn describe_scaling_activities(
        &mut self,
        asg: &str,
        max: usize,
    ) -> ClusterResult<Vec<ActivityObs>> {
        self.sim.describe_scaling_activities(asg, max)
    }

    async fn inject(&mut self, fault: FaultKind, instance: &InstanceId) -> ClusterResult<()> {
        self.sim.inject(fault, instance)
    }

    async fn agents(&mut self) -> ClusterResult<Vec<AgentObs>> {
        Ok(self.sim.agents())
    }

    async fn pod_statuses(&mut self, service: &str) -> ClusterResult<Vec<PodObs>> {
        self.sim.pod_statuses(service)
    }

    async fn pod_info(&mut self, service: &str, pod: &PodName) -> ClusterResult<PodObs> {
        self.sim.pod_info(service, pod)
    }

    async fn pod_replace(&mut self, service: &str, pod: &PodName) -> ClusterResult<()> {
        self.sim.pod_replace(service, pod)
    }

    async fn plan(&mut self, service: &str, plan: &str) -> ClusterResult<PlanObs> {
        self.sim.plan(service, plan)
    }
}
