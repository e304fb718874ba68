//! The real cluster: EC2 and EC2 Auto Scaling through the AWS SDK ([`sdk`]), DC/OS through its
//! HTTP APIs ([`dcos`]). Implements the same [`Cluster`] port as the simulator; the runner does
//! not know which one it drives.

pub mod dcos;
pub mod sdk;

use crate::cluster::{
    ActivityObs, AgentObs, Api, AsgLookup, AsgObs, Cluster, ClusterError, ClusterResult, FaultKind,
    InstanceFilter, InstanceId, InstanceObs, PlanObs, PodName, PodObs,
};
use crate::time::{Dur, Timestamp};

pub use dcos::{DcosClient, DcosConfig};
pub use sdk::AwsClients;

/// AWS + (optionally) DC/OS. Without DC/OS only ASG-only scenarios can run.
#[derive(Clone, Debug)]
pub struct AwsCluster {
    aws: AwsClients,
    dcos: Option<DcosClient>,
}

impl AwsCluster {
    pub fn new(aws: AwsClients, dcos: Option<DcosClient>) -> Self {
        Self { aws, dcos }
    }

    fn dcos(&self, api: Api) -> ClusterResult<&DcosClient> {
        self.dcos.as_ref().ok_or_else(|| ClusterError::Fatal {
            api,
            message: "no DC/OS cluster is configured; hint: set DCOS_URL and DCOS_ACS_TOKEN".into(),
        })
    }
}

impl Cluster for AwsCluster {
    fn target(&self) -> &'static str {
        "aws"
    }

    fn simulated(&self) -> bool {
        false
    }

    /// The wall clock: phases are compared with AWS and Mesos timestamps, which are UTC.
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn sleep(&mut self, d: Dur) {
        tokio::time::sleep(d.to_std()).await;
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
        max: usize,
    ) -> ClusterResult<Vec<ActivityObs>> {
        self.aws.describe_scaling_activities(asg, max).await
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
