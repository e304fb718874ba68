//! Scenario files: the declarative description of one drill (which node to kill, which fault,
//! how to heal, what recovery is expected, the SLOs) — the model here, parsing and validation
//! in [`parse`], YAML source locations in [`locate`].

pub mod parse;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::time::Dur;
use crate::vocab::{FaultKind, Metric, Percentile, Phase};

pub use parse::{LoadError, load_paths, parse_scenario};

/// The JSON Schema of scenario files (committed as `docs/scenario.schema.json`).
pub(crate) fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).expect("schemas serialise")
}

/// One scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "chaos-harness scenario")]
pub struct Scenario {
    /// A short unique name (letters, digits, `-`, `_`), used in reports.
    pub name: String,
    /// What the drill rehearses, in a sentence or two.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    /// The DC/OS service (built on dcos-commons) to heal and watch. Without it only the AWS
    /// phases are measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) service: Option<Service>,
    /// The Auto Scaling group the victims belong to: only its members are ever hit. Needed
    /// for `random` and `instance`; for `pod` found from the victim's
    /// `aws:autoscaling:groupName` tag when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) asg: Option<AsgSelector>,
    /// Which instance(s) to hit.
    pub(crate) target: Target,
    /// What to do to the victim.
    pub(crate) fault: FaultKind,
    /// What the harness does to recover, as an operator would.
    #[serde(default)]
    pub(crate) heal: HealPolicy,
    /// Phase deadlines and phases that must not happen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) expect: Vec<Expectation>,
    /// Objectives over the metrics' distributions, e.g.
    /// `time_to_cassandra_running: {p50: 15m, p99: 20m, min_runs: 20}`.
    #[serde(default, skip_serializing_if = "Slos::is_empty")]
    pub(crate) slos: Slos,
    /// The confidence of every SLO verdict, in (0.5, 1): an SLO passes only when its true
    /// percentile is at or below the threshold with this confidence (judged from the order
    /// statistics of the runs, widened by their error bounds), fails only when it is above it
    /// with this confidence, and is inconclusive otherwise. A p99 needs at least 299 runs to
    /// pass at 0.95, a p90 29, a p50 5.
    #[serde(default = "default_confidence")]
    #[schemars(extend("exclusiveMinimum" = 0.5, "exclusiveMaximum" = 1))]
    pub(crate) confidence: f64,
    /// How many kill → recovery cycles to run: a count (`runs: 300`), or at most `max` and
    /// no more than it takes to decide (`runs: {max: 60, until: decided}`): the verdicts are
    /// looked at after every run, on intervals that stay valid however often they are looked
    /// at, and the scenario stops as soon as every SLO is decided (pass or fail).
    #[serde(default)]
    pub(crate) runs: Runs,
    /// Extra wait after steady state is verified, before the next run.
    #[serde(default)]
    pub(crate) cooldown: Dur,
    /// How long to wait for steady state (before a run, and between runs) before aborting.
    #[serde(default = "default_steady_state_timeout")]
    pub(crate) steady_state_timeout: Dur,
    /// How often an API is polled while a transition it shows may be near: always for one
    /// that only a poll can time (instance terminated, agent lost, recovery complete), and
    /// for the phase a heal waits for; once a suite has seen a phase, from half its earliest
    /// time on.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Dur,
    /// How often an API is polled while nothing it shows can be near (agent bootstrap, a
    /// phase the server timestamps itself): the gentle end of adaptive polling. Equal to
    /// `poll_interval` for a fixed poller. Default: 30 s, or `poll_interval` if longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_poll_interval: Option<Dur>,
    /// At most this many requests to each service (EC2, Auto Scaling, DC/OS) in any minute;
    /// a request over the budget waits. Default: 60, or what two feeds of one service read
    /// every `poll_interval` ask when that is more (120 at a 1 s poll), so that a short
    /// `poll_interval` is not spaced out by the default budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_requests_per_minute: Option<u32>,
    /// The deadline of every awaited phase that has no `within` expectation of its own.
    #[serde(default = "default_timeout")]
    pub(crate) timeout: Dur,
    /// Extra stop conditions: the suite aborts as soon as one is seen during a run (besides
    /// the built-in one: anything beyond the victims degrading). All pods are checked every
    /// `max_poll_interval`, the group's members whenever the group is polled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stop_when: Option<StopWhen>,
    /// The simulated cluster to use with `--target sim`: `default`, `fast`, `spare-agent`,
    /// `flaky`, `fast-flaky` (the last two with faulty APIs), or a profile file path relative to
    /// this scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) profile: Option<String>,
}

impl Scenario {
    /// The request budget per service and minute: the scenario's, or the default — at least
    /// 60, and enough for two feeds of a service read every `poll_interval` (a dense phase
    /// and the next one of the same service, e.g. the relaunched task's pod and then the
    /// recovery plan, would otherwise wait for the budget and widen their brackets).
    pub fn request_budget(&self) -> u32 {
        self.max_requests_per_minute.unwrap_or_else(|| {
            let per_feed = 60_000u64.div_ceil(self.poll_interval.as_millis().max(1));
            u32::try_from(2 * per_feed)
                .unwrap_or(u32::MAX)
                .max(DEFAULT_REQUEST_BUDGET)
        })
    }

    /// The gentle polling interval, defaulted.
    pub fn max_poll_interval(&self) -> Dur {
        self.max_poll_interval
            .unwrap_or(Dur::from_secs(30).max(self.poll_interval))
    }
}

fn default_confidence() -> f64 {
    0.95
}
/// The run count of a scenario (`runs`), and whether it stops once its verdicts are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Runs {
    /// The run count, or with `until_decided` the most runs.
    pub max: u32,
    /// `until: decided`: stop as soon as every SLO has a decided verdict.
    pub until_decided: bool,
}

impl Default for Runs {
    fn default() -> Self {
        Self {
            max: 10,
            until_decided: false,
        }
    }
}
fn default_steady_state_timeout() -> Dur {
    Dur::from_mins(30)
}
fn default_poll_interval() -> Dur {
    Dur::from_secs(5)
}
/// The request budget per service and minute when the scenario names none, at least.
const DEFAULT_REQUEST_BUDGET: u32 = 60;
fn default_timeout() -> Dur {
    Dur::from_mins(45)
}

/// User-given stop conditions, counted over the whole service and group (victims included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StopWhen {
    /// Abort when at least this many pods' tasks are not RUNNING at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pods_not_running: Option<u32>,
    /// Abort when at least this many group members are not InService at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) instances_not_in_service: Option<u32>,
}

/// The DC/OS service to watch and heal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Service {
    /// The service name as in `dcos <service> …` and `/service/<name>/v1` (folders allowed).
    pub(crate) name: String,
    /// The task of each pod that must be RUNNING (`<pod>-<task>`).
    #[serde(default = "default_task")]
    pub(crate) task: String,
}

fn default_task() -> String {
    "server".to_string()
}

/// How to find the Auto Scaling group: exactly one of `name`, `tag` or `stack`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AsgSelector {
    /// The group's name, e.g. `dcos-SlaveServerGroup-1X2Y3Z4W5V6U7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// A tag exactly one group carries (a tag several groups carry is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tag: Option<Tag>,
    /// The CloudFormation stack that created the group: the group carrying the
    /// `aws:cloudformation:stack-name` tag of this stack and the
    /// `aws:cloudformation:logical-id` tag `logical_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stack: Option<String>,
    /// The group's logical id in the stack's template (only with `stack`); default
    /// `SlaveServerGroup`, the private agents of the DC/OS template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) logical_id: Option<String>,
    /// Only instances carrying this tag are ever hit (an opt-in the cluster's owners set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) opt_in_tag: Option<Tag>,
}

/// An EC2 / Auto Scaling tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tag {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// The victim selection: exactly one of `pod`, `instance`, `random`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    /// Kill the private agent that runs this pod (e.g. `node-4`). Needs `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pod: Option<String>,
    /// Kill this EC2 instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) instance: Option<String>,
    /// Kill a random member of the pool, chosen with the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) random: Option<RandomPool>,
    /// How many instances to hit at once (only with `random`).
    #[serde(default = "one")]
    pub(crate) count: u32,
    /// The most instances this scenario may ever hit at once; `count` above it is refused.
    #[serde(default = "one")]
    pub(crate) blast_radius: u32,
    /// Allow one run to take down more than one pod of the service (e.g. `count: 2` on
    /// agents that each run a Cassandra node). Off by default: two Cassandra nodes down at once
    /// can lose quorum.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) allow_multiple_pods: bool,
}

fn one() -> u32 {
    1
}

/// Pools a random victim is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RandomPool {
    /// An InService private agent of the scenario's ASG.
    PrivateAgent,
}

/// How the harness heals the service after the fault, as an operator would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum HealPolicy {
    /// `pod replace` once the pod's task has left RUNNING (the manual drill).
    ReplaceOnTaskLost,
    /// `pod replace` right after the fault is injected.
    ReplaceImmediately,
    /// `pod replace` once the replacement's Mesos agent has registered.
    ReplaceAfterAgentRegistered,
    /// Do nothing; watch what the platform does on its own.
    #[default]
    None,
}

impl HealPolicy {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::ReplaceOnTaskLost => "replace-on-task-lost",
            Self::ReplaceImmediately => "replace-immediately",
            Self::ReplaceAfterAgentRegistered => "replace-after-agent-registered",
            Self::None => "none",
        }
    }

    pub(crate) const fn replaces(self) -> bool {
        !matches!(self, Self::None)
    }
}

/// An expectation on one phase: exactly one of `within` (it must happen by then) or
/// `absent_for` (it must not happen during that long after the fault).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expectation {
    pub(crate) phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) within: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) absent_for: Option<Dur>,
}

/// What an expectation demands, once validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Demand {
    Within(Dur),
    AbsentFor(Dur),
}

impl Expectation {
    /// The validated demand; validation guarantees exactly one is set.
    pub(crate) fn demand(&self) -> Demand {
        match (self.within, self.absent_for) {
            (Some(d), _) => Demand::Within(d),
            (None, Some(d)) => Demand::AbsentFor(d),
            (None, None) => Demand::Within(Dur::ZERO),
        }
    }
}

/// The SLOs of a scenario, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Slos(pub Vec<SloSpec>);

impl Slos {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// All objectives over one metric: `time_to_cassandra_running: {p50: 15m, p99: 20m}`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SloSpec {
    pub(crate) metric: Metric,
    pub(crate) objectives: Vec<(Percentile, Dur)>,
    /// Below this many counted runs the verdict is `inconclusive`.
    pub(crate) min_runs: u32,
}

/// The default minimum run count of an SLO.
pub(crate) const DEFAULT_SLO_MIN_RUNS: u32 = 5;
