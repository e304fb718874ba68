//! The simulated cluster's world model: EC2 instances, one Auto Scaling group, the Mesos
//! master's agents and a dcos-commons service, driven by a queue of timed events.
//!
//! The model is synchronous and knows nothing of clocks: [`Sim::advance_to`] processes every
//! scheduled event up to an instant, observations read the state at the model's "now", and
//! actions (terminate/stop/reboot, pod replace) schedule future events. The in-process backend
//! drives it on a virtual clock; a server can drive it from the wall clock.
//!
//! Every real transition is also appended to a truth log ([`TruthEvent`]) so tests can check
//! what the harness measured against what happened.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

use rand::{Rng, RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::dist::Dist;
use super::mesos_master::Limiter;
use super::profile::{Profile, ScalingActivities, Timings, parse_cidr};
use super::truth::{TruthEvent, TruthKind};
use crate::cluster::{
    ASG_NAME_TAG, ActivityObs, ActivityStatus, AgentId, AgentObs, Api, AsgLookup, AsgMemberObs,
    AsgObs, CFN_LOGICAL_ID_TAG, CFN_STACK_ID_TAG, CFN_STACK_TAG, ClusterError, ClusterResult,
    InstanceFilter, InstanceId, InstanceObs, InstanceState, LifecycleState, MASTER_LOGICAL_ID,
    PRIVATE_AGENTS_LOGICAL_ID, PUBLIC_AGENTS_LOGICAL_ID, PhaseObs, PlanObs, PlanStatus, PodName,
    PodObs, StatusCause, StatusSource, StepObs, Tags, TaskId, TaskObs, TaskState,
};
use crate::time::Timestamp;
use crate::vocab::FaultKind;

mod ring;
mod scheduler;
mod slots;

use slots::{Key, Slots};

/// A handle to an instance of the model (its slot and generation).
type Inst = Key<Instance>;
/// A handle to a Mesos agent of the model.
type AgentKey = Key<Agent>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Master,
    Public,
    Private,
}

struct Instance {
    id: InstanceId,
    role: Role,
    ip_num: u32,
    ip: Arc<str>,
    /// Index into the profile's private subnets (private agents only).
    subnet: usize,
    launch_time: Timestamp,
    state: InstanceState,
    reason: Arc<str>,
    asg_tag: Option<Arc<str>>,
    tags: Tags,
    agent: Option<AgentKey>,
    /// The group terminates this instance as soon as it is `stopped`.
    asg_terminate_on_stop: bool,
}

struct Member {
    inst: Inst,
    lifecycle: LifecycleState,
    healthy: bool,
    detect_scheduled: bool,
    launch_activity: Option<usize>,
    terminate_activity: Option<usize>,
}

struct Activity {
    id: String,
    /// The instance launched or terminated, and its subnet (the activity's details name the
    /// zone, also once EC2 forgot the instance).
    instance: InstanceId,
    subnet: usize,
    description: String,
    cause: String,
    start: Timestamp,
    end: Option<Timestamp>,
    status: ActivityStatus,
}

/// A group whose members the model never replaces: the masters' and the public agents' groups
/// of the CloudFormation template (min = max = desired). Members are InService while their
/// instance is pending or running.
struct FixedGroup {
    name: Arc<str>,
    tags: Tags,
    members: Vec<Inst>,
}

struct Asg {
    name: Arc<str>,
    tags: Tags,
    desired: u32,
    members: Vec<Member>,
    activities: Activities,
}

/// How long Auto Scaling keeps a group's scaling activities (aws-asg.md: "only the last six
/// weeks").
const ACTIVITY_RETENTION_MS: i64 = 42 * 24 * 3_600_000;

/// A group's scaling activities, oldest first; those older than the retention are dropped as
/// new ones come, so that a long suite's memory does not grow with its runs. Members refer to
/// an activity by its number in the group's whole history.
#[derive(Default)]
struct Activities {
    kept: std::collections::VecDeque<Activity>,
    /// How many were dropped: the number of the first one kept.
    dropped: usize,
}

impl Activities {
    /// Appends an activity started at `now`, dropping those older than the retention; returns
    /// its number.
    fn push(&mut self, a: Activity, now: Timestamp) -> usize {
        let horizon = now.as_millis() - ACTIVITY_RETENTION_MS;
        while self
            .kept
            .front()
            .is_some_and(|old| old.start.as_millis() < horizon)
        {
            self.kept.pop_front();
            self.dropped += 1;
        }
        self.kept.push_back(a);
        self.dropped + self.kept.len() - 1
    }

    /// The activity numbered `i`, unless it was dropped.
    fn get_mut(&mut self, i: usize) -> Option<&mut Activity> {
        self.kept.get_mut(i.checked_sub(self.dropped)?)
    }
}

struct Agent {
    id: AgentId,
    /// The registration's number (the `S<n>` of the id): `/slaves` lists agents in this order.
    seq: u32,
    inst: Inst,
    /// Shared with every `/slaves` answer that lists the agent.
    hostname: Arc<str>,
    public: bool,
    active: bool,
    removed: bool,
    registered: Timestamp,
    reregistered: Option<Timestamp>,
    /// Bumped when a down period starts or ends; stale agent events carry an old value.
    epoch: u32,
}

struct ServerTask {
    id: TaskId,
    state: TaskState,
    agent: AgentKey,
    time: Timestamp,
    /// The stored status's source, reason and unreachable time.
    cause: StatusCause,
}

/// A status from the task's executor (no reason).
const FROM_EXECUTOR: StatusCause = StatusCause {
    source: Some(StatusSource::Executor),
    reason: None,
    unreachable_time: None,
};

/// Whether `shown`, the server task of a list built before, still shows the pod's server task
/// (the init task never changes; the repair stub only shows the server's agent).
fn shows(shown: &TaskObs, p: &Pod, agent: &AgentId, info: bool) -> bool {
    shown.id == p.task.id
        && shown.state == Some(p.task.state)
        && (!info
            || (shown.status_time == Some(p.task.time)
                && shown.cause == p.task.cause
                && shown.agent.as_ref() == Some(agent)))
}

/// Whether `shown`, recovery phases listed before, still show `recovery`: the same phases
/// and steps (by id: a step's pod never changes) in the same states.
fn shows_plan(shown: &[PhaseObs], recovery: &[Phase]) -> bool {
    shown.len() == recovery.len()
        && shown.iter().zip(recovery).all(|(o, ph)| {
            Arc::ptr_eq(&o.id, &ph.id)
                && o.steps.len() == ph.steps.len()
                && o.steps
                    .iter()
                    .zip(&ph.steps)
                    .all(|(o, s)| Arc::ptr_eq(&o.id, &s.id) && o.status == s.status)
        })
}

struct InitTask {
    name: Arc<str>,
    id: TaskId,
    agent: AgentId,
    time: Timestamp,
}

struct Pod {
    name: PodName,
    server_name: Arc<str>,
    repair_name: Arc<str>,
    step_name: Arc<str>,
    init: Option<InitTask>,
    task: ServerTask,
    /// The agent holding this pod's reservations; `None` once a replace abandoned them.
    reserved: Option<AgentKey>,
    /// Bumped to cancel this pod's scheduled launch progress.
    epoch: u32,
    offer_pending: bool,
    /// `pod replace` marked the pod's TaskInfos permanently failed; a new launch clears it.
    marked: bool,
    /// The task lists last shown, without and with each task's info: every poll lists the pod
    /// again, mostly unchanged, and an unchanged list is shared rather than built anew.
    shown: RefCell<[Option<Arc<[TaskObs]>>; 2]>,
}

/// A recovery step: the pod it brings back, and how (`permanent`: replaced on any free
/// agent; else relaunched in place on its reservations, killing a live task first).
struct Step {
    id: Arc<str>,
    pod: usize,
    permanent: bool,
    status: PlanStatus,
}

/// A recovery phase: one transient step (`<pod>:[server]`, parallel), or Cassandra's
/// `permanent-node-failure-recovery` (serial; see [`ring`]).
struct Phase {
    id: Arc<str>,
    name: Arc<str>,
    serial: bool,
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
enum Ev {
    InstanceRunning {
        inst: Inst,
    },
    InstanceStopped {
        inst: Inst,
    },
    InstanceTerminated {
        inst: Inst,
    },
    /// EC2 forgets a terminated instance after about an hour.
    InstanceForgotten {
        inst: Inst,
    },
    AsgDetect {
        inst: Inst,
    },
    LaunchStart,
    InService {
        inst: Inst,
    },
    AgentRegister {
        inst: Inst,
    },
    AgentInactive {
        agent: AgentKey,
        epoch: u32,
    },
    /// The master's last unanswered ping: it asks the removal rate limiter for a permit.
    AgentPingsExhausted {
        agent: AgentKey,
        epoch: u32,
    },
    AgentUnreachable {
        agent: AgentKey,
        epoch: u32,
    },
    AgentBack {
        agent: AgentKey,
        epoch: u32,
    },
    TaskKilled {
        pod: usize,
        task: TaskId,
    },
    Offer {
        pod: usize,
        epoch: u32,
    },
    TaskStarting {
        pod: usize,
        epoch: u32,
    },
    TaskRunning {
        pod: usize,
        epoch: u32,
    },
    StepComplete {
        pod: usize,
        epoch: u32,
    },
    /// Marathon launches a new instance of the scheduler.
    SchedulerLaunch {
        epoch: u32,
    },
    SchedulerListening {
        epoch: u32,
    },
    SchedulerReconciled {
        epoch: u32,
    },
    /// The scheduler's next offer cycle rebuilds an unsettled recovery plan.
    PlanCycle,
}

struct Scheduled {
    at: Timestamp,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The simulated cluster.
pub struct Sim {
    profile: Profile,
    rng: Xoshiro256PlusPlus,
    now: Timestamp,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    /// The instances, by handle: a private instance EC2 forgot is freed once its group let
    /// go of it (events still queued for it are void); terminated masters and public agents
    /// stay, as their groups keep listing them.
    instances: Slots<Instance>,
    /// Instances EC2 still describes, by id and in launch order.
    by_id: BTreeMap<InstanceId, Inst>,
    listed: Vec<Inst>,
    /// The private agents' group (`SlaveServerGroup`): the one faults are aimed at.
    asg: Asg,
    /// The masters' and the public agents' groups, in that order.
    fixed: Vec<FixedGroup>,
    /// The agents, by handle: one removed for good is freed once no pod names it.
    agents: Slots<Agent>,
    /// Agents in `/slaves` (not marked unreachable), in registration order.
    listed_agents: Vec<AgentKey>,
    next_agent_seq: u32,
    agent_prefix: String,
    service: String,
    task_prefix: String,
    pods: Vec<Pod>,
    recovery: Vec<Phase>,
    /// The recovery plan's phases last listed: shared while the plan does not change.
    recovery_shown: RefCell<Option<Arc<[PhaseObs]>>>,
    /// A rebuild of the recovery plan is due at the next offer cycle (see `ring`).
    cycle_pending: bool,
    deploy: PlanObs,
    used_ips: BTreeSet<u32>,
    subnets: Vec<(u32, u32)>,
    empty_task_id: TaskId,
    truth: Vec<TruthEvent>,
    /// Tests only: a pod whose task is lost when a ring restart begins (see `ring`).
    #[cfg(test)]
    sabotage: Option<usize>,
    /// The master's removal rate limiter (with the profile's `mesos_master` flags).
    removals: Limiter,
    /// The service's scheduler: where it runs, whether it answers.
    sched: scheduler::Scheduler,
    /// Whether the truth is recorded (for tests, benches and `sim serve --truth-log`); a suite
    /// that never reads it does not keep it, so that its memory does not grow with the runs.
    keep_truth: bool,
}

/// A stable pseudo-random number from a text (FNV-1a): names derived from the stack must not
/// draw from the seeded stream, or every seeded report would change.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// CloudFormation's physical name of a stack's group: `<stack>-<LogicalId>-<13 characters>`.
fn physical_name(stack: &str, logical_id: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    // 36^13 needs 68 bits: the digits of two hashes.
    let mut h = u128::from(fnv(&format!("{stack}/{logical_id}"))) << 64
        | u128::from(fnv(&format!("{logical_id}/{stack}")));
    let suffix: String = (0..13)
        .map(|_| {
            let c = ALPHABET[(h % 36) as usize] as char;
            h /= 36;
            c
        })
        .collect();
    format!("{stack}-{logical_id}-{suffix}")
}

/// A group's tags as the DC/OS template gives them: `role`, CloudFormation's own, then the
/// profile's (which win over a default of the same key).
fn group_tags<'a>(
    topo: &super::profile::Topology,
    logical_id: &str,
    role: &str,
    extra: impl Iterator<Item = (&'a String, &'a String)>,
) -> Vec<(String, String)> {
    let h = fnv(&topo.stack);
    let stack_id = format!(
        "arn:aws:cloudformation:{}:123456789012:stack/{}/{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        topo.region,
        topo.stack,
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 12) & 0xfff,
        h.rotate_left(21) & 0xffff_ffff_ffff
    );
    let mut tags: BTreeMap<String, String> = BTreeMap::from([
        ("role".to_string(), role.to_string()),
        (CFN_STACK_TAG.to_string(), topo.stack.clone()),
        (CFN_LOGICAL_ID_TAG.to_string(), logical_id.to_string()),
        (CFN_STACK_ID_TAG.to_string(), stack_id),
    ]);
    for (k, v) in extra {
        tags.insert(k.clone(), v.clone());
    }
    tags.into_iter().collect()
}

fn not_found(api: Api, message: String) -> ClusterError {
    ClusterError::NotFound { api, message }
}

/// Civil UTC date and time of a stamp (days-from-civil inverse, H. Hinnant): jiff's general
/// formatter is far slower and these strings are made on hot paths.
fn civil(t: Timestamp) -> (i64, i64, i64, i64, i64, i64) {
    let secs = t.as_millis().div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, sod / 3600, sod % 3600 / 60, sod % 60)
}

/// `2026-01-05 10:00:00` (EC2 `StateTransitionReason`, without the `GMT`).
fn gmt(t: Timestamp) -> String {
    civil_text(t, ' ', "")
}

/// `2026-01-05T10:00:00Z` (the `At …Z` of an activity cause).
fn zulu(t: Timestamp) -> String {
    civil_text(t, 'T', "Z")
}

/// `YYYY-MM-DD<sep>hh:mm:ss<end>`, digit by digit: every simulated run formats a few, and
/// `format!`'s padding takes ten times as long.
fn civil_text(t: Timestamp, sep: char, end: &str) -> String {
    fn digits(out: &mut String, v: i64, n: u32) {
        for i in (0..n).rev() {
            let digit = (v / 10i64.pow(i)).rem_euclid(10) as u8;
            out.push(char::from(b'0' + digit));
        }
    }
    let (y, mo, d, h, mi, s) = civil(t);
    let mut out = String::with_capacity(20);
    digits(&mut out, y, 4);
    for (sep, v) in [('-', mo), ('-', d), (sep, h), (':', mi), (':', s)] {
        out.push(sep);
        digits(&mut out, v, 2);
    }
    out.push_str(end);
    out
}

fn uuid4(rng: &mut Xoshiro256PlusPlus) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    s
}

fn is_active_task(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Staging | TaskState::Starting | TaskState::Running | TaskState::Killing
    )
}

/// dcos-commons' aggregate of child statuses (`PlanUtils.getAggregateStatus`, simplified to
/// the statuses this model produces).
fn aggregate(children: impl Iterator<Item = PlanStatus>) -> PlanStatus {
    let mut any_complete = false;
    let mut pending: Option<PlanStatus> = None;
    let mut mixed = false;
    for s in children {
        match s {
            PlanStatus::Error => return PlanStatus::Error,
            PlanStatus::Complete => any_complete = true,
            other => {
                // Any PREPARED child makes the parent IN_PROGRESS.
                mixed |= other == PlanStatus::Prepared;
                match pending {
                    None => pending = Some(other),
                    Some(p) if p != other => mixed = true,
                    Some(_) => {}
                }
            }
        }
    }
    match pending {
        None => PlanStatus::Complete,
        Some(_) if any_complete || mixed => PlanStatus::InProgress,
        Some(p) => p,
    }
}

impl Sim {
    /// A cluster in steady state at `start`: every instance running and InService, every
    /// pod's server task RUNNING on its own private agent, no recovery in progress.
    pub(crate) fn new(profile: &Profile, seed: u64, start: Timestamp) -> Sim {
        let topo = &profile.topology;
        let service = topo.service.trim_matches('/').to_string();
        let subnets = topo
            .private_subnets
            .iter()
            .map(|s| parse_cidr(&s.cidr).expect("validated profile"))
            .collect();
        let mut sim = Sim {
            profile: profile.clone(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            now: start,
            seq: 0,
            queue: BinaryHeap::new(),
            instances: Slots::default(),
            by_id: BTreeMap::new(),
            listed: Vec::new(),
            asg: Asg {
                name: topo.asg.name.as_str().into(),
                tags: group_tags(
                    topo,
                    PRIVATE_AGENTS_LOGICAL_ID,
                    "mesos-slave",
                    topo.asg.tags.iter(),
                )
                .into(),
                desired: topo.private_agents,
                members: Vec::new(),
                activities: Activities::default(),
            },
            fixed: [
                (MASTER_LOGICAL_ID, "mesos-master"),
                (PUBLIC_AGENTS_LOGICAL_ID, "mesos-slave"),
            ]
            .into_iter()
            .map(|(logical_id, role)| FixedGroup {
                name: physical_name(&topo.stack, logical_id).into(),
                tags: group_tags(topo, logical_id, role, std::iter::empty()).into(),
                members: Vec::new(),
            })
            .collect(),
            agents: Slots::default(),
            listed_agents: Vec::new(),
            next_agent_seq: 0,
            agent_prefix: format!("{}-S", topo.mesos_master_uuid),
            task_prefix: format!("{}__", service.replace('/', ".")),
            service,
            pods: Vec::new(),
            recovery: Vec::new(),
            recovery_shown: RefCell::default(),
            cycle_pending: false,
            deploy: PlanObs {
                status: PlanStatus::Complete,
                phases: Arc::new([]),
                errors: Vec::new(),
            },
            used_ips: BTreeSet::new(),
            subnets,
            empty_task_id: TaskId::new(""),
            truth: Vec::new(),
            #[cfg(test)]
            sabotage: None,
            removals: Limiter::default(),
            sched: scheduler::Scheduler::new(seed),
            keep_truth: true,
        };
        sim.build(profile, start);
        sim
    }

    fn build(&mut self, profile: &Profile, start: Timestamp) {
        let topo = &profile.topology;
        // The cluster was installed two months ago, so the group's own launch activities are
        // past the six weeks `DescribeScalingActivities` keeps: its history starts empty.
        // Instances came up a few seconds apart.
        let install = start.as_millis() - 60 * 86_400_000 - self.rng.random_range(0..3_600_000i64);
        let mut launch = Timestamp::from_millis(install).floor_to_second();
        let step = |rng: &mut Xoshiro256PlusPlus, t: Timestamp| {
            Timestamp::from_millis(t.as_millis() + rng.random_range(1_000..15_000i64))
                .floor_to_second()
        };
        let master_net = parse_cidr(&topo.master_subnet.cidr).expect("validated profile");
        for _ in 0..topo.masters {
            launch = step(&mut self.rng, launch);
            self.add_instance(Role::Master, master_net, 0, launch);
        }
        let mut private = Vec::new();
        for i in 0..topo.private_agents as usize {
            launch = step(&mut self.rng, launch);
            let subnet = i % self.subnets.len();
            let inst = self.add_instance(Role::Private, self.subnets[subnet], subnet, launch);
            private.push(inst);
            self.asg.members.push(Member {
                inst,
                lifecycle: LifecycleState::InService,
                healthy: true,
                detect_scheduled: false,
                launch_activity: None,
                terminate_activity: None,
            });
        }
        let public_net = parse_cidr(&topo.public_subnet.cidr).expect("validated profile");
        let mut public = Vec::new();
        for _ in 0..topo.public_agents {
            launch = step(&mut self.rng, launch);
            public.push(self.add_instance(Role::Public, public_net, 0, launch));
        }
        // Agents register once DC/OS is installed: private agents first (S0…), then public.
        let mut reg = launch.as_millis() + self.rng.random_range(360_000..540_000i64);
        for &inst in private.iter().chain(public.iter()) {
            reg += self.rng.random_range(1_000..4_000i64);
            let t = Timestamp::from_millis(reg);
            let a = self.new_agent(inst, t);
            self.agents[a].reregistered = Some(t);
        }
        self.deploy_pods(&private, topo.pods as usize, reg);
        self.place_scheduler(&private);
        self.deploy = self.build_deploy_plan();
        self.truth.clear();
    }

    /// The service deploys node-0 … node-N serially, one per private agent, some minutes
    /// after the last agent registered at `registered` (ms).
    fn deploy_pods(&mut self, private: &[Inst], pods: usize, registered: i64) {
        let mut t = registered + self.rng.random_range(120_000..300_000i64);
        for (p, &host) in private.iter().take(pods).enumerate() {
            t += self.rng.random_range(60_000..150_000i64);
            let agent = self.instances[host].agent.expect("registered above");
            let name = format!("node-{p}");
            let server_name: Arc<str> = format!("{name}-server").into();
            let id = self.task_id(&server_name);
            let init = (p == 0).then(|| {
                let name = format!("{name}-init_system_keyspaces");
                InitTask {
                    id: self.task_id(&name),
                    name: name.into(),
                    agent: self.agents[agent].id.clone(),
                    time: Timestamp::from_millis(t + 45_000),
                }
            });
            self.pods.push(Pod {
                step_name: format!("{name}:[server]").into(),
                repair_name: format!("{name}-repair").into(),
                name: PodName::new(&name),
                server_name,
                init,
                task: ServerTask {
                    id,
                    state: TaskState::Running,
                    agent,
                    time: Timestamp::from_millis(t),
                    cause: FROM_EXECUTOR,
                },
                reserved: Some(agent),
                epoch: 0,
                offer_pending: false,
                marked: false,
                shown: RefCell::default(),
            });
        }
    }

    fn build_deploy_plan(&mut self) -> PlanObs {
        let mut steps = Vec::new();
        for p in 0..self.pods.len() {
            steps.push(StepObs {
                id: uuid4(&mut self.rng).into(),
                name: self.pods[p].step_name.clone(),
                status: PlanStatus::Complete,
            });
        }
        let mut phases = vec![PhaseObs {
            id: uuid4(&mut self.rng).into(),
            name: "node-deploy".into(),
            status: PlanStatus::Complete,
            steps,
        }];
        if let Some(p0) = self.pods.first() {
            let name = format!("{}:[init_system_keyspaces]", p0.name);
            phases.push(PhaseObs {
                id: uuid4(&mut self.rng).into(),
                name: "keyspace-deploy".into(),
                status: PlanStatus::Complete,
                steps: vec![StepObs {
                    id: uuid4(&mut self.rng).into(),
                    name: name.into(),
                    status: PlanStatus::Complete,
                }],
            });
        }
        PlanObs {
            status: PlanStatus::Complete,
            phases: phases.into(),
            errors: Vec::new(),
        }
    }

    fn task_id(&mut self, task_name: &str) -> TaskId {
        let uuid = uuid4(&mut self.rng);
        TaskId::new(format!("{}{task_name}__{uuid}", self.task_prefix))
    }

    fn alloc_ip(&mut self, (base, size): (u32, u32)) -> (u32, String) {
        // AWS reserves the first four addresses and the last one of every subnet.
        let (lo, hi) = (4u32, size.saturating_sub(1).max(5));
        let mut ip = None;
        for _ in 0..64 {
            let cand = base + self.rng.random_range(lo..hi);
            if !self.used_ips.contains(&cand) {
                ip = Some(cand);
                break;
            }
        }
        let ip = ip
            .or_else(|| {
                (lo..hi)
                    .map(|h| base + h)
                    .find(|c| !self.used_ips.contains(c))
            })
            .unwrap_or(base + lo);
        self.used_ips.insert(ip);
        (ip, std::net::Ipv4Addr::from(ip).to_string())
    }

    fn add_instance(
        &mut self,
        role: Role,
        net: (u32, u32),
        subnet: usize,
        launch: Timestamp,
    ) -> Inst {
        let hi = self.rng.next_u64();
        let lo = self.rng.next_u32() & 0xf;
        let id = InstanceId::new(format!("i-{:017x}", (u128::from(hi) << 4) | u128::from(lo)));
        let (ip_num, ip) = self.alloc_ip(net);
        // Every instance is launched by its group and carries the group's tags (all of them
        // PropagateAtLaunch in the template, CloudFormation's own included).
        let (group, inherited, name) = match role {
            Role::Private => (&self.asg.name, &self.asg.tags, None),
            Role::Master => (
                &self.fixed[0].name,
                &self.fixed[0].tags,
                Some("dcos-master"),
            ),
            Role::Public => (
                &self.fixed[1].name,
                &self.fixed[1].tags,
                Some("dcos-public-agent"),
            ),
        };
        let mut tags = vec![(ASG_NAME_TAG.to_string(), group.to_string())];
        if let Some(name) = name {
            tags.push(("Name".to_string(), name.to_string()));
        }
        tags.extend(inherited.iter().cloned());
        let asg_tag = Some(group.clone());
        let inst = self.instances.insert(Instance {
            id,
            role,
            ip_num,
            ip: ip.into(),
            subnet,
            launch_time: launch,
            state: InstanceState::Running,
            reason: "".into(),
            asg_tag,
            tags: tags.into(),
            agent: None,
            asg_terminate_on_stop: false,
        });
        match role {
            Role::Master => self.fixed[0].members.push(inst),
            Role::Public => self.fixed[1].members.push(inst),
            Role::Private => {}
        }
        self.by_id.insert(self.instances[inst].id.clone(), inst);
        self.listed.push(inst);
        inst
    }

    fn new_agent(&mut self, inst: Inst, at: Timestamp) -> AgentKey {
        let seq = self.next_agent_seq;
        let id = AgentId::new(format!("{}{seq}", self.agent_prefix));
        self.next_agent_seq += 1;
        let i = &self.instances[inst];
        let a = self.agents.insert(Agent {
            id,
            seq,
            inst,
            hostname: i.ip.clone(),
            public: i.role == Role::Public,
            active: true,
            removed: false,
            registered: at,
            reregistered: None,
            epoch: 0,
        });
        self.instances[inst].agent = Some(a);
        self.listed_agents.push(a);
        a
    }

    // ----- clock -------------------------------------------------------------------------

    /// The model's current time.
    pub(crate) fn now(&self) -> Timestamp {
        self.now
    }

    /// Processes every event scheduled at or before `t`, in order, and moves the clock to
    /// `t` (never backwards).
    pub(crate) fn advance_to(&mut self, t: Timestamp) {
        while let Some(top) = self.queue.peek() {
            if top.at > t {
                break;
            }
            let Some(Scheduled { at, ev, .. }) = self.queue.pop() else {
                break;
            };
            if at > self.now {
                self.now = at;
            }
            self.handle(ev);
        }
        if t > self.now {
            self.now = t;
        }
    }

    /// Every real transition so far, in order.
    pub(crate) fn truth(&self) -> &[TruthEvent] {
        &self.truth
    }

    /// Stops recording the truth (and forgets what was recorded).
    pub(crate) fn forget_truth(&mut self) {
        self.keep_truth = false;
        self.truth = Vec::new();
    }

    pub(crate) fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The service's name (without a leading `/`).
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    fn sample(&mut self, pick: fn(&Timings) -> &Dist) -> u64 {
        pick(&self.profile.timings).sample_ms(&mut self.rng)
    }

    fn schedule_at(&mut self, at_ms: i64, ev: Ev) {
        let at = Timestamp::from_millis(at_ms.max(self.now.as_millis()));
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    fn schedule(&mut self, delay_ms: u64, ev: Ev) {
        self.schedule_at(self.now.as_millis() + delay_ms as i64, ev);
    }

    fn record(
        &mut self,
        kind: TruthKind,
        subject: impl Into<String>,
        id: Option<String>,
        state: Option<&str>,
        detail: Option<String>,
    ) {
        if !self.keep_truth {
            return;
        }
        self.truth.push(TruthEvent {
            at: self.now,
            kind,
            subject: subject.into(),
            id,
            state: state.map(str::to_string),
            detail,
        });
    }

    fn record_task(&mut self, pod: usize) {
        if !self.keep_truth {
            return;
        }
        let p = &self.pods[pod];
        let ev = TruthEvent {
            at: self.now,
            kind: TruthKind::TaskStatus,
            subject: p.server_name.to_string(),
            id: Some(p.task.id.to_string()),
            state: Some(p.task.state.as_str().to_string()),
            detail: Some(self.agents[p.task.agent].id.to_string()),
        };
        self.truth.push(ev);
    }

    fn record_step(&mut self, phase: usize, step: usize) {
        if !self.keep_truth {
            return;
        }
        let ph = &self.recovery[phase];
        let st = &ph.steps[step];
        let ev = TruthEvent {
            at: self.now,
            kind: TruthKind::RecoveryStep,
            subject: self.pods[st.pod].step_name.to_string(),
            id: Some(st.id.to_string()),
            state: Some(st.status.as_str().to_string()),
            detail: Some(ph.name.to_string()),
        };
        self.truth.push(ev);
    }

    // ----- events ------------------------------------------------------------------------

    /// Whether the instance or agent an event is about still exists: one freed since (see
    /// [`Sim::free_instance`], [`Sim::sweep_agents`]) could no longer change, so its events
    /// are void.
    fn is_live(&self, ev: &Ev) -> bool {
        match *ev {
            Ev::InstanceRunning { inst }
            | Ev::InstanceStopped { inst }
            | Ev::InstanceTerminated { inst }
            | Ev::InstanceForgotten { inst }
            | Ev::AsgDetect { inst }
            | Ev::InService { inst }
            | Ev::AgentRegister { inst } => self.instances.contains(inst),
            Ev::AgentInactive { agent, .. }
            | Ev::AgentPingsExhausted { agent, .. }
            | Ev::AgentUnreachable { agent, .. }
            | Ev::AgentBack { agent, .. } => self.agents.contains(agent),
            Ev::LaunchStart
            | Ev::TaskKilled { .. }
            | Ev::Offer { .. }
            | Ev::TaskStarting { .. }
            | Ev::TaskRunning { .. }
            | Ev::StepComplete { .. }
            | Ev::SchedulerLaunch { .. }
            | Ev::SchedulerListening { .. }
            | Ev::SchedulerReconciled { .. }
            | Ev::PlanCycle => true,
        }
    }

    fn handle(&mut self, ev: Ev) {
        if !self.is_live(&ev)
            || matches!(
                ev,
                Ev::Offer { .. } | Ev::StepComplete { .. } | Ev::PlanCycle
            ) && self.defer(&ev)
        {
            return;
        }
        match ev {
            Ev::InstanceRunning { inst } => {
                if self.instances[inst].state == InstanceState::Pending {
                    self.instances[inst].state = InstanceState::Running;
                    let id = self.instances[inst].id.to_string();
                    self.record(TruthKind::InstanceRunning, id, None, None, None);
                }
            }
            Ev::InstanceStopped { inst } => self.on_instance_stopped(inst),
            Ev::InstanceTerminated { inst } => self.on_instance_terminated(inst),
            Ev::InstanceForgotten { inst } => self.on_instance_forgotten(inst),
            Ev::AsgDetect { inst } => self.asg_detect(inst),
            Ev::LaunchStart => self.launch_replacement(),
            Ev::InService { inst } => self.in_service(inst),
            Ev::AgentRegister { inst } => {
                if self.instances[inst].state == InstanceState::Running
                    && self.instances[inst].agent.is_none()
                {
                    self.register_agent(inst);
                }
            }
            Ev::AgentInactive { agent, epoch } => self.on_agent_inactive(agent, epoch),
            Ev::AgentPingsExhausted { agent, epoch } => self.on_pings_exhausted(agent, epoch),
            Ev::AgentUnreachable { agent, epoch } => {
                if self.agents[agent].epoch == epoch && !self.agents[agent].removed {
                    self.agent_unreachable(agent);
                }
            }
            Ev::AgentBack { agent, epoch } => {
                let inst = self.agents[agent].inst;
                if self.agents[agent].epoch == epoch
                    && self
                        .instances
                        .get(inst)
                        .is_some_and(|i| i.state == InstanceState::Running)
                {
                    self.agent_back(agent);
                }
            }
            Ev::TaskKilled { pod, task } => self.on_task_killed(pod, &task),
            Ev::Offer { pod, epoch } => {
                if self.pods[pod].epoch == epoch {
                    self.pods[pod].offer_pending = false;
                    self.offer(pod);
                }
            }
            Ev::TaskStarting { pod, epoch } => self.on_task_starting(pod, epoch),
            Ev::TaskRunning { pod, epoch } => self.on_task_running(pod, epoch),
            Ev::StepComplete { pod, epoch } => {
                if self.pods[pod].epoch == epoch
                    && let Some((ph, st)) = self.active_step(pod)
                    && self.recovery[ph].steps[st].status == PlanStatus::Started
                {
                    self.set_step(ph, st, PlanStatus::Complete);
                }
            }
            Ev::SchedulerLaunch { epoch } => self.on_scheduler_launch(epoch),
            Ev::SchedulerListening { epoch } => self.on_scheduler_listening(epoch),
            Ev::SchedulerReconciled { epoch } => self.on_scheduler_reconciled(epoch),
            Ev::PlanCycle => self.plan_cycle(),
        }
    }

    /// A kill the scheduler asked for is done.
    fn on_task_killed(&mut self, pod: usize, task: &TaskId) {
        let p = &self.pods[pod];
        if p.task.id == *task
            && is_active_task(p.task.state)
            && self.deliver(pod, TaskState::Killed, None, false)
        {
            let p = &mut self.pods[pod];
            p.task.state = TaskState::Killed;
            p.task.time = self.now;
            p.task.cause = FROM_EXECUTOR;
            self.record_task(pod);
            self.schedule_offers();
        }
    }

    fn on_task_starting(&mut self, pod: usize, epoch: u32) {
        let p = &self.pods[pod];
        if p.epoch == epoch
            && p.task.state == TaskState::Staging
            && self.deliver(pod, TaskState::Starting, None, false)
        {
            let p = &mut self.pods[pod];
            p.task.state = TaskState::Starting;
            p.task.time = self.now;
            p.task.cause = FROM_EXECUTOR;
            self.record_task(pod);
        }
    }

    /// A stopping instance has stopped; one the group replaces when stopped is terminated.
    fn on_instance_stopped(&mut self, inst: Inst) {
        if self.instances[inst].state == InstanceState::Stopping {
            self.instances[inst].state = InstanceState::Stopped;
            let id = self.instances[inst].id.to_string();
            self.record(TruthKind::InstanceStopped, id, None, None, None);
            if self.instances[inst].asg_terminate_on_stop {
                self.asg_terminate(inst);
            }
        }
    }

    /// A terminating instance is gone: forgotten an hour later, and out of the group.
    fn on_instance_terminated(&mut self, inst: Inst) {
        if self.instances[inst].state == InstanceState::ShuttingDown {
            self.instances[inst].state = InstanceState::Terminated;
            let id = self.instances[inst].id.to_string();
            self.record(TruthKind::InstanceTerminated, id, None, None, None);
            self.schedule(3_600_000, Ev::InstanceForgotten { inst });
            if let Some(m) = self.member(inst)
                && self.asg.members[m].lifecycle == LifecycleState::Terminating
            {
                self.finish_member(m);
            }
        }
    }

    /// A terminated instance drops out of `DescribeInstances`; its IP is free again.
    fn on_instance_forgotten(&mut self, inst: Inst) {
        let i = &mut self.instances[inst];
        self.by_id.remove(&i.id);
        self.listed.retain(|&l| l != inst);
        self.used_ips.remove(&i.ip_num);
        i.tags = Tags::default();
        i.reason = "".into();
        self.free_instance(inst);
    }

    /// Frees a private instance EC2 forgot once its group let go of it too: nothing can
    /// reach it any more (it is in no listing and no group, its events would find it
    /// terminated and do nothing). Its agent may then go as well.
    fn free_instance(&mut self, inst: Inst) {
        let i = &self.instances[inst];
        let forgotten = i.state == InstanceState::Terminated && !self.by_id.contains_key(&i.id);
        if i.role == Role::Private && forgotten && self.member(inst).is_none() {
            self.instances.remove(inst);
            self.sweep_agents();
        }
    }

    /// Frees every agent that can never be seen again: removed from `/slaves`, not its live
    /// instance's agent (so it cannot come back), and named by no pod (a task's or a
    /// reservation's agent, or the agent an init task ran on: the scheduler still shows it).
    fn sweep_agents(&mut self) {
        let dead: Vec<AgentKey> =
            self.agents
                .iter()
                .filter(|&(key, a)| {
                    let home = self.instances.get(a.inst).is_some_and(|i| {
                        i.state != InstanceState::Terminated && i.agent == Some(key)
                    });
                    a.removed
                        && !home
                        && self.sched.agent != Some(key)
                        && !self.pods.iter().any(|p| {
                            p.task.agent == key
                                || p.reserved == Some(key)
                                || p.init.as_ref().is_some_and(|t| t.agent == a.id)
                        })
                })
                .map(|(key, _)| key)
                .collect();
        for key in dead {
            self.agents.remove(key);
        }
    }

    /// The master stops hearing from an agent.
    fn on_agent_inactive(&mut self, agent: AgentKey, epoch: u32) {
        let a = &mut self.agents[agent];
        if a.epoch == epoch && a.active && !a.removed {
            a.active = false;
            let id = a.id.to_string();
            let host = a.hostname.to_string();
            self.record(TruthKind::AgentDisconnected, id, None, None, Some(host));
        }
    }

    /// The master gives up on a silent agent: it is marked unreachable once the removal rate
    /// limiter grants a permit (at once, or after the removals queued before it).
    fn on_pings_exhausted(&mut self, agent: AgentKey, epoch: u32) {
        if self.agents[agent].epoch == epoch && !self.agents[agent].removed {
            let rate = self
                .profile
                .mesos_master
                .as_ref()
                .and_then(|m| m.agent_removal_rate_limit);
            let at = self.removals.acquire(self.now, rate);
            self.schedule_at(at.as_millis(), Ev::AgentUnreachable { agent, epoch });
        }
    }

    /// A pod's task runs again; the recovery step that launched it waits for it to be ready
    /// (a step of a phase rebuilt since then launched nothing and ignores it).
    fn on_task_running(&mut self, pod: usize, epoch: u32) {
        let p = &self.pods[pod];
        if p.epoch == epoch
            && matches!(p.task.state, TaskState::Staging | TaskState::Starting)
            && self.deliver(pod, TaskState::Running, None, false)
        {
            let p = &mut self.pods[pod];
            p.task.state = TaskState::Running;
            p.task.time = self.now;
            p.task.cause = FROM_EXECUTOR;
            self.record_task(pod);
            if let Some((ph, st)) = self.active_step(pod)
                && self.recovery[ph].steps[st].status == PlanStatus::Starting
            {
                self.set_step(ph, st, PlanStatus::Started);
                let ready = if self.recovery[ph].steps[st].permanent {
                    self.sample(|t| &t.recovery_complete)
                } else {
                    self.sample(|t| &t.restart_ready)
                };
                self.schedule(ready, Ev::StepComplete { pod, epoch });
            }
        }
    }

    fn member(&self, inst: Inst) -> Option<usize> {
        self.asg.members.iter().position(|m| m.inst == inst)
    }

    /// The instance left `running` (or `pending`): its agent is lost and the group notices.
    fn host_down(&mut self, inst: Inst) {
        if let Some(a) = self.instances[inst].agent {
            self.scheduler_host_down(a);
            self.agents[a].epoch += 1;
            let epoch = self.agents[a].epoch;
            let inactive = self.sample(|t| &t.agent_inactive);
            self.schedule(inactive, Ev::AgentInactive { agent: a, epoch });
            self.schedule_unreachable(a, epoch, inactive);
            self.stall_pods_on(a);
        }
        if let Some(m) = self.member(inst)
            && !self.asg.members[m].detect_scheduled
            && self.asg.members[m].lifecycle != LifecycleState::Terminating
        {
            self.asg.members[m].detect_scheduled = true;
            let d = self.sample(|t| &t.asg_detect);
            self.schedule(d, Ev::AsgDetect { inst });
        }
    }

    /// The master stops waiting for a silent agent: after its ping timeouts (then a removal
    /// permit) with the profile's `mesos_master` flags, else after `timings.agent_unreachable`;
    /// never before it was marked inactive (`inactive` ms from now).
    fn schedule_unreachable(&mut self, agent: AgentKey, epoch: u32, inactive: u64) {
        match &self.profile.mesos_master {
            Some(m) => {
                let exhausted = m.pings_exhausted_ms(&mut self.rng).max(inactive);
                self.schedule(exhausted, Ev::AgentPingsExhausted { agent, epoch });
            }
            None => {
                let d = self.profile.timings.agent_unreachable.as_ref();
                let unreachable = d.map_or(0, |d| d.sample_ms(&mut self.rng)).max(inactive);
                self.schedule(unreachable, Ev::AgentUnreachable { agent, epoch });
            }
        }
    }

    /// Launch progress of tasks on a dead host stops where it is.
    fn stall_pods_on(&mut self, agent: AgentKey) {
        for p in 0..self.pods.len() {
            if self.pods[p].task.agent == agent && is_active_task(self.pods[p].task.state) {
                self.cancel_progress(p);
            }
        }
    }

    fn cancel_progress(&mut self, pod: usize) {
        self.pods[pod].epoch += 1;
        self.pods[pod].offer_pending = false;
    }

    fn asg_detect(&mut self, inst: Inst) {
        let Some(m) = self.member(inst) else { return };
        if self.asg.members[m].lifecycle == LifecycleState::Terminating {
            return;
        }
        let member = &mut self.asg.members[m];
        member.lifecycle = LifecycleState::Terminating;
        member.healthy = false;
        // A launch still in flight for this instance fails with it.
        if let Some(act) = member
            .launch_activity
            .and_then(|la| self.asg.activities.get_mut(la))
            && act.status == ActivityStatus::InProgress
        {
            act.status = ActivityStatus::Failed;
            act.end = Some(self.now.floor_to_second().max(act.start.floor_to_second()));
        }
        let id = self.instances[inst].id.to_string();
        self.record(TruthKind::AsgUnhealthy, id.clone(), None, None, None);
        let activity = Activity {
            id: uuid4(&mut self.rng),
            instance: self.instances[inst].id.clone(),
            subnet: self.instances[inst].subnet,
            description: format!("Terminating EC2 instance: {id}"),
            cause: format!(
                "At {} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.",
                zulu(self.now)
            ),
            start: self.now,
            end: None,
            status: ActivityStatus::InProgress,
        };
        let a = self.asg.activities.push(activity, self.now);
        self.asg.members[m].terminate_activity = Some(a);
        let d = self.sample(|t| &t.asg_launch_start);
        self.schedule(d, Ev::LaunchStart);
        match self.instances[inst].state {
            InstanceState::Stopped => self.asg_terminate(inst),
            InstanceState::Stopping => self.instances[inst].asg_terminate_on_stop = true,
            InstanceState::Terminated => self.finish_member(m),
            _ => {}
        }
    }

    /// The group terminates an instance it took out of service (a stopped one).
    fn asg_terminate(&mut self, inst: Inst) {
        let i = &mut self.instances[inst];
        i.asg_terminate_on_stop = false;
        i.state = InstanceState::ShuttingDown;
        i.reason = format!("Service initiated ({} GMT)", gmt(self.now)).into();
        let id = i.id.to_string();
        self.record(TruthKind::InstanceShuttingDown, id, None, None, None);
        let d = self.sample(|t| &t.ec2_shutting_down);
        self.schedule(d, Ev::InstanceTerminated { inst });
    }

    /// The Terminating activity succeeds and the instance leaves the group.
    fn finish_member(&mut self, m: usize) {
        let member = self.asg.members.remove(m);
        let inst = member.inst;
        if let Some(act) = member
            .terminate_activity
            .and_then(|a| self.asg.activities.get_mut(a))
        {
            let mut end = self.now.floor_to_second();
            if end < act.start {
                end = Timestamp::from_millis(act.start.as_millis() + 999).floor_to_second();
            }
            act.end = Some(end);
            act.status = ActivityStatus::Successful;
        }
        let id = self.instances[inst].id.to_string();
        self.record(TruthKind::AsgMemberRemoved, id, None, None, None);
        self.free_instance(inst);
    }

    fn launch_replacement(&mut self) {
        let live: Vec<Inst> = self
            .asg
            .members
            .iter()
            .filter(|m| m.lifecycle != LifecycleState::Terminating)
            .map(|m| m.inst)
            .collect();
        let capacity = live.len() as u32;
        if capacity >= self.asg.desired {
            return;
        }
        // Rebalance: the zone with the fewest live members.
        let subnet = (0..self.subnets.len())
            .min_by_key(|&s| {
                live.iter()
                    .filter(|&&i| self.instances[i].subnet == s)
                    .count()
            })
            .unwrap_or(0);
        let inst = self.add_instance(
            Role::Private,
            self.subnets[subnet],
            subnet,
            self.now.floor_to_second(),
        );
        self.instances[inst].state = InstanceState::Pending;
        let id = self.instances[inst].id.to_string();
        let activity = Activity {
            id: uuid4(&mut self.rng),
            instance: self.instances[inst].id.clone(),
            subnet,
            description: format!("Launching a new EC2 instance: {id}"),
            cause: format!(
                "At {} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from {capacity} to {}.",
                zulu(self.now),
                capacity + 1
            ),
            start: self.now,
            end: None,
            status: ActivityStatus::InProgress,
        };
        let launch = self.asg.activities.push(activity, self.now);
        self.asg.members.push(Member {
            inst,
            lifecycle: LifecycleState::Pending,
            healthy: true,
            detect_scheduled: false,
            launch_activity: Some(launch),
            terminate_activity: None,
        });
        let zone = self.profile.topology.private_subnets[subnet].zone.clone();
        self.record(
            TruthKind::ReplacementLaunchStarted,
            id,
            None,
            None,
            Some(zone),
        );
        let pending = self.sample(|t| &t.ec2_pending);
        let in_service = self.sample(|t| &t.asg_in_service).max(pending + 1);
        self.schedule(pending, Ev::InstanceRunning { inst });
        self.schedule(in_service, Ev::InService { inst });
    }

    fn in_service(&mut self, inst: Inst) {
        let Some(m) = self.member(inst) else { return };
        if self.asg.members[m].lifecycle != LifecycleState::Pending
            || self.instances[inst].state != InstanceState::Running
        {
            return;
        }
        self.asg.members[m].lifecycle = LifecycleState::InService;
        if let Some(act) = self.asg.members[m]
            .launch_activity
            .and_then(|a| self.asg.activities.get_mut(a))
        {
            act.status = ActivityStatus::Successful;
            act.end = Some(self.now.floor_to_second());
        }
        let id = self.instances[inst].id.to_string();
        self.record(TruthKind::ReplacementInService, id, None, None, None);
        let d = self.sample(|t| &t.agent_register);
        self.schedule(d, Ev::AgentRegister { inst });
    }

    fn register_agent(&mut self, inst: Inst) {
        let a = self.new_agent(inst, self.now);
        let id = self.agents[a].id.to_string();
        let host = self.agents[a].hostname.to_string();
        self.record(TruthKind::AgentRegistered, id, None, None, Some(host));
        self.schedule_offers();
    }

    fn agent_unreachable(&mut self, agent: AgentKey) {
        self.listed_agents.retain(|&l| l != agent);
        let a = &mut self.agents[agent];
        a.removed = true;
        a.active = false;
        let id = a.id.to_string();
        let host = a.hostname.to_string();
        self.record(TruthKind::AgentUnreachable, id, None, None, Some(host));
        let lost = self.profile.task_lost_status.on_agent_removed();
        // The master's own update, sent as it marks the agent unreachable
        // (`master.cpp` `__removeSlave`).
        let cause = StatusCause {
            source: Some(StatusSource::Master),
            reason: Some(crate::cluster::StatusReason::SlaveRemoved),
            unreachable_time: Some(self.now),
        };
        self.fail_tasks_on(agent, lost, cause);
        self.marathon_task_lost(agent, false);
        self.sweep_agents();
    }

    /// The rebooted host is back and its agent registers again.
    fn agent_back(&mut self, agent: AgentKey) {
        if !self.profile.reboot_keeps_agent_id {
            // A new agent id on the same host; the old id is eventually marked unreachable.
            let inst = self.agents[agent].inst;
            self.register_agent(inst);
            return;
        }
        if self.agents[agent].removed {
            let seq = self.agents[agent].seq;
            let at = self
                .listed_agents
                .partition_point(|&l| self.agents[l].seq < seq);
            self.listed_agents.insert(at, agent);
        }
        let a = &mut self.agents[agent];
        a.epoch += 1;
        a.active = true;
        a.removed = false;
        a.reregistered = Some(self.now);
        let id = a.id.to_string();
        let host = a.hostname.to_string();
        self.record(TruthKind::AgentReregistered, id, None, None, Some(host));
        let gone = self.profile.task_lost_status.on_agent_rebooted();
        // The rebooted agent reports its executors gone.
        let cause = StatusCause {
            source: Some(StatusSource::Slave),
            reason: None,
            unreachable_time: None,
        };
        self.fail_tasks_on(agent, gone, cause);
        self.marathon_task_lost(agent, true);
    }

    /// Every live task on `agent` takes `state` now; the scheduler wants them back.
    fn fail_tasks_on(&mut self, agent: AgentKey, state: TaskState, cause: StatusCause) {
        for p in 0..self.pods.len() {
            if self.pods[p].task.agent == agent
                && is_active_task(self.pods[p].task.state)
                && self.deliver(p, state, cause.unreachable_time, true)
            {
                self.pods[p].task.state = state;
                self.pods[p].task.time = self.now;
                self.pods[p].task.cause = cause;
                self.record_task(p);
                self.task_failed(p);
            }
        }
        self.schedule_offers();
    }

    /// The pod's server task died: recovery wants it back.
    fn task_failed(&mut self, pod: usize) {
        self.cancel_progress(pod);
        if let Some((ph, st)) = self.active_step(pod) {
            if self.recovery[ph].steps[st].permanent {
                self.pods[pod].reserved = None;
            }
            if self.recovery[ph].steps[st].status != PlanStatus::Pending {
                self.set_step(ph, st, PlanStatus::Pending);
            }
        } else {
            self.update_plan();
        }
    }

    fn agent_usable(&self, a: AgentKey) -> bool {
        let agent = &self.agents[a];
        agent.active
            && !agent.removed
            && self
                .instances
                .get(agent.inst)
                .is_some_and(|i| i.state == InstanceState::Running && i.agent == Some(a))
    }

    /// A private agent with no reservation and no live server task of this service.
    fn agent_free(&self, a: AgentKey) -> bool {
        !self.agents[a].public
            && self.agent_usable(a)
            && self.pods.iter().all(|p| {
                p.reserved != Some(a) && !(p.task.agent == a && is_active_task(p.task.state))
            })
    }

    /// Where the pod's pending recovery step can be placed now.
    fn has_candidate(&self, pod: usize, permanent: bool) -> bool {
        if permanent {
            self.listed_agents.iter().any(|&a| self.agent_free(a))
        } else {
            self.pods[pod]
                .reserved
                .is_some_and(|a| self.agent_usable(a))
        }
    }

    /// Gives every recovery step that may go on (its phase's turn) and has somewhere to go an
    /// offer, after the offer delay: a pending step, or a prepared one whose kill is done.
    fn schedule_offers(&mut self) {
        for p in 0..self.pods.len() {
            if self.pods[p].offer_pending {
                continue;
            }
            let Some((ph, st)) = self.active_step(p) else {
                continue;
            };
            if !self.step_may_go(ph, st) {
                continue;
            }
            let step = &self.recovery[ph].steps[st];
            let wants = match step.status {
                PlanStatus::Pending => true,
                PlanStatus::Prepared => !is_active_task(self.pods[p].task.state),
                _ => false,
            };
            if wants && self.has_candidate(p, step.permanent) {
                self.pods[p].offer_pending = true;
                let epoch = self.pods[p].epoch;
                let d = self.sample(|t| &t.offer);
                self.schedule(d, Ev::Offer { pod: p, epoch });
            }
        }
    }

    fn offer(&mut self, pod: usize) {
        let Some((ph, st)) = self.active_step(pod) else {
            return;
        };
        let step = &self.recovery[ph].steps[st];
        let permanent = step.permanent;
        if !matches!(step.status, PlanStatus::Pending | PlanStatus::Prepared)
            || !self.step_may_go(ph, st)
        {
            return;
        }
        if !permanent && is_active_task(self.pods[pod].task.state) {
            // A restart in place: the running task is killed first (the step is PREPARED).
            if self.recovery[ph].steps[st].status == PlanStatus::Pending {
                self.set_step(ph, st, PlanStatus::Prepared);
                let id = self.pods[pod].task.id.clone();
                let d = self.sample(|t| &t.task_kill);
                self.schedule(d, Ev::TaskKilled { pod, task: id });
            }
            return;
        }
        let agent = if permanent {
            let free: Vec<AgentKey> = self
                .listed_agents
                .iter()
                .copied()
                .filter(|&a| self.agent_free(a))
                .collect();
            if free.is_empty() {
                return;
            }
            free[self.rng.random_range(0..free.len())]
        } else {
            match self.pods[pod].reserved {
                Some(a) if self.agent_usable(a) => a,
                _ => return,
            }
        };
        let name = self.pods[pod].server_name.clone();
        let id = self.task_id(&name);
        let p = &mut self.pods[pod];
        p.task = ServerTask {
            id,
            state: TaskState::Staging,
            agent,
            time: self.now,
            // The scheduler's own launch record (`PersistentLaunchRecorder`).
            cause: StatusCause {
                source: Some(StatusSource::Master),
                reason: None,
                unreachable_time: None,
            },
        };
        p.reserved = Some(agent);
        p.marked = false;
        let epoch = p.epoch;
        self.record_task(pod);
        self.set_step(ph, st, PlanStatus::Starting);
        let starting = self.sample(|t| &t.task_starting);
        let running = self.sample(|t| &t.task_running).max(starting + 1);
        self.schedule(starting, Ev::TaskStarting { pod, epoch });
        self.schedule(running, Ev::TaskRunning { pod, epoch });
    }

    // ----- actions -----------------------------------------------------------------------

    fn find_instance(&self, id: &InstanceId) -> ClusterResult<Inst> {
        self.by_id.get(id).copied().ok_or_else(|| {
            not_found(
                Api::Ec2,
                format!("InvalidInstanceID.NotFound: The instance ID '{id}' does not exist"),
            )
        })
    }

    /// EC2 `TerminateInstances` / `StopInstances` / `RebootInstances` on one instance.
    pub(crate) fn inject(&mut self, fault: FaultKind, id: &InstanceId) -> ClusterResult<()> {
        let inst = self.find_instance(id)?;
        let state = self.instances[inst].state;
        let incorrect = |verb: &str| ClusterError::Fatal {
            api: Api::Ec2,
            message: format!(
                "IncorrectInstanceState: The instance '{id}' is not in a state from which it can be {verb}."
            ),
        };
        let user: Arc<str> = format!("User initiated ({} GMT)", gmt(self.now)).into();
        match fault {
            FaultKind::TerminateInstance => match state {
                InstanceState::ShuttingDown | InstanceState::Terminated => {}
                _ => {
                    self.record(
                        TruthKind::FaultInjected,
                        id.as_str(),
                        None,
                        Some(fault.as_str()),
                        None,
                    );
                    let i = &mut self.instances[inst];
                    i.state = InstanceState::ShuttingDown;
                    i.reason = user;
                    i.asg_terminate_on_stop = false;
                    self.record(
                        TruthKind::InstanceShuttingDown,
                        id.as_str(),
                        None,
                        None,
                        None,
                    );
                    let d = self.sample(|t| &t.ec2_shutting_down);
                    self.schedule(d, Ev::InstanceTerminated { inst });
                    if matches!(state, InstanceState::Running | InstanceState::Pending) {
                        self.host_down(inst);
                    }
                }
            },
            FaultKind::StopInstance => match state {
                InstanceState::Stopping | InstanceState::Stopped => {}
                InstanceState::Running => {
                    self.record(
                        TruthKind::FaultInjected,
                        id.as_str(),
                        None,
                        Some(fault.as_str()),
                        None,
                    );
                    let i = &mut self.instances[inst];
                    i.state = InstanceState::Stopping;
                    i.reason = user;
                    self.record(TruthKind::InstanceStopping, id.as_str(), None, None, None);
                    let d = self.sample(|t| &t.ec2_stopping);
                    self.schedule(d, Ev::InstanceStopped { inst });
                    self.host_down(inst);
                }
                _ => return Err(incorrect("stopped")),
            },
            FaultKind::RebootInstance => match state {
                InstanceState::Running => {
                    self.record(
                        TruthKind::FaultInjected,
                        id.as_str(),
                        None,
                        Some(fault.as_str()),
                        None,
                    );
                    self.instances[inst].reason = user;
                    self.host_reboot(inst);
                }
                _ => return Err(incorrect("rebooted")),
            },
        }
        let now = self.now;
        self.advance_to(now);
        Ok(())
    }

    /// The host goes down for a reboot and comes back; EC2 keeps it `running`.
    fn host_reboot(&mut self, inst: Inst) {
        let Some(a) = self.instances[inst].agent else {
            return;
        };
        self.scheduler_host_down(a);
        self.agents[a].epoch += 1;
        let epoch = self.agents[a].epoch;
        let inactive = self.sample(|t| &t.reboot_inactive);
        let back = self.sample(|t| &t.reboot_reregister).max(inactive + 1);
        self.schedule(inactive, Ev::AgentInactive { agent: a, epoch });
        self.schedule(back, Ev::AgentBack { agent: a, epoch });
        self.schedule_unreachable(a, epoch, inactive);
        self.stall_pods_on(a);
    }

    fn check_service(&self, service: &str) -> ClusterResult<()> {
        if service.trim_matches('/') == self.service {
            self.check_scheduler()
        } else {
            Err(not_found(
                Api::Scheduler,
                "404 Not Found: service not found.".to_string(),
            ))
        }
    }

    fn find_pod(&self, pod: &PodName) -> ClusterResult<usize> {
        crate::cluster::position_of(&self.pods, &pod.0, |p| &p.name.0)
            .ok_or_else(|| not_found(Api::Scheduler, format!("Pod {pod} not found")))
    }

    /// `POST /v1/pod/<pod>/replace`: the pod's tasks are marked permanently failed and
    /// killed; a new incarnation goes to any free private agent.
    pub(crate) fn pod_replace(&mut self, service: &str, pod: &PodName) -> ClusterResult<()> {
        self.check_service(service)?;
        let p = self.find_pod(pod)?;
        self.record(TruthKind::PodReplaced, pod.as_str(), None, None, None);
        self.cancel_progress(p);
        self.pods[p].reserved = None;
        self.pods[p].marked = true;
        self.update_plan();
        let task = &self.pods[p].task;
        if is_active_task(task.state) && self.agent_usable(task.agent) {
            let id = task.id.clone();
            let d = self.sample(|t| &t.task_kill);
            self.schedule(d, Ev::TaskKilled { pod: p, task: id });
        }
        self.schedule_offers();
        let now = self.now;
        self.advance_to(now);
        Ok(())
    }

    // ----- observations ------------------------------------------------------------------

    fn instance_obs(&self, i: &Instance) -> InstanceObs {
        InstanceObs {
            id: i.id.clone(),
            state: i.state,
            private_ip: (i.state != InstanceState::Terminated).then(|| i.ip.clone()),
            launch_time: i.launch_time,
            asg_name: i.asg_tag.clone(),
            tags: i.tags.clone(),
            state_transition_reason: i.reason.clone(),
        }
    }

    /// Gives an instance another's private address, as EC2 does once an address is
    /// released (tests of lookups by IP).
    #[cfg(test)]
    pub(crate) fn give_ip(&mut self, id: &InstanceId, ip: &str) {
        let i = self.by_id[id];
        self.instances[i].ip = ip.into();
    }

    /// EC2 `DescribeInstances` without a filter: every instance EC2 still describes, in launch
    /// order (the sim server needs it to apply filter combinations of its own).
    pub(crate) fn all_instances(&self) -> Vec<InstanceObs> {
        self.listed
            .iter()
            .map(|&i| self.instance_obs(&self.instances[i]))
            .collect()
    }

    /// The availability zone of an instance (`Placement.AvailabilityZone`), also of one EC2
    /// already forgot.
    pub(crate) fn instance_zone(&self, id: &InstanceId) -> Option<&str> {
        let topo = &self.profile.topology;
        let Some((_, i)) = self.instances.iter().find(|(_, i)| i.id == *id) else {
            // Freed: a private instance a kept scaling activity still names.
            let a = self
                .asg
                .activities
                .kept
                .iter()
                .find(|a| a.instance == *id)?;
            return Some(&topo.private_subnets[a.subnet].zone);
        };
        Some(match i.role {
            Role::Master => &topo.master_subnet.zone,
            Role::Public => &topo.public_subnet.zone,
            Role::Private => &topo.private_subnets[i.subnet].zone,
        })
    }

    /// The hostname (private IP) of an agent, also one removed from `/slaves` while a pod
    /// still names it (the scheduler still knows the IP of a task on it).
    pub(crate) fn agent_hostname(&self, id: &AgentId) -> Option<&str> {
        self.agents
            .iter()
            .find(|(_, a)| a.id == *id)
            .map(|(_, a)| &*a.hostname)
    }

    /// EC2 `DescribeInstances` with one filter.
    pub(crate) fn describe_instances(
        &self,
        filter: &InstanceFilter,
    ) -> ClusterResult<Vec<InstanceObs>> {
        match filter {
            InstanceFilter::Ids(ids) => ids
                .iter()
                .map(|id| Ok(self.instance_obs(&self.instances[self.find_instance(id)?])))
                .collect(),
            InstanceFilter::PrivateIp(ip) => Ok(self
                .listed
                .iter()
                .map(|&i| &self.instances[i])
                .filter(|i| {
                    matches!(i.state, InstanceState::Pending | InstanceState::Running)
                        && *i.ip == **ip
                })
                .map(|i| self.instance_obs(i))
                .collect()),
            InstanceFilter::AsgName(name) => Ok(self
                .listed
                .iter()
                .map(|&i| &self.instances[i])
                .filter(|i| i.asg_tag.as_deref() == Some(name.as_str()))
                .map(|i| self.instance_obs(i))
                .collect()),
        }
    }

    /// Auto Scaling `DescribeAutoScalingGroups` by name, tag or stack.
    pub(crate) fn describe_asgs(&self, lookup: &AsgLookup) -> Vec<AsgObs> {
        self.groups_where(|name, tags| lookup.matches(name, tags))
    }

    /// Every group: the masters', the private agents', the public agents'.
    pub(crate) fn all_groups(&self) -> Vec<AsgObs> {
        self.groups_where(|_, _| true)
    }

    /// The groups whose name and tags pass `keep`, in [`Sim::all_groups`] order (only those
    /// are built: the private group is described on every poll).
    fn groups_where(&self, keep: impl Fn(&str, &[(String, String)]) -> bool) -> Vec<AsgObs> {
        let mut out = Vec::new();
        let (master, public) = (&self.fixed[0], &self.fixed[1]);
        if keep(&master.name, &master.tags) {
            out.push(self.fixed_group(master));
        }
        if keep(&self.asg.name, &self.asg.tags) {
            out.push(self.private_group());
        }
        if keep(&public.name, &public.tags) {
            out.push(self.fixed_group(public));
        }
        out
    }

    fn fixed_group(&self, g: &FixedGroup) -> AsgObs {
        AsgObs {
            name: g.name.clone(),
            desired_capacity: g.members.len() as u32,
            min_size: g.members.len() as u32,
            max_size: g.members.len() as u32,
            tags: g.tags.clone(),
            instances: g
                .members
                .iter()
                .map(|&i| &self.instances[i])
                .filter(|i| i.state != InstanceState::Terminated)
                .map(|i| {
                    let up = matches!(i.state, InstanceState::Pending | InstanceState::Running);
                    AsgMemberObs {
                        id: i.id.clone(),
                        lifecycle: if up {
                            LifecycleState::InService
                        } else {
                            LifecycleState::Terminating
                        },
                        healthy: up,
                    }
                })
                .collect(),
        }
    }

    fn private_group(&self) -> AsgObs {
        AsgObs {
            name: self.asg.name.clone(),
            desired_capacity: self.asg.desired,
            min_size: self.asg.desired,
            max_size: self.asg.desired,
            tags: self.asg.tags.clone(),
            instances: self
                .asg
                .members
                .iter()
                .map(|m| AsgMemberObs {
                    id: self.instances[m.inst].id.clone(),
                    lifecycle: m.lifecycle,
                    healthy: m.healthy,
                })
                .collect(),
        }
    }

    /// Auto Scaling `DescribeScalingActivities`, newest first, at most `max`.
    /// Newest first, those started at or after `since`.
    pub(crate) fn describe_scaling_activities(
        &self,
        asg: &str,
        since: Timestamp,
    ) -> ClusterResult<Vec<ActivityObs>> {
        if self.fixed.iter().any(|g| *g.name == *asg) {
            // Nothing ever happened to them within the six weeks the history keeps.
            return Ok(Vec::new());
        }
        if *asg != *self.asg.name {
            return Err(not_found(
                Api::AutoScaling,
                format!(
                    "ValidationError: AutoScalingGroup name not found - AutoScalingGroup '{asg}' not found"
                ),
            ));
        }
        if self.profile.scaling_activities == ScalingActivities::None {
            // A group that keeps no activities (or whose history was paged away).
            return Ok(Vec::new());
        }
        Ok(self
            .asg
            .activities
            .kept
            .iter()
            .rev()
            .take_while(|a| a.start >= since)
            .map(|a| ActivityObs {
                id: a.id.clone(),
                description: a.description.clone(),
                cause: a.cause.clone(),
                start_time: a.start,
                end_time: a.end,
                status: a.status,
            })
            .collect())
    }

    /// The Mesos master's `/slaves`: every agent not marked unreachable.
    pub(crate) fn agents(&self) -> Vec<AgentObs> {
        self.listed_agents
            .iter()
            .map(|&a| &self.agents[a])
            .map(|a| AgentObs {
                id: a.id.clone(),
                hostname: a.hostname.clone(),
                active: a.active,
                registered_time: a.registered,
                reregistered_time: a.reregistered,
                public: a.public,
            })
            .collect()
    }

    /// The pod as `/v1/pod/status` (`info` false) or `/v1/pod/<pod>/info` shows it.
    fn pod_obs(&self, p: &Pod, info: bool) -> PodObs {
        let agent = &self.agents[p.task.agent].id;
        let mut shown = p.shown.borrow_mut();
        let last = &mut shown[usize::from(info)];
        let tasks = match last {
            Some(tasks) if tasks.last().is_some_and(|t| shows(t, p, agent, info)) => tasks.clone(),
            _ => last.insert(self.task_obs(p, agent, info)).clone(),
        };
        PodObs {
            name: p.name.clone(),
            tasks,
        }
    }

    /// The pod's tasks: the init task (node-0), the never-launched repair stub, the server.
    fn task_obs(&self, p: &Pod, agent: &AgentId, info: bool) -> Arc<[TaskObs]> {
        let mut tasks = Vec::with_capacity(3);
        if let Some(init) = &p.init {
            tasks.push(TaskObs {
                name: init.name.clone(),
                id: init.id.clone(),
                state: Some(TaskState::Finished),
                agent: info.then(|| init.agent.clone()),
                status_time: info.then_some(init.time),
                cause: if info {
                    FROM_EXECUTOR
                } else {
                    StatusCause::default()
                },
            });
        }
        tasks.push(TaskObs {
            name: p.repair_name.clone(),
            id: self.empty_task_id.clone(),
            state: None,
            agent: info.then(|| agent.clone()),
            status_time: None,
            cause: StatusCause::default(),
        });
        tasks.push(TaskObs {
            name: p.server_name.clone(),
            id: p.task.id.clone(),
            state: Some(p.task.state),
            agent: info.then(|| agent.clone()),
            status_time: info.then_some(p.task.time),
            cause: if info {
                p.task.cause
            } else {
                StatusCause::default()
            },
        });
        tasks.into()
    }

    /// `GET /v1/pod/status`.
    pub(crate) fn pod_statuses(&self, service: &str) -> ClusterResult<Vec<PodObs>> {
        self.check_service(service)?;
        Ok(self.pods.iter().map(|p| self.pod_obs(p, false)).collect())
    }

    /// `GET /v1/pod/<pod>/info`.
    pub(crate) fn pod_info(&self, service: &str, pod: &PodName) -> ClusterResult<PodObs> {
        self.check_service(service)?;
        let p = self.find_pod(pod)?;
        Ok(self.pod_obs(&self.pods[p], true))
    }

    /// The recovery plan's phases as the scheduler lists them.
    fn recovery_obs(&self) -> Arc<[PhaseObs]> {
        self.recovery
            .iter()
            .map(|ph| PhaseObs {
                id: ph.id.clone(),
                name: ph.name.clone(),
                status: aggregate(ph.steps.iter().map(|s| s.status)),
                steps: ph
                    .steps
                    .iter()
                    .map(|s| StepObs {
                        id: s.id.clone(),
                        name: self.pods[s.pod].step_name.clone(),
                        status: s.status,
                    })
                    .collect(),
            })
            .collect()
    }

    /// `GET /v1/plans/<plan>` for `deploy` and `recovery`.
    pub(crate) fn plan(&self, service: &str, plan: &str) -> ClusterResult<PlanObs> {
        self.check_service(service)?;
        match plan {
            "deploy" => Ok(self.deploy.clone()),
            "recovery" => {
                let mut shown = self.recovery_shown.borrow_mut();
                let phases = match &*shown {
                    Some(phases) if shows_plan(phases, &self.recovery) => phases.clone(),
                    _ => shown.insert(self.recovery_obs()).clone(),
                };
                Ok(PlanObs {
                    status: aggregate(phases.iter().map(|p| p.status)),
                    phases,
                    errors: Vec::new(),
                })
            }
            other => Err(not_found(Api::Scheduler, format!("Plan {other} not found"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instance hosting `pod`'s server task.
    fn host_of(s: &Sim, pod: usize) -> InstanceId {
        let agent = &s.agents[s.pods[pod].task.agent];
        s.instances[agent.inst].id.clone()
    }

    #[test]
    fn drill_after_drill_the_model_holds_what_a_cluster_of_its_size_needs() {
        for reboot in [false, true] {
            let mut profile = Profile::default_profile();
            profile.reboot_keeps_agent_id = false;
            let topo = &profile.topology;
            let size = (topo.masters + topo.private_agents + topo.public_agents) as usize;
            let mut s = Sim::new(&profile, 5, crate::cluster::sim::EPOCH);
            s.forget_truth();
            let service = s.service().to_string();
            let mut slots = 0;
            let first = host_of(&s, 4);
            for round in 0..40 {
                let victim = host_of(&s, 4);
                let fault = if reboot {
                    FaultKind::RebootInstance
                } else {
                    FaultKind::TerminateInstance
                };
                s.inject(fault, &victim).unwrap();
                let t = s.now().as_millis();
                s.advance_to(Timestamp::from_millis(t + 20 * 60_000));
                s.pod_replace(&service, &PodName::new("node-4")).unwrap();
                s.advance_to(Timestamp::from_millis(t + 4 * 3_600_000));
                let plan = s.plan(&service, "recovery").unwrap();
                assert_eq!(plan.status, PlanStatus::Complete, "round {round}");
                assert_eq!(s.agents().len(), size - topo.masters as usize);
                // One instance (and agent) more than the cluster's while a drill's victim is
                // still remembered; never one per drill.
                assert!(s.instances.len() <= size + 1, "round {round}");
                assert!(s.agents.len() <= size - topo.masters as usize + 1);
                slots = slots.max(s.instances.slots_len() + s.agents.slots_len());
            }
            assert!(slots <= 2 * size + 4, "{slots} slots after 40 drills");
            assert!(s.truth().is_empty(), "a truth not asked for is not kept");
            if !reboot {
                // Freed long ago, the first victim's zone is still known: its scaling
                // activities are kept six weeks and name it.
                assert!(!s.by_id.contains_key(&first));
                assert!(s.instance_zone(&first).is_some());
            }
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let u = uuid4(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_eq!(u.matches('-').count(), 4);
    }

    #[test]
    fn aggregate_follows_the_sdk() {
        use PlanStatus::*;
        assert_eq!(aggregate([].into_iter()), Complete);
        assert_eq!(aggregate([Complete, Complete].into_iter()), Complete);
        assert_eq!(aggregate([Pending].into_iter()), Pending);
        assert_eq!(aggregate([Complete, Pending].into_iter()), InProgress);
        assert_eq!(aggregate([Starting, Pending].into_iter()), InProgress);
        assert_eq!(aggregate([Pending, Error].into_iter()), Error);
        assert_eq!(aggregate([Prepared].into_iter()), InProgress);
    }

    #[test]
    fn time_formats() {
        let t = Timestamp::parse_rfc3339("2026-01-05T10:00:31.268Z").unwrap();
        assert_eq!(gmt(t), "2026-01-05 10:00:31");
        assert_eq!(zulu(t), "2026-01-05T10:00:31Z");
        // The fast civil conversion agrees with jiff across leap years and centuries.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for ms in [0i64, 951_782_400_000, 4_107_542_399_999, -86_400_000] {
            let t = Timestamp::from_millis(ms);
            assert_eq!(zulu(t), format!("{}Z", &t.to_rfc3339()[..19]));
        }
        for _ in 0..10_000 {
            let t = Timestamp::from_millis(rng.random_range(0..7_000_000_000_000i64));
            assert_eq!(zulu(t), format!("{}Z", &t.to_rfc3339()[..19]));
        }
    }
}
