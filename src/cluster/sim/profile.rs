//! Simulation profiles: the topology of the simulated cluster and a timing distribution for
//! every step of a drill, read from YAML.
//!
//! Five profiles are built in (`default`, `fast`, `spare-agent`, `flaky`, `fast-flaky`,
//! embedded from `profiles/`); any other name is a path to a YAML file of the same shape.
//! Every problem in a profile is reported as a [`Diagnostic`] with file:line:column and a hint.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::api_faults::{ApiFaultKind, ApiFaults};
use super::dist::Dist;
use super::marathon::{Placement, SchedulerSpec};
use super::mesos_master::MesosMaster;
use crate::cluster::{Api, TaskState};
use crate::time::Dur;
use crate::vocab::Target;
use crate::vocab::yaml::locate::{LineCol, Locator, Seg};
use crate::vocab::yaml::{Diagnostic, from_yaml, input_text, yaml_error};

const DEFAULT_YAML: &str = include_str!("../../../profiles/default.yaml");
const FAST_YAML: &str = include_str!("../../../profiles/fast.yaml");
const SPARE_AGENT_YAML: &str = include_str!("../../../profiles/spare-agent.yaml");
const FLAKY_YAML: &str = include_str!("../../../profiles/flaky.yaml");
const FAST_FLAKY_YAML: &str = include_str!("../../../profiles/fast-flaky.yaml");

/// The names [`Profile::load`] resolves without touching the file system.
pub const BUILTIN_PROFILES: [&str; 5] = ["default", "fast", "spare-agent", "flaky", "fast-flaky"];

/// Where profile keys are documented, for hints.
const PROFILE_REF: &str = "profiles/README.md";

/// The largest simulated cluster (the model keeps every instance and agent ever made).
const MAX_NODES: u32 = 200;

/// A simulated cluster: its shape, its behaviour switches and its timings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Free text shown by `sim serve` and in reports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    #[serde(default)]
    pub topology: Topology,
    /// The status a task on a lost agent shows: `LOST` (what operators see in practice) or
    /// `UNREACHABLE` (a partition-aware scheduler).
    #[serde(default)]
    pub(crate) task_lost_status: LostStatus,
    /// Whether a rebooted host's Mesos agent recovers with the same agent id.
    #[serde(default = "yes")]
    pub(crate) reboot_keeps_agent_id: bool,
    /// Whether the group keeps scaling activities (`kept`, what AWS does) or `none` (an
    /// implementation that keeps none, or a history paged away): `DescribeScalingActivities`
    /// then answers with none, and the harness has no server stamp for the group's phases.
    #[serde(default, skip_serializing_if = "ScalingActivities::is_kept")]
    pub(crate) scaling_activities: ScalingActivities,
    /// The Mesos master's agent-loss flags: a lost agent is unreachable after its ping
    /// timeouts, rate limited. Without them `timings.agent_unreachable` draws the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mesos_master: Option<MesosMaster>,
    /// Where the service's scheduler runs and how Marathon relaunches it (defaults when left
    /// out: a random private agent, Marathon's 5-minute `inactiveAfterSeconds`).
    #[serde(default, skip_serializing_if = "SchedulerSpec::is_default")]
    pub(crate) scheduler: SchedulerSpec,
    pub(crate) timings: Timings,
    /// Faults in the APIs themselves (throttling, 5xx, resets, slow answers, 401s); none
    /// without this section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api_faults: Option<ApiFaults>,
    /// The runs `profile fit` fitted the timings to: a suite on this profile is a model-based
    /// prediction, and its reports say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fitted_from: Option<FittedFrom>,
    /// Where the profile was loaded from: a built-in name or the file's path as given.
    #[serde(skip)]
    pub(crate) origin: String,
}

/// Where a fitted profile's timings come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FittedFrom {
    /// Where the runs ran: `aws` (the real cluster) or `sim` (a round trip).
    pub(crate) target: Target,
    /// The runs that showed at least one step.
    pub(crate) runs: u32,
    /// The report folders read.
    #[serde(default)]
    pub(crate) reports: Vec<String>,
}

impl FittedFrom {
    /// The label of a suite run on the profile: `model-based prediction from profile P fitted
    /// to N real (aws) runs`.
    pub(crate) fn label(&self, profile: &str) -> String {
        let kind = match self.target {
            Target::Aws => "real (aws)",
            Target::Sim => "simulated",
        };
        format!(
            "model-based prediction from profile {profile} fitted to {} {kind} run{}",
            self.runs,
            if self.runs == 1 { "" } else { "s" }
        )
    }
}

fn yes() -> bool {
    true
}

/// Whether the simulated group keeps scaling activities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ScalingActivities {
    #[default]
    Kept,
    None,
}

impl ScalingActivities {
    fn is_kept(&self) -> bool {
        *self == Self::Kept
    }
}

/// Which status string a task on a lost agent shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LostStatus {
    #[default]
    #[serde(rename = "LOST")]
    Lost,
    #[serde(rename = "UNREACHABLE")]
    Unreachable,
}

impl LostStatus {
    /// The state of a task whose agent was marked unreachable.
    pub(crate) fn on_agent_removed(self) -> TaskState {
        match self {
            Self::Lost => TaskState::Lost,
            Self::Unreachable => TaskState::Unreachable,
        }
    }

    /// The state of a task whose agent came back after a host reboot without it: Mesos sends
    /// `TASK_GONE` to partition-aware frameworks and `TASK_LOST` to the others.
    pub(crate) fn on_agent_rebooted(self) -> TaskState {
        match self {
            Self::Lost => TaskState::Lost,
            Self::Unreachable => TaskState::Gone,
        }
    }
}

/// The machines, the Auto Scaling group and the service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topology {
    /// The dcos-commons service name (`cassandra`; a folder name such as `/dev/cassandra` is
    /// allowed).
    pub service: String,
    /// Pod instances `node-0` … `node-<n-1>`, one per private agent.
    pub(crate) pods: u32,
    /// Cassandra's seed nodes: `node-0` … `node-<seeds-1>` (`LOCAL_SEEDS_COUNT`, default 2).
    /// Replacing a seed restarts every other node in place, one at a time.
    pub(crate) seeds: u32,
    /// Private agents, all members of the Auto Scaling group; at least `pods`.
    pub(crate) private_agents: u32,
    /// Public agents (not in the group).
    pub(crate) public_agents: u32,
    pub(crate) masters: u32,
    pub(crate) region: String,
    /// Subnets of the private agents; the group spreads its instances across them.
    pub(crate) private_subnets: Vec<Subnet>,
    pub(crate) public_subnet: Subnet,
    pub(crate) master_subnet: Subnet,
    pub asg: AsgSpec,
    /// The CloudFormation stack the cluster was created from: every group carries its
    /// `aws:cloudformation:stack-name` tag; the masters' and public agents' groups are named
    /// `<stack>-MasterServerGroup-…` and `<stack>-PublicSlaveServerGroup-…`.
    #[serde(skip_serializing_if = "is_default_stack")]
    pub(crate) stack: String,
    /// The Mesos master's uuid, the prefix of every agent id.
    pub(crate) mesos_master_uuid: String,
}

impl Default for Topology {
    fn default() -> Self {
        let subnet = |zone: &str, cidr: &str| Subnet {
            zone: zone.to_string(),
            cidr: cidr.to_string(),
        };
        Self {
            service: "cassandra".to_string(),
            pods: 5,
            seeds: 2,
            private_agents: 5,
            public_agents: 1,
            masters: 1,
            region: "us-west-2".to_string(),
            private_subnets: vec![
                subnet("us-west-2a", "10.0.1.0/24"),
                subnet("us-west-2b", "10.0.2.0/24"),
                subnet("us-west-2c", "10.0.3.0/24"),
            ],
            public_subnet: subnet("us-west-2a", "10.0.5.0/24"),
            master_subnet: subnet("us-west-2a", "10.0.0.0/24"),
            asg: AsgSpec::default(),
            stack: DEFAULT_STACK.to_string(),
            mesos_master_uuid: "b6f0c2d8-4e1a-4f7b-9c3d-2a5e8f1b7c64".to_string(),
        }
    }
}

/// The stack name of a profile that names none.
const DEFAULT_STACK: &str = "dcos";

fn is_default_stack(s: &str) -> bool {
    s == DEFAULT_STACK
}

/// A subnet in one availability zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Subnet {
    pub(crate) zone: String,
    /// IPv4 CIDR, `/16` to `/28`.
    pub cidr: String,
}

/// The Auto Scaling group of the private agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsgSpec {
    pub name: String,
    /// Group tags, propagated to the instances it launches.
    pub(crate) tags: BTreeMap<String, String>,
}

impl Default for AsgSpec {
    fn default() -> Self {
        Self {
            name: "dcos-private-agents".to_string(),
            tags: BTreeMap::from([("chaos-harness/opt-in".to_string(), "true".to_string())]),
        }
    }
}

/// How long each step takes. Every figure is a distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Timings {
    /// EC2 `shutting-down` → `terminated`.
    pub(crate) ec2_shutting_down: Dist,
    /// EC2 `stopping` → `stopped`.
    pub(crate) ec2_stopping: Dist,
    /// The instance leaves `running` → the group's health check marks it Unhealthy and starts
    /// the Terminating activity.
    pub(crate) asg_detect: Dist,
    /// Detection → the Launching activity starts.
    pub(crate) asg_launch_start: Dist,
    /// Launch start → the new instance is EC2 `running`.
    pub(crate) ec2_pending: Dist,
    /// Launch start → the new instance is `InService`.
    pub(crate) asg_in_service: Dist,
    /// `InService` → the new host's Mesos agent registers (DC/OS bootstrap).
    pub(crate) agent_register: Dist,
    /// The host dies → Mesos marks its agent inactive.
    pub(crate) agent_inactive: Dist,
    /// The host dies → Mesos marks its agent unreachable (removed; tasks lost). Exactly one
    /// of this and the profile's `mesos_master` flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent_unreachable: Option<Dist>,
    /// A recovery step waits for an offer from a suitable agent → the task is placed
    /// (`STAGING`).
    pub(crate) offer: Dist,
    /// `STAGING` → `STARTING`.
    pub(crate) task_starting: Dist,
    /// Placed → `RUNNING`.
    pub(crate) task_running: Dist,
    /// Kill of a task on a live agent → `KILLED`.
    pub(crate) task_kill: Dist,
    /// `RUNNING` → the replace step is `COMPLETE` (bootstrap streaming, node Up/Normal).
    pub(crate) recovery_complete: Dist,
    /// `RUNNING` → an in-place relaunch's step is `COMPLETE` (the node rejoins with its data).
    pub(crate) restart_ready: Dist,
    /// Reboot call → the agent is marked inactive.
    pub(crate) reboot_inactive: Dist,
    /// Reboot call → the host is back and its agent registers again.
    pub reboot_reregister: Dist,
}

/// The scheduler's placement must name a pod the service has.
fn scheduler_problems(p: &Profile, err: &mut impl FnMut(Vec<Seg>, String)) {
    if let Placement::Pod(n) = p.scheduler.agent
        && n >= p.topology.pods
    {
        err(
            keys(&["scheduler", "agent"]),
            format!(
                "scheduler.agent names node-{n}, but the service has {} pods; hint: `random`, `elsewhere` or node-0 … node-{}",
                p.topology.pods,
                p.topology.pods.saturating_sub(1)
            ),
        );
    }
}

/// Why a profile could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// No such built-in profile and no such file.
    #[error("cannot read profile {path}: {message}; hint: name a built-in profile ({builtins}) or a YAML file", builtins = BUILTIN_PROFILES.join(", "))]
    Read { path: String, message: String },
    /// The profile is not valid: every problem, located.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diags: &[Diagnostic]) -> String {
    let mut out: String = diags.iter().map(ToString::to_string).collect();
    out.push_str(&format!(
        "{} problem{} found in the profile; nothing was run",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    ));
    out
}

impl ProfileError {
    /// The whole error for a terminal: `error: …` lines, located diagnostics with their
    /// snippets and hints.
    pub fn render(&self) -> String {
        match self {
            Self::Read { .. } => format!("error: {self}"),
            Self::Invalid(_) => self.to_string(),
        }
    }

    /// The problems, located (none for a file that cannot be read).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Read { .. } => &[],
            Self::Invalid(d) => d,
        }
    }
}

impl Profile {
    /// A built-in profile by name (`default`, `fast`, `spare-agent`, `flaky`, `fast-flaky`).
    pub(crate) fn builtin(name: &str) -> Option<Profile> {
        let text = Self::builtin_text(name)?;
        let mut p = Self::parse(text, &format!("<built-in profile {name}>"))
            .expect("built-in profiles are valid (checked by tests)");
        p.origin = name.to_string();
        Some(p)
    }

    /// The YAML text of a built-in profile.
    pub(crate) fn builtin_text(name: &str) -> Option<&'static str> {
        Some(match name {
            "default" => DEFAULT_YAML,
            "fast" => FAST_YAML,
            "spare-agent" => SPARE_AGENT_YAML,
            "flaky" => FLAKY_YAML,
            "fast-flaky" => FAST_FLAKY_YAML,
            _ => return None,
        })
    }

    /// The embedded default profile.
    pub fn default_profile() -> Profile {
        Self::builtin("default").expect("the default profile is built in")
    }

    /// A built-in profile by name, or else a YAML file at that path.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if let Some(p) = Self::builtin(name_or_path) {
            return Ok(p);
        }
        let mut p = Self::load_file(Path::new(name_or_path))?;
        p.origin = name_or_path.to_string();
        Ok(p)
    }

    /// What a suite on this profile is, when it is a model fitted to runs: its label.
    pub(crate) fn prediction(&self) -> Option<String> {
        self.fitted_from.as_ref().map(|f| f.label(&self.origin))
    }

    pub(crate) fn load_file(path: &Path) -> Result<Profile, ProfileError> {
        let bytes = std::fs::read(path).map_err(|e| ProfileError::Read {
            path: path.display().to_string(),
            message: match e.kind() {
                std::io::ErrorKind::NotFound => "there is no such file".to_string(),
                _ => e.to_string(),
            },
        })?;
        Self::parse_bytes(&bytes, path)
    }

    /// Parses and validates profile YAML; `file` names the source in errors.
    pub(crate) fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
        Self::parse_bytes(text.as_bytes(), Path::new(file))
    }

    /// Parses and validates a profile file's bytes; `file` names the source in errors.
    pub fn parse_bytes(bytes: &[u8], file: &Path) -> Result<Profile, ProfileError> {
        let one = |d: Diagnostic| ProfileError::Invalid(vec![d]);
        let text = input_text(
            file,
            bytes,
            "profiles are YAML text; is this the right file?",
            "a profile needs at least `timings`; start from profiles/default.yaml",
        )
        .map_err(one)?;
        let profile: Profile =
            from_yaml(text).map_err(|e| one(yaml_error(file, text, &e, PROFILE_REF)))?;
        let problems = profile.problems();
        if problems.is_empty() {
            return Ok(profile);
        }
        let locator = Locator::new(text);
        Err(ProfileError::Invalid(
            problems
                .into_iter()
                .map(|(path, message)| {
                    let at = locator
                        .value(&path)
                        .unwrap_or(LineCol { line: 1, column: 1 });
                    Diagnostic::new(file, text, at, message)
                })
                .collect(),
        ))
    }

    /// The cross-field rules, each with the YAML path of the value at fault.
    fn problems(&self) -> Vec<(Vec<Seg>, String)> {
        let mut out = Vec::new();
        let mut err = |path: Vec<Seg>, message: String| out.push((path, message));
        let t = &self.topology;
        if t.service.trim_matches('/').is_empty() {
            err(
                keys(&["topology", "service"]),
                "topology.service is empty; hint: e.g. `service: cassandra`".into(),
            );
        }
        if t.pods == 0 {
            err(
                keys(&["topology", "pods"]),
                "topology.pods is 0; hint: the service needs at least one pod, e.g. `pods: 5`"
                    .into(),
            );
        }
        for (name, n) in [
            ("pods", t.pods),
            ("private_agents", t.private_agents),
            ("public_agents", t.public_agents),
            ("masters", t.masters),
        ] {
            if n > MAX_NODES {
                err(
                    keys(&["topology", name]),
                    format!(
                        "topology.{name} is {n}, more than the simulator models ({MAX_NODES}); hint: is this a typo?"
                    ),
                );
            }
        }
        if t.private_agents < t.pods {
            err(
                keys(&["topology", "private_agents"]),
                format!(
                    "topology.private_agents ({}) is smaller than topology.pods ({}); hint: each pod needs its own private agent",
                    t.private_agents, t.pods
                ),
            );
        }
        if t.private_subnets.is_empty() {
            err(
                keys(&["topology", "private_subnets"]),
                "topology.private_subnets is empty; hint: name at least one subnet".into(),
            );
        }
        subnet_problems(t, &mut err);
        scheduler_problems(self, &mut err);
        if t.asg.name.is_empty() {
            err(
                keys(&["topology", "asg", "name"]),
                "topology.asg.name is empty; hint: e.g. `name: dcos-private-agents`".into(),
            );
        }
        if t.stack.is_empty() {
            err(
                keys(&["topology", "stack"]),
                "topology.stack is empty; hint: the CloudFormation stack name, e.g. `dcos`".into(),
            );
        }
        if t.mesos_master_uuid.is_empty() {
            err(
                keys(&["topology", "mesos_master_uuid"]),
                "topology.mesos_master_uuid is empty; hint: any uuid, e.g. the default profile's"
                    .into(),
            );
        }
        if let Some(f) = &self.api_faults {
            api_fault_problems(f, &mut err);
        }
        self.agent_loss_problems(&mut err);
        out
    }

    /// When a lost agent becomes unreachable is said once: by the master's flags or by a
    /// timing.
    fn agent_loss_problems(&self, err: &mut impl FnMut(Vec<Seg>, String)) {
        match (&self.mesos_master, &self.timings.agent_unreachable) {
            (Some(_), Some(_)) => err(
                keys(&["timings", "agent_unreachable"]),
                "`timings.agent_unreachable` and `mesos_master` both say when a lost agent is unreachable; hint: drop one (the flags decide it from the pings)".into(),
            ),
            (None, None) => err(
                keys(&["timings"]),
                "nothing says when a lost agent is unreachable; hint: add `timings.agent_unreachable` or the `mesos_master` flags (profiles/README.md)".into(),
            ),
            (Some(m), None) => {
                if m.agent_ping_timeout.is_zero() {
                    err(
                        keys(&["mesos_master", "agent_ping_timeout"]),
                        "`agent_ping_timeout` is zero; hint: DC/OS sets 15s".into(),
                    );
                }
                if m.max_agent_ping_timeouts == 0 {
                    err(
                        keys(&["mesos_master", "max_agent_ping_timeouts"]),
                        "`max_agent_ping_timeouts` is 0; hint: DC/OS sets 20, Mesos' default is 5"
                            .into(),
                    );
                }
            }
            (None, Some(_)) => {}
        }
    }
}

/// Each subnet's CIDR parses and its zone is named.
fn subnet_problems(t: &Topology, err: &mut impl FnMut(Vec<Seg>, String)) {
    let subnets = t
        .private_subnets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut p = keys(&["topology", "private_subnets"]);
            p.push(Seg::Index(i));
            (p, s)
        })
        .chain([
            (keys(&["topology", "public_subnet"]), &t.public_subnet),
            (keys(&["topology", "master_subnet"]), &t.master_subnet),
        ]);
    for (path, s) in subnets {
        if let Err(e) = parse_cidr(&s.cidr) {
            let mut p = path.clone();
            p.push(Seg::Key("cidr".into()));
            err(p, e);
        }
        if s.zone.is_empty() {
            let mut p = path;
            p.push(Seg::Key("zone".into()));
            err(
                p,
                format!(
                    "subnet {} has no zone; hint: e.g. `zone: us-west-2a`",
                    s.cidr
                ),
            );
        }
    }
}

/// A YAML path of keys.
fn keys(k: &[&str]) -> Vec<Seg> {
    k.iter().map(|k| Seg::Key((*k).to_string())).collect()
}

/// A list of fault kinds: each once, and only kinds that can happen on `only`.
fn kinds_ok(
    kinds: &[ApiFaultKind],
    at: Vec<Seg>,
    only: Option<Api>,
    err: &mut impl FnMut(Vec<Seg>, String),
) {
    for (i, k) in kinds.iter().enumerate() {
        let mut p = at.clone();
        p.push(Seg::Index(i));
        if kinds[..i].contains(k) {
            err(
                p,
                format!(
                    "fault kind `{}` is listed twice; hint: list each kind once",
                    k.as_str()
                ),
            );
        } else if let Some(api) = only
            && !k.applies_to(api)
        {
            err(
                p,
                format!(
                    "fault kind `{}` cannot happen on {api}; hint: `unauthorized` is for mesos and scheduler only, `scheduler_unreachable` for scheduler only",
                    k.as_str()
                ),
            );
        }
    }
}

/// The rules of `api_faults:` that serde cannot see field by field.
fn api_fault_problems(f: &ApiFaults, err: &mut impl FnMut(Vec<Seg>, String)) {
    let path = |k: &[&str]| -> Vec<Seg> {
        let mut p = keys(&["api_faults"]);
        p.extend(keys(k));
        p
    };
    if f.kinds.is_empty() && f.rate.get() > 0.0 {
        err(
            path(&["kinds"]),
            "`kinds` is empty, so the rate injects nothing; hint: list kinds, e.g. `[throttle, server_error]`, or drop `kinds` for all of them".into(),
        );
    }
    kinds_ok(&f.kinds, path(&["kinds"]), None, err);
    for (api, name) in [
        (Api::Ec2, "ec2"),
        (Api::AutoScaling, "auto_scaling"),
        (Api::Mesos, "mesos"),
        (Api::Scheduler, "scheduler"),
    ] {
        if let Some(kinds) = f.apis.get(api).and_then(|o| o.kinds.as_deref()) {
            if kinds.is_empty() {
                err(
                    path(&["apis", name, "kinds"]),
                    format!("`apis.{name}.kinds` is empty; hint: write `rate: 0` to spare {api}"),
                );
            }
            kinds_ok(kinds, path(&["apis", name, "kinds"]), Some(api), err);
        }
    }
    if f.token_expires_after.is_some_and(Dur::is_zero) {
        err(
            path(&["token_expires_after"]),
            "`token_expires_after` is zero: no token would ever be accepted; hint: e.g. `10m`, or drop the key".into(),
        );
    }
    if let Some(o) = &f.scheduler_outage {
        if o.every.is_zero() {
            err(
                path(&["scheduler_outage", "every"]),
                "`every` is zero; hint: the time from one outage to the next, e.g. `5m`".into(),
            );
        }
        if o.lasting.is_zero() {
            err(
                path(&["scheduler_outage", "lasting"]),
                "`lasting` is zero: no outage; hint: e.g. `20s`, or drop `scheduler_outage`".into(),
            );
        } else if o.lasting >= o.every {
            err(
                path(&["scheduler_outage", "lasting"]),
                format!(
                    "an outage lasting {} once every {} never ends; hint: make `lasting` shorter than `every`",
                    o.lasting, o.every
                ),
            );
        }
    }
}

/// An IPv4 CIDR as (network address, number of addresses).
pub(crate) fn parse_cidr(cidr: &str) -> Result<(u32, u32), String> {
    let bad =
        || format!("`{cidr}` is not an IPv4 CIDR; hint: e.g. `10.0.1.0/24` (prefix /16 to /28)");
    let (addr, prefix) = cidr.split_once('/').ok_or_else(bad)?;
    let prefix: u32 = prefix.parse().map_err(|_| bad())?;
    if !(16..=28).contains(&prefix) {
        return Err(bad());
    }
    let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let size = 1u32 << (32 - prefix);
    Ok((u32::from(ip) & !(size - 1), size))
}

impl fmt::Display for LostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.on_agent_removed().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        for name in BUILTIN_PROFILES {
            let p = Profile::load(name).unwrap();
            assert_eq!(p.topology.service, "cassandra", "{name}");
            assert_eq!(p.topology.pods, 5, "{name}");
        }
        let spare = Profile::builtin("spare-agent").unwrap();
        assert_eq!(spare.topology.private_agents, 6);
        assert_eq!(Profile::default_profile().topology.private_agents, 5);
        assert!(Profile::builtin("nope").is_none());
    }

    #[test]
    fn builtin_timings_are_all_distributions() {
        for name in BUILTIN_PROFILES {
            let t = Profile::builtin(name).unwrap().timings;
            let all = [
                &t.ec2_shutting_down,
                &t.ec2_stopping,
                &t.asg_detect,
                &t.asg_launch_start,
                &t.ec2_pending,
                &t.asg_in_service,
                &t.agent_register,
                &t.agent_inactive,
                t.agent_unreachable.as_ref().unwrap(),
                &t.offer,
                &t.task_starting,
                &t.task_running,
                &t.task_kill,
                &t.recovery_complete,
                &t.restart_ready,
                &t.reboot_inactive,
                &t.reboot_reregister,
            ];
            for d in all {
                assert!(!d.is_constant(), "{name}: {d:?}");
            }
        }
    }

    #[test]
    fn fast_profile_is_the_default_sixty_times_faster() {
        let d = Profile::default_profile().timings;
        let f = Profile::builtin("fast").unwrap().timings;
        let (dlo, dhi) = d.agent_register.bounds();
        let (flo, fhi) = f.agent_register.bounds();
        assert_eq!(dlo.as_millis() / 60, flo.as_millis());
        assert_eq!(dhi.as_millis() / 60, fhi.as_millis());
    }

    fn base_with_timing(line: &str) -> String {
        DEFAULT_YAML.replace(
            "  offer: {uniform: {min: 1s, max: 10s}}",
            &format!("  offer: {line}"),
        )
    }

    /// The one problem of a profile that must not parse.
    fn one_problem(text: &str) -> Diagnostic {
        let err = Profile::parse(text, "bad.yaml").unwrap_err();
        let d = err.diagnostics();
        assert_eq!(d.len(), 1, "{err}");
        assert!(d[0].hint.is_some(), "no hint: {err}");
        d[0].clone()
    }

    fn line_of(text: &str, prefix: &str) -> usize {
        text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
    }

    #[test]
    fn min_above_max_is_an_error_with_a_location() {
        let text = base_with_timing("{uniform: {min: 20s, max: 10s}}");
        assert_ne!(text, DEFAULT_YAML, "the test must find the offer line");
        let d = one_problem(&text);
        assert_eq!(d.file, Path::new("bad.yaml"));
        assert_eq!(d.line, line_of(&text, "  offer:"), "{d}");
        assert!(d.column > 1, "{d}");
        assert!(d.message.contains("min 20s > max 10s"), "{d}");
        assert!(d.to_string().starts_with("error: bad.yaml:"), "{d}");
    }

    #[test]
    fn lognormal_order_is_checked() {
        let text = base_with_timing("{lognormal: {median: 30s, p99: 10s, min: 5s, max: 1m}}");
        let d = one_problem(&text);
        assert!(d.message.contains("min <= median <= p99"), "{d}");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let text = base_with_timing("{uniform: {min: 1s, max: 10s, mean: 5s}}");
        let d = one_problem(&text);
        assert!(d.line > 1, "{d}");
        assert!(d.message.contains("mean"), "{d}");
        assert!(!d.message.contains("at line"), "{d}");
        assert!(d.hint.as_deref().unwrap().contains(PROFILE_REF), "{d}");

        let text = DEFAULT_YAML.replace("timings:", "timing_typo: 1\ntimings:");
        let d = one_problem(&text);
        assert!(d.message.contains("timing_typo"), "{d}");
        assert_eq!(d.line, line_of(&text, "timing_typo"), "{d}");

        let text = base_with_timing("{gaussian: {mean: 5s}}");
        assert!(one_problem(&text).message.contains("gaussian"));
    }

    #[test]
    fn topology_is_validated_where_written() {
        let text = DEFAULT_YAML.replace("private_agents: 5", "private_agents: 3");
        let d = one_problem(&text);
        assert!(d.message.contains("private_agents (3)"), "{d}");
        assert_eq!(
            (d.line, d.column),
            (line_of(&text, "  private_agents:"), 19),
            "{d}"
        );
        let text = DEFAULT_YAML.replace("10.0.2.0/24", "10.0.2.0/33");
        let d = one_problem(&text);
        assert_eq!(d.line, line_of(&text, "    - {zone: us-west-2b"), "{d}");
        assert!(d.message.contains("10.0.2.0/33"), "{d}");
        let text = DEFAULT_YAML.replace("pods: 5", "pods: 100000");
        assert_eq!(
            Profile::parse(&text, "big.yaml")
                .unwrap_err()
                .diagnostics()
                .len(),
            2
        );
    }

    #[test]
    fn empty_and_binary_profiles_are_located() {
        assert!(one_problem("").message.contains("empty"));
        assert!(one_problem(" \n\n").message.contains("white space"));
        let err = Profile::parse_bytes(b"timings:\n  x: \xff", Path::new("b.yaml")).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.column), (2, 6), "{d}");
        assert!(d.message.contains("UTF-8"), "{d}");
    }

    fn with_faults(section: &str) -> String {
        format!("{DEFAULT_YAML}{section}")
    }

    #[test]
    fn api_faults_parse_with_defaults() {
        let p = Profile::parse(&with_faults("api_faults: {rate: 0.2}\n"), "f.yaml").unwrap();
        let f = p.api_faults.unwrap();
        assert_eq!(f.rate.get(), 0.2);
        assert_eq!(f.kinds, ApiFaultKind::ALL.to_vec());
        assert_eq!(f.slow.bounds(), (Dur::from_secs(1), Dur::from_secs(3)));
        assert!(Profile::default_profile().api_faults.is_none());
        let flaky = Profile::builtin("flaky").unwrap().api_faults.unwrap();
        assert_eq!(flaky.rate.get(), 0.2);
        assert_eq!(flaky.kinds, ApiFaultKind::ALL.to_vec());
    }

    #[test]
    fn flaky_profiles_keep_their_base_timings() {
        let pairs = [("flaky", "default"), ("fast-flaky", "fast")];
        for (flaky, base) in pairs {
            let (f, b) = (
                Profile::builtin(flaky).unwrap(),
                Profile::builtin(base).unwrap(),
            );
            assert_eq!(f.timings, b.timings, "{flaky}");
            assert_eq!(f.topology, b.topology, "{flaky}");
            assert!(f.api_faults.is_some() && b.api_faults.is_none());
        }
    }

    #[test]
    fn api_fault_mistakes_are_located() {
        let cases = [
            ("api_faults: {rate: 1.5}\n", "0 to 1", 1),
            (
                "api_faults:\n  rate: 0.2\n  kinds: [throttle, throttle]\n",
                "twice",
                3,
            ),
            ("api_faults:\n  kinds: [throttle, hiccup]\n", "hiccup", 2),
            (
                "api_faults:\n  rate: 0.1\n  kinds: []\n",
                "injects nothing",
                3,
            ),
            (
                "api_faults:\n  apis:\n    ec2: {kinds: [unauthorized]}\n",
                "cannot happen on EC2",
                3,
            ),
            ("api_faults:\n  apis:\n    dcos: {rate: 0.1}\n", "dcos", 3),
            ("api_faults:\n  token_expires_after: 0s\n", "zero", 2),
            (
                "api_faults:\n  scheduler_outage: {every: 20s, lasting: 1m}\n",
                "never ends",
                2,
            ),
            (
                "api_faults:\n  slow: {uniform: {min: 3s, max: 1s}}\n",
                "swap",
                2,
            ),
        ];
        let base = DEFAULT_YAML.lines().count();
        for (section, words, line) in cases {
            let d = one_problem(&with_faults(section));
            assert!(
                d.message.contains(words) || d.hint.as_deref().unwrap_or("").contains(words),
                "{section}: {d}"
            );
            assert_eq!(d.line, base + line, "{section}: {d}");
        }
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = Profile::load("/nonexistent/profile.yaml").unwrap_err();
        assert!(matches!(err, ProfileError::Read { .. }), "{err}");
        assert!(err.to_string().contains("hint:"));
    }

    #[test]
    fn cidrs_parse() {
        assert_eq!(parse_cidr("10.0.1.0/24").unwrap(), (0x0a00_0100, 256));
        assert!(parse_cidr("10.0.1.0").is_err());
        assert!(parse_cidr("10.0.1.0/8").is_err());
    }
}
