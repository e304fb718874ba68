//! The `Cluster` port: the narrow set of observations and actions the runner needs, shaped
//! after the real APIs (EC2, EC2 Auto Scaling, the Mesos master, the dcos-commons scheduler).
//!
//! Backends live beside this file: `sim` (the built-in simulated cluster on a virtual clock).
//! The runner never knows which backend it drives. Real API strings are mapped to the enums
//! here, in one place (`FromStr`/`as_str`).

pub mod aws;
pub mod jwt;
pub(crate) mod meter;
pub mod sim;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::time::{Dur, Timestamp};
use crate::vocab::{FaultKind, Requests, Target};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Arc<str>);

        /// Equal when shared (an id read again is usually the same `Arc`), else by its text.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
            }
        }

        /// Ordered by text; a shared copy is equal without comparing it.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                if Arc::ptr_eq(&self.0, &other.0) {
                    std::cmp::Ordering::Equal
                } else {
                    self.0.cmp(&other.0)
                }
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }

        impl $name {
            pub fn new(s: impl AsRef<str>) -> Self {
                Self(Arc::from(s.as_ref()))
            }

            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The position of the first of `items` whose key is `id`. An id read back from the source
/// that made it is the same `Arc`: those are found by pointer, without comparing text (ids of
/// equal length that differ cost a `memcmp` each); the others by text.
pub(crate) fn position_of<T>(
    items: &[T],
    id: &Arc<str>,
    key: impl Fn(&T) -> &Arc<str>,
) -> Option<usize> {
    items
        .iter()
        .position(|x| Arc::ptr_eq(key(x), id))
        .or_else(|| items.iter().position(|x| key(x) == id))
}

/// The first of `items` whose key is `id`, as [`position_of`] finds it.
pub(crate) fn find_of<'a, T>(
    items: &'a [T],
    id: &Arc<str>,
    key: impl Fn(&T) -> &Arc<str>,
) -> Option<&'a T> {
    position_of(items, id, key).map(|i| &items[i])
}

id_newtype!(
    /// An EC2 instance id, `i-0123456789abcdef0`.
    InstanceId
);
id_newtype!(
    /// A Mesos agent id, `<master-uuid>-S<n>`; a replacement host always gets a new one.
    AgentId
);
id_newtype!(
    /// A Mesos task id, `<service>__<task-name>__<uuid>`; a relaunch always gets a new one.
    TaskId
);
id_newtype!(
    /// A dcos-commons pod instance name, `node-4`.
    PodName
);

/// Why a cluster call failed, classified the way the runner must react to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// `RequestLimitExceeded` (EC2), `Throttling` (Auto Scaling), 429: back off and poll again.
    #[error("throttled by {api}: {message}")]
    Throttled { api: Api, message: String },
    /// 5xx, connection reset, timeout, a scheduler that is restarting: retry later.
    #[error("{api} is temporarily unavailable: {message}")]
    Transient { api: Api, message: String },
    /// The thing asked about does not exist (`Pod node-9 not found`, unknown instance id).
    #[error("{api}: {message}")]
    NotFound { api: Api, message: String },
    /// The credentials were refused (DC/OS 401, AWS auth failure).
    #[error("{api} refused the credentials: {message}; hint: log in again")]
    Unauthorized { api: Api, message: String },
    /// Anything else: not retried.
    #[error("{api} failed: {message}")]
    Fatal { api: Api, message: String },
}

impl ClusterError {
    /// Whether waiting and asking again can help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Transient { .. })
    }

    /// Whether this is the scheduler not listening at all, as Admin Router says it (502,
    /// 504, `service not found`; a connection that cannot be made), rather than a scheduler
    /// that answered with an error.
    pub(crate) fn scheduler_unreachable(&self) -> bool {
        match self {
            Self::Transient {
                api: Api::Scheduler,
                message,
            } => {
                message.starts_with("HTTP 502")
                    || message.starts_with("HTTP 504")
                    || message.contains("service not found")
            }
            _ => false,
        }
    }

    /// The API family that failed.
    pub(crate) fn api(&self) -> Api {
        match self {
            Self::Throttled { api, .. }
            | Self::Transient { api, .. }
            | Self::NotFound { api, .. }
            | Self::Unauthorized { api, .. }
            | Self::Fatal { api, .. } => *api,
        }
    }
}

/// The API families the harness talks to; used to attribute errors and request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    Ec2,
    AutoScaling,
    Mesos,
    Scheduler,
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Api::Ec2 => "EC2",
            Api::AutoScaling => "Auto Scaling",
            Api::Mesos => "the Mesos master",
            Api::Scheduler => "the service scheduler",
        })
    }
}

pub type ClusterResult<T> = Result<T, ClusterError>;

macro_rules! api_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The string the real API uses.
            pub(crate) const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Maps the real API's string; `None` for a value this model does not know.
            pub(crate) fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

api_enum!(
    /// EC2 `Instance.State.Name`.
    InstanceState {
        Pending = "pending",
        Running = "running",
        ShuttingDown = "shutting-down",
        Terminated = "terminated",
        Stopping = "stopping",
        Stopped = "stopped",
    }
);

impl InstanceState {
    /// EC2's numeric state code (`State.Code`).
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Running => 16,
            Self::ShuttingDown => 32,
            Self::Terminated => 48,
            Self::Stopping => 64,
            Self::Stopped => 80,
        }
    }
}

api_enum!(
    /// Auto Scaling `Instance.LifecycleState` (the states this harness meets).
    LifecycleState {
        Pending = "Pending",
        PendingWait = "Pending:Wait",
        PendingProceed = "Pending:Proceed",
        InService = "InService",
        Terminating = "Terminating",
        TerminatingWait = "Terminating:Wait",
        TerminatingProceed = "Terminating:Proceed",
        Terminated = "Terminated",
        Detaching = "Detaching",
        Detached = "Detached",
        EnteringStandby = "EnteringStandby",
        Standby = "Standby",
    }
);

api_enum!(
    /// Auto Scaling activity `StatusCode` (the ones a launch or termination goes through).
    ActivityStatus {
        PendingSpotBidPlacement = "PendingSpotBidPlacement",
        WaitingForSpotInstanceRequestId = "WaitingForSpotInstanceRequestId",
        WaitingForSpotInstanceId = "WaitingForSpotInstanceId",
        WaitingForInstanceId = "WaitingForInstanceId",
        PreInService = "PreInService",
        InProgress = "InProgress",
        WaitingForElbConnectionDraining = "WaitingForELBConnectionDraining",
        MidLifecycleAction = "MidLifecycleAction",
        WaitingForInstanceWarmup = "WaitingForInstanceWarmup",
        Successful = "Successful",
        Failed = "Failed",
        Cancelled = "Cancelled",
        WaitingForConnectionDraining = "WaitingForConnectionDraining",
    }
);

api_enum!(
    /// A Mesos task state as the dcos-commons scheduler prints it (`TASK_` prefix stripped).
    TaskState {
        Staging = "STAGING",
        Starting = "STARTING",
        Running = "RUNNING",
        Killing = "KILLING",
        Finished = "FINISHED",
        Failed = "FAILED",
        Killed = "KILLED",
        Error = "ERROR",
        Lost = "LOST",
        Dropped = "DROPPED",
        Unreachable = "UNREACHABLE",
        Gone = "GONE",
        GoneByOperator = "GONE_BY_OPERATOR",
        Unknown = "UNKNOWN",
    }
);

api_enum!(
    /// dcos-commons plan / phase / step status (`scheduler/plan/Status.java`).
    PlanStatus {
        Error = "ERROR",
        Waiting = "WAITING",
        Pending = "PENDING",
        Prepared = "PREPARED",
        Starting = "STARTING",
        Started = "STARTED",
        Complete = "COMPLETE",
        InProgress = "IN_PROGRESS",
        Delayed = "DELAYED",
    }
);

/// A resource's tags, `(key, value)`: shared, since every poll describes them again.
pub(crate) type Tags = Arc<[(String, String)]>;

/// The tag every ASG member carries: the name of its group.
pub const ASG_NAME_TAG: &str = "aws:autoscaling:groupName";

/// One EC2 instance as `DescribeInstances` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceObs {
    pub id: InstanceId,
    pub(crate) state: InstanceState,
    pub(crate) private_ip: Option<Arc<str>>,
    /// `LaunchTime`, whole seconds.
    pub(crate) launch_time: Timestamp,
    /// The `aws:autoscaling:groupName` tag.
    pub(crate) asg_name: Option<Arc<str>>,
    /// All tags, `(key, value)`.
    pub(crate) tags: Tags,
    /// `StateTransitionReason`, e.g. `User initiated (2026-01-05 10:00:00 GMT)`.
    pub state_transition_reason: Arc<str>,
}

/// Which instances a `DescribeInstances` call asks for (always filtered: the larger throttle
/// bucket applies to filtered calls).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceFilter {
    Ids(Vec<InstanceId>),
    /// The pending or running instances with this private IP (a terminated or stopped
    /// instance that once had the address never matches).
    PrivateIp(String),
    AsgName(String),
}

/// One member of an Auto Scaling group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsgMemberObs {
    pub(crate) id: InstanceId,
    pub(crate) lifecycle: LifecycleState,
    /// `Healthy` / `Unhealthy`.
    pub healthy: bool,
}

/// An Auto Scaling group as `DescribeAutoScalingGroups` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsgObs {
    /// Shared: the group is described at every poll.
    pub(crate) name: Arc<str>,
    pub(crate) desired_capacity: u32,
    pub(crate) min_size: u32,
    pub(crate) max_size: u32,
    pub(crate) tags: Tags,
    pub instances: Vec<AsgMemberObs>,
}

/// How an Auto Scaling group is named in a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsgLookup {
    Name(String),
    Tag {
        key: String,
        value: String,
    },
    /// The group a CloudFormation stack created under a logical id (`SlaveServerGroup`),
    /// found by the `aws:cloudformation:stack-name` / `aws:cloudformation:logical-id` tags
    /// CloudFormation puts on it.
    Stack {
        stack: String,
        logical_id: String,
    },
}

impl AsgLookup {
    /// The tags a group must carry to match (all of them); empty for a lookup by name.
    pub(crate) fn tags(&self) -> Vec<(&str, &str)> {
        match self {
            Self::Name(_) => Vec::new(),
            Self::Tag { key, value } => vec![(key.as_str(), value.as_str())],
            Self::Stack { stack, logical_id } => vec![
                (CFN_STACK_TAG, stack.as_str()),
                (CFN_LOGICAL_ID_TAG, logical_id.as_str()),
            ],
        }
    }

    /// Whether a group with this name and these tags matches.
    pub(crate) fn matches(&self, name: &str, tags: &[(String, String)]) -> bool {
        match self {
            Self::Name(n) => n == name,
            _ => self
                .tags()
                .iter()
                .all(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && tv == v)),
        }
    }
}

impl fmt::Display for AsgLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => write!(f, "name {n}"),
            Self::Tag { key, value } => write!(f, "tag {key}={value}"),
            Self::Stack { stack, logical_id } => {
                write!(f, "stack {stack}, logical id {logical_id}")
            }
        }
    }
}

/// CloudFormation's tags on every resource of a stack (propagated to a group's instances).
pub(crate) const CFN_STACK_TAG: &str = "aws:cloudformation:stack-name";
pub(crate) const CFN_LOGICAL_ID_TAG: &str = "aws:cloudformation:logical-id";
pub(crate) const CFN_STACK_ID_TAG: &str = "aws:cloudformation:stack-id";

/// The recovery phase Cassandra's scheduler builds for `pod replace`
/// (`CassandraRecoveryPlanOverrider`): the replace step, then, when the node is a seed, a
/// restart of every other node in place.
pub(crate) const PERMANENT_RECOVERY_PHASE: &str = "permanent-node-failure-recovery";

/// The logical id of the masters' group in the DC/OS CloudFormation template.
pub(crate) const MASTER_LOGICAL_ID: &str = "MasterServerGroup";
/// The logical id of the private agents' group in the DC/OS CloudFormation template.
pub(crate) const PRIVATE_AGENTS_LOGICAL_ID: &str = "SlaveServerGroup";
/// The logical id of the public agents' group in the DC/OS CloudFormation template.
pub(crate) const PUBLIC_AGENTS_LOGICAL_ID: &str = "PublicSlaveServerGroup";

/// A scaling activity (`DescribeScalingActivities`), newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityObs {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) cause: String,
    /// Millisecond precision.
    pub(crate) start_time: Timestamp,
    /// Whole seconds in practice.
    pub(crate) end_time: Option<Timestamp>,
    pub(crate) status: ActivityStatus,
}

impl ActivityObs {
    /// The instance a `Launching a new EC2 instance: i-…` activity launched.
    pub(crate) fn launched_instance(&self) -> Option<InstanceId> {
        self.description
            .strip_prefix("Launching a new EC2 instance: ")
            .map(|rest| InstanceId::new(rest.split_whitespace().next().unwrap_or(rest)))
    }

    /// The instance a `Terminating EC2 instance: i-…` activity terminates.
    pub(crate) fn terminated_instance(&self) -> Option<InstanceId> {
        self.description
            .strip_prefix("Terminating EC2 instance: ")
            .map(|rest| InstanceId::new(rest.split_whitespace().next().unwrap_or(rest)))
    }
}

/// A Mesos agent as `/mesos/master/slaves` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentObs {
    pub(crate) id: AgentId,
    /// On DC/OS on AWS: the EC2 private IPv4 (shared: every poll lists every agent again).
    pub(crate) hostname: Arc<str>,
    pub(crate) active: bool,
    /// `registered_time` (unix seconds, µs precision), as a stamp.
    pub(crate) registered_time: Timestamp,
    pub(crate) reregistered_time: Option<Timestamp>,
    /// Carries the `public_ip: "true"` attribute.
    pub public: bool,
}

/// One task of a pod, merged from `GET /v1/pod/<pod>/info` (TaskInfo + TaskStatus).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskObs {
    pub(crate) name: Arc<str>,
    /// Empty for never-launched stub tasks.
    pub(crate) id: TaskId,
    /// `None` when the scheduler has no status for the task (the CLI's `<UNKNOWN>`).
    pub state: Option<TaskState>,
    pub(crate) agent: Option<AgentId>,
    /// `TaskStatus.timestamp`.
    pub status_time: Option<Timestamp>,
    /// The status's source, reason and unreachable time (none without a status, or from
    /// `/v1/pod/status`).
    pub(crate) cause: StatusCause,
}

api_enum!(
    /// Mesos `TaskStatus.source`.
    StatusSource {
        Master = "SOURCE_MASTER",
        Slave = "SOURCE_SLAVE",
        Executor = "SOURCE_EXECUTOR",
    }
);

api_enum!(
    /// Mesos `TaskStatus.reason`: the reasons that tell the harness something (any other
    /// reason reads as none).
    StatusReason {
        Reconciliation = "REASON_RECONCILIATION",
        SlaveRemoved = "REASON_SLAVE_REMOVED",
        SlaveRemovedByOperator = "REASON_SLAVE_REMOVED_BY_OPERATOR",
        SlaveReregistered = "REASON_SLAVE_REREGISTERED",
        SlaveRestarted = "REASON_SLAVE_RESTARTED",
        SlaveDisconnected = "REASON_SLAVE_DISCONNECTED",
        SlaveUnknown = "REASON_SLAVE_UNKNOWN",
        TaskUnknown = "REASON_TASK_UNKNOWN",
        TaskKilledDuringLaunch = "REASON_TASK_KILLED_DURING_LAUNCH",
        ExecutorTerminated = "REASON_EXECUTOR_TERMINATED",
    }
);

/// Where a task status came from and why (`TaskStatus.source`, `.reason`,
/// `.unreachable_time`): whether its `timestamp` is the time of the change it reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCause {
    pub(crate) source: Option<StatusSource>,
    pub(crate) reason: Option<StatusReason>,
    /// When the master marked the task's agent unreachable: Mesos sets it on the
    /// `TASK_UNREACHABLE`/`TASK_LOST` it sends then, and on a reconciliation answer for a
    /// task on an unreachable agent (`master.cpp` `__removeSlave`, `reconcile` case 4).
    pub(crate) unreachable_time: Option<Timestamp>,
}

impl TaskObs {
    /// The status's `timestamp` when it is the time of the change it reports: a
    /// reconciliation answer carries the time of the reconciliation instead.
    pub(crate) fn stamp(&self) -> Option<Timestamp> {
        self.status_time
            .filter(|_| self.cause.reason != Some(StatusReason::Reconciliation))
    }

    /// When the task was lost, as Mesos stamps it: the agent's unreachable time when the
    /// status carries it, else a non-reconciliation timestamp.
    pub(crate) fn lost_stamp(&self) -> Option<Timestamp> {
        self.cause.unreachable_time.or_else(|| self.stamp())
    }

    /// When the master marked the task's agent unreachable, if this status says: its
    /// `unreachable_time`, or the timestamp of the master's own `REASON_SLAVE_REMOVED`
    /// update (sent at that moment).
    pub(crate) fn agent_removed_stamp(&self) -> Option<Timestamp> {
        self.cause.unreachable_time.or_else(|| {
            (self.cause.source == Some(StatusSource::Master)
                && self.cause.reason == Some(StatusReason::SlaveRemoved))
            .then_some(self.status_time)
            .flatten()
        })
    }
}

/// A pod instance's tasks.
#[derive(Clone, Debug, PartialEq)]
pub struct PodObs {
    pub name: PodName,
    /// Shared: a simulated pod read again unchanged lists the same tasks.
    pub tasks: Arc<[TaskObs]>,
}

impl PodObs {
    /// The task whose name is `<pod>-<task>`; tasks are matched by name, never by parsing ids.
    pub fn task(&self, task: &str) -> Option<&TaskObs> {
        // The cheap tests first: the pod's tasks all start with its name, and a pod's task
        // names of one length (`server`, `repair`) differ in their first letter.
        let (pod, task) = (self.name.as_str().as_bytes(), task.as_bytes());
        self.tasks.iter().find(|t| {
            let name = t.name.as_bytes();
            name.len() == pod.len() + 1 + task.len()
                && name[pod.len()] == b'-'
                && name.get(pod.len() + 1) == task.first()
                && &name[pod.len() + 1..] == task
                && name.starts_with(pod)
        })
    }
}

/// One step of a plan. Ids and names are shared: every poll of the plan lists them again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepObs {
    pub(crate) id: Arc<str>,
    pub name: Arc<str>,
    pub(crate) status: PlanStatus,
}

/// One phase of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PhaseObs {
    pub(crate) id: Arc<str>,
    pub(crate) name: Arc<str>,
    pub status: PlanStatus,
    pub steps: Vec<StepObs>,
}

/// A plan (`GET /v1/plans/<plan>`, any of 200/202/417).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanObs {
    pub status: PlanStatus,
    /// Shared: a simulated plan read again unchanged lists the same phases.
    pub(crate) phases: Arc<[PhaseObs]>,
    pub errors: Vec<String>,
}

impl PlanObs {
    /// Every step with its phase, in plan order.
    pub fn steps(&self) -> impl Iterator<Item = &StepObs> + Clone {
        self.phases.iter().flat_map(|p| p.steps.iter())
    }
}

/// The observations and actions the runner needs. Time is part of the port: against the
/// simulated cluster it is virtual, so a 20-minute drill takes microseconds.
#[expect(
    async_fn_in_trait,
    reason = "the runner drives one backend on one task; no Send bound is needed"
)]
pub trait Cluster {
    /// Which kind of target this is.
    fn target(&self) -> Target;

    /// The current UTC time on this target's clock.
    fn now(&self) -> Timestamp;

    /// Waits for `d` on this target's clock.
    async fn sleep(&mut self, d: Dur);

    async fn describe_instances(
        &mut self,
        filter: &InstanceFilter,
    ) -> ClusterResult<Vec<InstanceObs>>;
    async fn describe_asgs(&mut self, lookup: &AsgLookup) -> ClusterResult<Vec<AsgObs>>;
    /// Newest first, those that started at or after `since`: the backend stops paging at the
    /// first older one.
    async fn describe_scaling_activities(
        &mut self,
        asg: &str,
        since: Timestamp,
    ) -> ClusterResult<Vec<ActivityObs>>;
    async fn inject(&mut self, fault: FaultKind, instance: &InstanceId) -> ClusterResult<()>;

    async fn agents(&mut self) -> ClusterResult<Vec<AgentObs>>;
    /// `GET /v1/pod/status`: every pod instance with its tasks' ids and states (no agents, no
    /// status times: those come from `pod_info`).
    async fn pod_statuses(&mut self, service: &str) -> ClusterResult<Vec<PodObs>>;
    async fn pod_info(&mut self, service: &str, pod: &PodName) -> ClusterResult<PodObs>;
    async fn pod_replace(&mut self, service: &str, pod: &PodName) -> ClusterResult<()>;
    async fn plan(&mut self, service: &str, plan: &str) -> ClusterResult<PlanObs>;

    /// Every request sent so far, per service (each page and each login counts).
    fn requests(&self) -> Requests;

    /// At most this many requests per service in any minute (`None`: no limit); a request
    /// over the budget waits on this target's clock.
    fn set_request_budget(&mut self, per_minute: Option<u32>);

    /// How long until a run that asks `need` requests per service fits the budget: its last
    /// minute has room for them and the run's share of a minute has passed since the previous
    /// run started at `last_start`; zero without a budget.
    fn budget_room(&self, need: Requests, last_start: Option<Timestamp>) -> Dur;

    /// After a refused credential (an expired DC/OS token): get a fresh one if the backend
    /// can. Returns whether calls may succeed now.
    async fn refresh_auth(&mut self) -> bool {
        false
    }
}
