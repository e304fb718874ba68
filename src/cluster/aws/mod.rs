//! The real cluster: EC2 and EC2 Auto Scaling through the AWS SDK ([`sdk`]), DC/OS through its
//! HTTP APIs ([`dcos`]). Implements the same [`Cluster`] port as the simulator; the runner does
//! not know which one it drives.

pub mod dcos;
pub(crate) mod sdk;

use crate::cluster::{
    ActivityObs, AgentObs, Api, AsgLookup, AsgObs, Cluster, ClusterError, ClusterResult,
    InstanceFilter, InstanceId, InstanceObs, PlanObs, PodName, PodObs,
};
use crate::vocab::FaultKind;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::cluster::meter::ApiMeter;
use crate::time::{Clock, Dur, Timestamp};
use crate::vocab::{Requests, Target};

pub use dcos::{DcosClient, DcosConfig};
pub use sdk::AwsClients;

/// Counts every request and holds back one that would exceed the budget, on the target's
/// clock. Clones share the counts.
#[derive(Clone, Debug)]
pub(crate) struct Pacer {
    meter: Arc<Mutex<ApiMeter>>,
    clock: Clock,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(Clock::wall())
    }
}

impl Pacer {
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            meter: Arc::default(),
            clock,
        }
    }

    fn meter(&self) -> MutexGuard<'_, ApiMeter> {
        self.meter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns once a request to `api` may be sent, and counts it.
    pub(crate) async fn admit(&self, api: Api) {
        loop {
            let wait = self.meter().admit(api, self.clock.now());
            if wait.is_zero() {
                return;
            }
            self.clock.sleep(wait).await;
        }
    }
}

/// AWS + (optionally) DC/OS. Without DC/OS only ASG-only scenarios can run.
#[derive(Clone, Debug)]
pub struct AwsCluster {
    aws: AwsClients,
    dcos: Option<DcosClient>,
    pacer: Pacer,
}

impl AwsCluster {
    /// On the wall clock.
    pub(crate) fn new(aws: AwsClients, dcos: Option<DcosClient>) -> Self {
        Self::with_clock(aws, dcos, Clock::wall())
    }

    /// On `clock`: only a `sim serve` sharing the same clock keeps time with it.
    pub fn with_clock(mut aws: AwsClients, mut dcos: Option<DcosClient>, clock: Clock) -> Self {
        let pacer = Pacer::new(clock);
        aws.set_pacer(pacer.clone());
        if let Some(d) = &mut dcos {
            d.set_pacer(pacer.clone());
        }
        Self { aws, dcos, pacer }
    }

    fn dcos(&self, api: Api) -> ClusterResult<&DcosClient> {
        self.dcos.as_ref().ok_or_else(|| ClusterError::Fatal {
            api,
            message: "no DC/OS cluster is configured; hint: set DCOS_URL and DCOS_ACS_TOKEN".into(),
        })
    }
}

impl Cluster for AwsCluster {
    fn target(&self) -> Target {
        Target::Aws
    }

    /// The wall clock: phases are compared with AWS and Mesos timestamps, which are UTC.
    fn now(&self) -> Timestamp {
        self.pacer.clock.now()
    }

    async fn sleep(&mut self, d: Dur) {
        self.pacer.clock.sleep(d).await;
    }

    fn requests(&self) -> Requests {
        self.pacer.meter().sent()
    }

    fn set_request_budget(&mut self, per_minute: Option<u32>) {
        self.pacer.meter().set_budget(per_minute);
    }

    fn budget_room(&self, need: Requests, last_start: Option<Timestamp>) -> Dur {
        let now = self.pacer.clock.now();
        self.pacer.meter().room_in(need, last_start, now)
    }

    async fn describe_instances(
        &mut self,
        filter: &InstanceFilter,
    ) -> ClusterResult<Vec<InstanceObs>> {
        self.aws.describe_instances(filter).await
    }

    async fn describe_asgs(&mut self, lookup: &AsgLookup) -> ClusterResult<Vec<AsgObs>> {
        self.aws.describe_asgs(lookup).await
    }

    async fn describe_scaling_activities(
        &mut self,
        asg: &str,
        since: Timestamp,
    ) -> ClusterResult<Vec<ActivityObs>> {
        self.aws.describe_scaling_activities(asg, since).await
    }

    async fn inject(&mut self, fault: FaultKind, instance: &InstanceId) -> ClusterResult<()> {
        self.aws.inject(fault, instance).await
    }

    async fn agents(&mut self) -> ClusterResult<Vec<AgentObs>> {
        self.dcos(Api::Mesos)?.agents().await
    }

    async fn pod_statuses(&mut self, service: &str) -> ClusterResult<Vec<PodObs>> {
        self.dcos(Api::Scheduler)?.pod_statuses(service).await
    }

    async fn pod_info(&mut self, service: &str, pod: &PodName) -> ClusterResult<PodObs> {
        self.dcos(Api::Scheduler)?.pod_info(service, pod).await
    }

    async fn pod_replace(&mut self, service: &str, pod: &PodName) -> ClusterResult<()> {
        self.dcos(Api::Scheduler)?.pod_replace(service, pod).await
    }

    async fn plan(&mut self, service: &str, plan: &str) -> ClusterResult<PlanObs> {
        self.dcos(Api::Scheduler)?.plan(service, plan).await
    }

    async fn refresh_auth(&mut self) -> bool {
        match &self.dcos {
            Some(d) => d.login().await,
            None => false,
        }
    }
}
