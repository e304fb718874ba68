//! The built-in simulated cluster: a faithful, seeded model of EC2 + one Auto Scaling group +
//! DC/OS (Mesos master, a dcos-commons Cassandra service), served through the [`Cluster`]
//! port on a virtual clock.
//!
//! - [`profile`]: the YAML profile (topology, behaviour switches, timing distributions);
//! - [`model`]: the synchronous world model and its event queue, clock-agnostic;
//! - [`api_faults`]: faults in the APIs (throttling, 5xx, resets, slow answers, 401s), drawn
//!   request by request from their own random stream;
//! - [`SimCluster`] (here): the model on a virtual clock, where `sleep` just advances time, so
//!   a 20-minute drill takes microseconds and the same seed gives the same observations.

pub(crate) mod api_faults;
pub(crate) mod dist;
pub(crate) mod fit;
pub(crate) mod marathon;
pub(crate) mod mesos_master;
pub(crate) mod model;
pub(crate) mod profile;
pub(crate) mod truth;

#[cfg(test)]
mod tests;

pub use api_faults::{ApiFault, ApiFaultInjector, ApiFaultKind, ApiFaults, InjectedFault};
pub use dist::Dist;
pub use model::Sim;
pub use profile::{BUILTIN_PROFILES, LostStatus, Profile, ProfileError};
pub use truth::{TruthEvent, TruthKind};

use super::meter::ApiMeter;
use super::{
    ActivityObs, AgentObs, Api, AsgLookup, AsgObs, Cluster, ClusterResult, InstanceFilter,
    InstanceId, InstanceObs, PlanObs, PodName, PodObs,
};
use crate::time::{Dur, Timestamp};
use crate::vocab::{FaultKind, Requests, Target};
use api_faults::Verdict;

/// The simulated cluster on a virtual clock. Every call is instantaneous in virtual time
/// (unless the profile makes it `slow`); only [`Cluster::sleep`] moves the clock.
///
/// With the profile's `api_faults`, a call may fail instead ([`ClusterError`]
/// `Throttled`, `Transient` or `Unauthorized`, as the aws backend reports the same answer on
/// the wire); a failed call has no effect on the world.
///
/// [`ClusterError`]: super::ClusterError
pub struct SimCluster {
    sim: Sim,
    faults: Option<ApiFaultInjector>,
    meter: ApiMeter,
}

/// The error message of a call to the scheduler while none listens (what the aws backend
/// makes of Admin Router's 502 page's first words).
pub const SCHEDULER_DOWN: &str = "HTTP 502: Bad Gateway";

/// The start of simulated time: a fixed instant, so that the same seed gives the same report.
pub const EPOCH: Timestamp = Timestamp::from_millis(1_767_225_600_000); // 2026-01-01T00:00:00Z

impl SimCluster {
    /// A cluster in steady state at [`EPOCH`], its randomness seeded by `seed`.
    pub fn at_epoch(profile: &Profile, seed: u64) -> Self {
        Self::new(profile, seed, EPOCH)
    }

    /// A cluster in steady state at `start`, its randomness seeded by `seed`; API faults as
    /// the profile says.
    pub fn new(profile: &Profile, seed: u64, start: Timestamp) -> Self {
        let mut c = Self::from_sim(Sim::new(profile, seed, start));
        c.faults = profile
            .api_faults
            .as_ref()
            .map(|f| ApiFaultInjector::new(f, seed, start));
        c
    }

    /// The model without API faults.
    pub(crate) fn from_sim(sim: Sim) -> Self {
        Self {
            sim,
            faults: None,
            meter: ApiMeter::default(),
        }
    }

    /// Every API fault injected so far, in order (empty without `api_faults`).
    pub fn injected_api_faults(&self) -> &[InjectedFault] {
        self.faults.as_ref().map_or(&[], |f| f.injected())
    }

    /// How many API faults of each kind each API family met.
    pub fn api_faults(&self) -> std::collections::BTreeMap<(Api, ApiFault), u64> {
        self.faults
            .as_ref()
            .map(ApiFaultInjector::counts)
            .unwrap_or_default()
    }

    /// How many calls each API family received, faulty or not (empty without `api_faults`).
    pub fn api_requests(&self) -> std::collections::BTreeMap<Api, u64> {
        self.faults
            .as_ref()
            .map(|f| f.requests().clone())
            .unwrap_or_default()
    }

    /// The API-fault gate in front of every call: passes, or lets virtual time run for a
    /// slow answer, or fails the call before it reaches the world.
    /// Every call is metered first: over the request budget, virtual time runs until it may go.
    fn gate(&mut self, api: Api, operation: impl FnOnce() -> String) -> ClusterResult<()> {
        loop {
            let now = self.sim.now();
            let wait = self.meter.admit(api, now);
            if wait.is_zero() {
                break;
            }
            self.sim.advance_to(now.saturating_add(wait));
        }
        let Some(faults) = &mut self.faults else {
            return Ok(());
        };
        let now = self.sim.now();
        let op = operation();
        if let Some(f) = faults.check_token_in_process(api, &op, now) {
            return Err(f.cluster_error().expect("a refused token is an error"));
        }
        match faults.decide(api, &op, now) {
            Verdict::Pass => Ok(()),
            Verdict::Slow(d) => {
                self.sim.advance_to(now.saturating_add(d));
                Ok(())
            }
            Verdict::Fail(f) => Err(f.cluster_error().expect("a failed call is an error")),
        }
    }

    #[cfg(test)]
    pub(crate) fn sim(&self) -> &Sim {
        &self.sim
    }

    #[cfg(test)]
    pub(crate) fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// Every real transition so far, in order (the ground truth to check measurements
    /// against).
    pub fn truth(&self) -> &[TruthEvent] {
        self.sim.truth()
    }

    /// The same cluster without a truth log: for suites that never read it (`run`), whose
    /// memory then does not grow with the runs.
    pub fn without_truth(mut self) -> Self {
        self.sim.forget_truth();
        self
    }
}

impl Cluster for SimCluster {
    fn target(&self) -> Target {
        Target::Sim
    }

    fn now(&self) -> Timestamp {
        self.sim.now()
    }

    fn requests(&self) -> Requests {
        self.meter.sent()
    }

    fn set_request_budget(&mut self, per_minute: Option<u32>) {
        self.meter.set_budget(per_minute);
    }

    fn budget_room(&self, need: Requests, last_start: Option<Timestamp>) -> Dur {
        self.meter.room_in(need, last_start, self.sim.now())
    }

    async fn sleep(&mut self, d: Dur) {
        let until = self.sim.now().saturating_add(d);
        self.sim.advance_to(until);
    }

    async fn describe_instances(
        &mut self,
        filter: &InstanceFilter,
    ) -> ClusterResult<Vec<InstanceObs>> {
        self.gate(Api::Ec2, || "DescribeInstances".into())?;
        self.sim.describe_instances(filter)
    }

    async fn describe_asgs(&mut self, lookup: &AsgLookup) -> ClusterResult<Vec<AsgObs>> {
        self.gate(Api::AutoScaling, || "DescribeAutoScalingGroups".into())?;
        Ok(self.sim.describe_asgs(lookup))
    }

    async fn describe_scaling_activities(
        &mut self,
        asg: &str,
        since: Timestamp,
    ) -> ClusterResult<Vec<ActivityObs>> {
        self.gate(Api::AutoScaling, || "DescribeScalingActivities".into())?;
        self.sim.describe_scaling_activities(asg, since)
    }

    async fn inject(&mut self, fault: FaultKind, instance: &InstanceId) -> ClusterResult<()> {
        self.gate(Api::Ec2, || {
            match fault {
                FaultKind::TerminateInstance => "TerminateInstances",
                FaultKind::StopInstance => "StopInstances",
                FaultKind::RebootInstance => "RebootInstances",
            }
            .into()
        })?;
        self.sim.inject(fault, instance)
    }

    async fn agents(&mut self) -> ClusterResult<Vec<AgentObs>> {
        self.gate(Api::Mesos, || "GET /mesos/master/slaves".into())?;
        Ok(self.sim.agents())
    }

    async fn pod_statuses(&mut self, service: &str) -> ClusterResult<Vec<PodObs>> {
        self.gate(Api::Scheduler, || "GET pod/status".into())?;
        self.sim.pod_statuses(service)
    }

    async fn pod_info(&mut self, service: &str, pod: &PodName) -> ClusterResult<PodObs> {
        self.gate(Api::Scheduler, || format!("GET pod/{pod}/info"))?;
        self.sim.pod_info(service, pod)
    }

    async fn pod_replace(&mut self, service: &str, pod: &PodName) -> ClusterResult<()> {
        self.gate(Api::Scheduler, || format!("POST pod/{pod}/replace"))?;
        self.sim.pod_replace(service, pod)
    }

    async fn plan(&mut self, service: &str, plan: &str) -> ClusterResult<PlanObs> {
        self.gate(Api::Scheduler, || format!("GET plans/{plan}"))?;
        self.sim.plan(service, plan)
    }

    /// The simulated client logs in again after a refused token (the fault gate already
    /// renewed it); without API faults no token is ever refused.
    async fn refresh_auth(&mut self) -> bool {
        self.faults.is_some()
    }
}
