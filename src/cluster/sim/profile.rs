//! Simulation profiles: the topology of the simulated cluster and a timing distribution for
//! every step of a drill, read from YAML.
//!
//! Three profiles are built in (`default`, `fast`, `spare-agent`, embedded from `profiles/`);
//! any other name is a path to a YAML file of the same shape.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use rand::RngExt;
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::cluster::TaskState;
use crate::time::Dur;

const DEFAULT_YAML: &str = include_str!("../../../profiles/default.yaml");
const FAST_YAML: &str = include_str!("../../../profiles/fast.yaml");
const SPARE_AGENT_YAML: &str = include_str!("../../../profiles/spare-agent.yaml");

/// The names [`Profile::load`] resolves without touching the file system.
pub const BUILTIN_PROFILES: [&str; 3] = ["default", "fast", "spare-agent"];

/// A simulated cluster: its shape, its behaviour switches and its timings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Free text shown by `sim serve` and in reports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub topology: Topology,
    /// The status a task on a lost agent shows: `LOST` (what operators see in practice) or
    /// `UNREACHABLE` (a partition-aware scheduler).
    #[serde(default)]
    pub task_lost_status: LostStatus,
    /// Whether a rebooted host's Mesos agent recovers with the same agent id.
    #[serde(default = "yes")]
    pub reboot_keeps_agent_id: bool,
    pub timings: Timings,
}

fn yes() -> bool {
    true
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
    pub fn on_agent_removed(self) -> TaskState {
        match self {
            Self::Lost => TaskState::Lost,
            Self::Unreachable => TaskState::Unreachable,
        }
    }

    /// The state of a task whose agent came back after a host reboot without it: Mesos sends
    /// `TASK_GONE` to partition-aware frameworks and `TASK_LOST` to the others.
    pub fn on_agent_rebooted(self) -> TaskState {
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
    pub pods: u32,
    /// Private agents, all members of the Auto Scaling group; at least `pods`.
    pub private_agents: u32,
    /// Public agents (not in the group).
    pub public_agents: u32,
    pub masters: u32,
    pub region: String,
    /// Subnets of the private agents; the group spreads its instances across them.
    pub private_subnets: Vec<Subnet>,
    pub public_subnet: Subnet,
    pub master_subnet: Subnet,
    pub asg: AsgSpec,
    /// The Mesos master's uuid, the prefix of every agent id.
    pub mesos_master_uuid: String,
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
            mesos_master_uuid: "b6f0c2d8-4e1a-4f7b-9c3d-2a5e8f1b7c64".to_string(),
        }
    }
}

/// A subnet in one availability zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub zone: String,
    /// IPv4 CIDR, `/16` to `/28`.
    pub cidr: String,
}

/// The Auto Scaling group of the private agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsgSpec {
    pub name: String,
    /// Group tags, propagated to the instances it launches.
    pub tags: BTreeMap<String, String>,
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
pub struct Timings {
    /// EC2 `shutting-down` → `terminated`.
    pub ec2_shutting_down: Dist,
    /// EC2 `stopping` → `stopped`.
    pub ec2_stopping: Dist,
    /// The instance leaves `running` → the group's health check marks it Unhealthy and starts
    /// the Terminating activity.
    pub asg_detect: Dist,
    /// Detection → the Launching activity starts.
    pub asg_launch_start: Dist,
    /// Launch start → the new instance is EC2 `running`.
    pub ec2_pending: Dist,
    /// Launch start → the new instance is `InService`.
    pub asg_in_service: Dist,
    /// `InService` → the new host's Mesos agent registers (DC/OS bootstrap).
    pub agent_register: Dist,
    /// The host dies → Mesos marks its agent inactive.
    pub agent_inactive: Dist,
    /// The host dies → Mesos marks its agent unreachable (removed; tasks lost).
    pub agent_unreachable: Dist,
    /// A recovery step waits for an offer from a suitable agent → the task is placed
    /// (`STAGING`).
    pub offer: Dist,
    /// `STAGING` → `STARTING`.
    pub task_starting: Dist,
    /// Placed → `RUNNING`.
    pub task_running: Dist,
    /// Kill of a task on a live agent → `KILLED`.
    pub task_kill: Dist,
    /// `RUNNING` → the replace step is `COMPLETE` (bootstrap streaming, node Up/Normal).
    pub recovery_complete: Dist,
    /// `RUNNING` → an in-place relaunch's step is `COMPLETE` (the node rejoins with its data).
    pub restart_ready: Dist,
    /// Reboot call → the agent is marked inactive.
    pub reboot_inactive: Dist,
    /// Reboot call → the host is back and its agent registers again.
    pub reboot_reregister: Dist,
}

/// A duration distribution as written in a profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DistSpec {
    Uniform(UniformSpec),
    Lognormal(LognormalSpec),
    Constant(Dur),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UniformSpec {
    min: Dur,
    max: Dur,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LognormalSpec {
    median: Dur,
    p99: Dur,
    min: Dur,
    max: Dur,
}

/// The z-score of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

/// A validated duration distribution, ready to sample: `{uniform: {min, max}}`,
/// `{lognormal: {median, p99, min, max}}` (median and p99 fix the shape, the result is clamped
/// to `[min, max]`) or `{constant: 5s}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DistSpec", into = "DistSpec")]
pub struct Dist {
    spec: DistSpec,
    kind: DistKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DistKind {
    Constant(u64),
    Uniform {
        min: u64,
        max: u64,
    },
    Lognormal {
        mu: f64,
        sigma: f64,
        min: u64,
        max: u64,
    },
}

impl From<Dist> for DistSpec {
    fn from(d: Dist) -> Self {
        d.spec
    }
}

impl TryFrom<DistSpec> for Dist {
    type Error = String;

    fn try_from(spec: DistSpec) -> Result<Self, String> {
        let kind = match &spec {
            DistSpec::Constant(d) => DistKind::Constant(d.as_millis()),
            DistSpec::Uniform(u) => {
                if u.min > u.max {
                    return Err(format!(
                        "uniform distribution has min {} > max {}; hint: swap them",
                        u.min, u.max
                    ));
                }
                DistKind::Uniform {
                    min: u.min.as_millis(),
                    max: u.max.as_millis(),
                }
            }
            DistSpec::Lognormal(l) => {
                if l.median.is_zero() {
                    return Err(
                        "lognormal distribution needs a median above zero; hint: e.g. `median: 30s`"
                            .to_string(),
                    );
                }
                if l.min > l.max {
                    return Err(format!(
                        "lognormal distribution has min {} > max {}; hint: swap them",
                        l.min, l.max
                    ));
                }
                if !(l.min <= l.median && l.median <= l.p99) {
                    return Err(format!(
                        "lognormal distribution needs min <= median <= p99, got min {}, median {}, p99 {}",
                        l.min, l.median, l.p99
                    ));
                }
                if l.median > l.max {
                    return Err(format!(
                        "lognormal distribution has median {} > max {}; hint: raise max",
                        l.median, l.max
                    ));
                }
                let median = l.median.as_millis() as f64;
                DistKind::Lognormal {
                    mu: median.ln(),
                    sigma: (l.p99.as_millis() as f64 / median).ln() / Z_P99,
                    min: l.min.as_millis(),
                    max: l.max.as_millis(),
                }
            }
        };
        Ok(Self { spec, kind })
    }
}

impl Dist {
    pub fn constant(d: Dur) -> Self {
        Self {
            spec: DistSpec::Constant(d),
            kind: DistKind::Constant(d.as_millis()),
        }
    }

    pub fn uniform(min: Dur, max: Dur) -> Result<Self, String> {
        DistSpec::Uniform(UniformSpec { min, max }).try_into()
    }

    pub fn lognormal(median: Dur, p99: Dur, min: Dur, max: Dur) -> Result<Self, String> {
        DistSpec::Lognormal(LognormalSpec {
            median,
            p99,
            min,
            max,
        })
        .try_into()
    }

    /// Whether every sample is the same value.
    pub fn is_constant(&self) -> bool {
        matches!(self.kind, DistKind::Constant(_))
    }

    /// The smallest and largest value a sample can take.
    pub fn bounds(&self) -> (Dur, Dur) {
        let (lo, hi) = match self.kind {
            DistKind::Constant(c) => (c, c),
            DistKind::Uniform { min, max } | DistKind::Lognormal { min, max, .. } => (min, max),
        };
        (Dur::from_millis(lo), Dur::from_millis(hi))
    }

    /// One draw, in milliseconds.
    pub(crate) fn sample_ms(&self, rng: &mut Xoshiro256PlusPlus) -> u64 {
        match self.kind {
            DistKind::Constant(c) => c,
            DistKind::Uniform { min, max } => rng.random_range(min..=max),
            DistKind::Lognormal {
                mu,
                sigma,
                min,
                max,
            } => {
                let z: f64 = rng.sample(StandardNormal);
                let x = (mu + sigma * z).exp();
                (x.round() as u64).clamp(min, max)
            }
        }
    }

    pub fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> Dur {
        Dur::from_millis(self.sample_ms(rng))
    }
}

/// Why a profile could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {message}; hint: name a built-in profile ({builtins}) or a YAML file", builtins = BUILTIN_PROFILES.join(", "))]
    Read { path: String, message: String },
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

impl Profile {
    /// A built-in profile by name (`default`, `fast`, `spare-agent`).
    pub fn builtin(name: &str) -> Option<Profile> {
        let text = match name {
            "default" => DEFAULT_YAML,
            "fast" => FAST_YAML,
            "spare-agent" => SPARE_AGENT_YAML,
            _ => return None,
        };
        Some(
            Self::parse(text, &format!("<built-in profile {name}>"))
                .expect("built-in profiles are valid (checked by tests)"),
        )
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
        Self::load_file(Path::new(name_or_path))
    }

    pub fn load_file(path: &Path) -> Result<Profile, ProfileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Read {
            path: file.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and validates profile YAML; `file` names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
        let profile = serde_saphyr::from_str::<Profile>(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            let message = match e.without_snippet() {
                serde_saphyr::Error::Message { msg, .. } => msg.clone(),
                other => strip_location(&other.to_string()).to_string(),
            };
            ProfileError::Parse {
                file: file.to_string(),
                line,
                column,
                message,
            }
        })?;
        profile
            .validate()
            .map_err(|message| ProfileError::Invalid {
                file: file.to_string(),
                message,
            })?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), String> {
        let t = &self.topology;
        if t.service.trim_matches('/').is_empty() {
            return Err("topology.service is empty; hint: e.g. `service: cassandra`".into());
        }
        if t.pods == 0 {
            return Err("topology.pods must be at least 1".into());
        }
        if t.private_agents < t.pods {
            return Err(format!(
                "topology.private_agents ({}) is smaller than topology.pods ({}); hint: each pod needs its own private agent",
                t.private_agents, t.pods
            ));
        }
        if t.private_subnets.is_empty() {
            return Err("topology.private_subnets is empty; hint: name at least one subnet".into());
        }
        for s in t
            .private_subnets
            .iter()
            .chain([&t.public_subnet, &t.master_subnet])
        {
            parse_cidr(&s.cidr)?;
            if s.zone.is_empty() {
                return Err(format!("subnet {} has no zone", s.cidr));
            }
        }
        if t.asg.name.is_empty() {
            return Err("topology.asg.name is empty".into());
        }
        if t.mesos_master_uuid.is_empty() {
            return Err("topology.mesos_master_uuid is empty".into());
        }
        Ok(())
    }
}

/// serde-saphyr's plain rendering ends with ` at line L, column C`; the location is reported
/// separately.
fn strip_location(text: &str) -> &str {
    if let Some(i) = text.rfind(" at line ") {
        let tail = &text[i + " at line ".len()..];
        if let Some((l, c)) = tail.split_once(", column ")
            && l.bytes().all(|b| b.is_ascii_digit())
            && c.bytes().all(|b| b.is_ascii_digit())
        {
            return &text[..i];
        }
    }
    text
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
    use rand::SeedableRng;

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
                &t.agent_unreachable,
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

    #[test]
    fn min_above_max_is_an_error_with_a_location() {
        let text = base_with_timing("{uniform: {min: 20s, max: 10s}}");
        assert_ne!(text, DEFAULT_YAML, "the test must find the offer line");
        let err = Profile::parse(&text, "bad.yaml").unwrap_err();
        let ProfileError::Parse {
            file,
            line,
            column,
            message,
        } = &err
        else {
            panic!("expected a parse error, got {err:?}");
        };
        assert_eq!(file, "bad.yaml");
        let expected_line = text
            .lines()
            .position(|l| l.starts_with("  offer:"))
            .unwrap() as u64
            + 1;
        assert_eq!(*line, expected_line, "{err}");
        assert!(*column > 1, "{err}");
        assert!(message.contains("min 20s > max 10s"), "{message}");
        assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
    }

    #[test]
    fn lognormal_order_is_checked() {
        let text = base_with_timing("{lognormal: {median: 30s, p99: 10s, min: 5s, max: 1m}}");
        let err = Profile::parse(&text, "bad.yaml").unwrap_err();
        assert!(
            matches!(&err, ProfileError::Parse { message, .. } if message.contains("min <= median <= p99")),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let text = base_with_timing("{uniform: {min: 1s, max: 10s, mean: 5s}}");
        let err = Profile::parse(&text, "bad.yaml").unwrap_err();
        let ProfileError::Parse { line, message, .. } = &err else {
            panic!("expected a parse error, got {err:?}");
        };
        assert!(*line > 1, "{err}");
        assert!(message.contains("mean"), "{message}");
        assert!(!message.contains("at line"), "{message}");

        let text = DEFAULT_YAML.replace("timings:", "timing_typo: 1\ntimings:");
        let err = Profile::parse(&text, "bad.yaml").unwrap_err();
        assert!(
            matches!(&err, ProfileError::Parse { message, .. } if message.contains("timing_typo")),
            "{err}"
        );

        let text = base_with_timing("{gaussian: {mean: 5s}}");
        assert!(matches!(
            Profile::parse(&text, "bad.yaml"),
            Err(ProfileError::Parse { .. })
        ));
    }

    #[test]
    fn topology_is_validated() {
        let text = DEFAULT_YAML.replace("private_agents: 5", "private_agents: 3");
        let err = Profile::parse(&text, "small.yaml").unwrap_err();
        assert!(
            matches!(&err, ProfileError::Invalid { message, .. } if message.contains("private_agents (3)")),
            "{err}"
        );
        let text = DEFAULT_YAML.replace("10.0.1.0/24", "10.0.1.0/33");
        assert!(matches!(
            Profile::parse(&text, "cidr.yaml"),
            Err(ProfileError::Invalid { .. })
        ));
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = Profile::load("/nonexistent/profile.yaml").unwrap_err();
        assert!(matches!(err, ProfileError::Read { .. }), "{err}");
        assert!(err.to_string().contains("hint:"));
    }

    #[test]
    fn lognormal_median_and_p99_shape_the_samples() {
        let d = Dist::lognormal(
            Dur::from_secs(30),
            Dur::from_secs(120),
            Dur::from_secs(1),
            Dur::from_mins(10),
        )
        .unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut v: Vec<u64> = (0..20_000).map(|_| d.sample_ms(&mut rng)).collect();
        v.sort_unstable();
        let p50 = v[v.len() / 2] as f64;
        let p99 = v[v.len() * 99 / 100] as f64;
        assert!((p50 - 30_000.0).abs() < 1_500.0, "p50 {p50}");
        assert!((p99 - 120_000.0).abs() < 12_000.0, "p99 {p99}");

        let u = Dist::uniform(Dur::from_secs(20), Dur::from_secs(90)).unwrap();
        for _ in 0..1000 {
            let x = u.sample_ms(&mut rng);
            assert!((20_000..=90_000).contains(&x));
        }
        assert!(Dist::uniform(Dur::from_secs(2), Dur::from_secs(1)).is_err());
    }

    #[test]
    fn cidrs_parse() {
        assert_eq!(parse_cidr("10.0.1.0/24").unwrap(), (0x0a00_0100, 256));
        assert!(parse_cidr("10.0.1.0").is_err());
        assert!(parse_cidr("10.0.1.0/8").is_err());
    }
}
