//! Reading scenario files: YAML → [`Scenario`], then the cross-field rules, every problem
//! reported as a [`Diagnostic`] with file:line:column, the offending line and a one-line hint.
//!
//! serde-saphyr is used only here (it moves fast; one place to adapt).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{DEFAULT_SLO_MIN_RUNS, Demand, HealPolicy, Runs, Scenario, SloSpec, Slos, Target};
use crate::time::Dur;
use crate::vocab::yaml::locate::{LineCol, Locator, Seg, yaml_path};
use crate::vocab::yaml::{Diagnostic, from_yaml, input_text, yaml_error};
use crate::vocab::{FaultKind, Metric, Percentile, Phase};

/// Why a set of scenario files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
    #[error("cannot read {}: {source}; hint: check the path", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no scenario files (*.yaml, *.yml) in {}; hint: pass a scenario file or a folder holding some", .0.display())]
    Empty(PathBuf),
}

fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
    }
    out.push_str(&format!(
        "{} problem{} found; nothing was run",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    ));
    out
}

/// A scenario with the file it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub scenario: Scenario,
}

/// Expands folders (their `*.yaml` / `*.yml` files, sorted) and parses every file; all
/// problems of all files are collected before failing.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Loaded>, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| LoadError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| LoadError::Io {
                    path: p.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            if found.is_empty() {
                return Err(LoadError::Empty(p.clone()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut loaded = Vec::new();
    let mut diags = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|source| LoadError::Io {
            path: file.clone(),
            source,
        })?;
        match parse_scenario(&file, &bytes) {
            Ok(scenario) => loaded.push(Loaded {
                path: file,
                scenario,
            }),
            Err(mut d) => diags.append(&mut d),
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for l in &loaded {
        if let Some(first) = seen.insert(l.scenario.name.clone(), l.path.clone()) {
            let source = std::fs::read_to_string(&l.path).unwrap_or_default();
            let at = Locator::new(&source)
                .value(yaml_path!["name"])
                .unwrap_or(LineCol { line: 1, column: 1 });
            diags.push(
                Diagnostic::new(
                    &l.path,
                    &source,
                    at,
                    format!(
                        "scenario name `{}` is also used by {}",
                        l.scenario.name,
                        first.display()
                    ),
                )
                .with_hint("names identify scenarios in reports; make each one unique"),
            );
        }
    }
    if diags.is_empty() {
        Ok(loaded)
    } else {
        Err(LoadError::Invalid(diags))
    }
}

/// Parses and validates one scenario file.
pub fn parse_scenario(file: &Path, bytes: &[u8]) -> Result<Scenario, Vec<Diagnostic>> {
    let top = LineCol { line: 1, column: 1 };
    let source = input_text(
        file,
        bytes,
        "scenario files are YAML text; is this the right file?",
        "a scenario needs at least `name`, `target` and `fault`; see `chaos-harness schema`",
    )
    .map_err(|d| vec![d])?;
    let scenario: Scenario = match from_yaml(source) {
        Ok(s) => s,
        Err(err) => return Err(vec![yaml_error(file, source, &err, SCHEMA_REF)]),
    };
    let locator = Locator::new(source);
    let problems = check(&scenario);
    if problems.is_empty() {
        Ok(scenario)
    } else {
        Err(problems
            .into_iter()
            .map(|p| {
                let at = match p.at {
                    At::Value(segs) => locator.value(&segs),
                    At::Key(segs) => locator.key(&segs),
                }
                .unwrap_or(top);
                Diagnostic::new(file, source, at, p.message)
            })
            .collect())
    }
}

/// A problem with the value at `path` (YAML keys) of an already parsed file, for checks that
/// need more than the file (e.g. the simulated cluster's profile); it renders like the
/// parser's own (`error: FILE:LINE:COLUMN: …`, the line, the hint, `… nothing was run`).
pub(crate) fn diagnose_at(file: &Path, path: &[&str], message: &str) -> LoadError {
    let source = std::fs::read_to_string(file).unwrap_or_default();
    let segs: Vec<Seg> = path.iter().map(|k| Seg::Key((*k).to_string())).collect();
    let at = Locator::new(&source)
        .value(&segs)
        .unwrap_or(LineCol { line: 1, column: 1 });
    LoadError::Invalid(vec![Diagnostic::new(file, &source, at, message)])
}

/// Where scenario keys are documented, for hints.
const SCHEMA_REF: &str = "`chaos-harness schema`";

enum At {
    Value(Vec<Seg>),
    Key(Vec<Seg>),
}

struct Problem {
    at: At,
    message: String,
}

fn at_value(p: &[Seg]) -> At {
    At::Value(p.to_vec())
}

fn at_key(p: &[Seg]) -> At {
    At::Key(p.to_vec())
}

/// The cross-field rules: what serde cannot see field by field.
fn check(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut err = |at: At, message: String| out.push(Problem { at, message });

    if s.name.is_empty()
        || !s
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        err(
            at_value(yaml_path!["name"]),
            format!(
                "scenario name `{}` is not a plain name; hint: use letters, digits, `-` and `_` (it becomes part of file names)",
                s.name
            ),
        );
    }
    if let Some(svc) = &s.service {
        if svc.name.trim_matches('/').is_empty() {
            err(at_value(yaml_path!["service", "name"]), "the service name is empty; hint: write the name as in `dcos <service> …`, e.g. `cassandra`".into());
        }
        if svc.task.is_empty() {
            err(at_value(yaml_path!["service", "task"]), "the task name is empty; hint: the task of each pod that must be RUNNING, e.g. `server`".into());
        }
    }
    check_asg(s, &mut err);
    check_target(s, &s.target, &mut err);
    if let Some(w) = &s.stop_when {
        if w.pods_not_running == Some(0) {
            err(at_value(yaml_path!["stop_when", "pods_not_running"]), "`pods_not_running: 0` would stop every run before it starts; hint: count the pods allowed down plus one, e.g. 2".into());
        }
        if w.instances_not_in_service == Some(0) {
            err(
                at_value(yaml_path!["stop_when", "instances_not_in_service"]),
                "`instances_not_in_service: 0` would stop every run before it starts; hint: e.g. 2"
                    .into(),
            );
        }
        if w.pods_not_running.is_some() && s.service.is_none() {
            err(at_value(yaml_path!["stop_when", "pods_not_running"]), "`pods_not_running` counts the service's pods, but the scenario names no `service`; hint: add one or drop the condition".into());
        }
    }
    if s.heal.replaces() && s.service.is_none() {
        err(
            at_value(yaml_path!["heal"]),
            format!(
                "heal policy `{}` replaces a pod, but the scenario names no `service`; hint: add `service: {{name: cassandra}}` or use `heal: none`",
                s.heal.as_str()
            ),
        );
    }
    check_timing(s, &mut err);
    check_expectations(s, &mut err);
    check_slos(s, &mut err);
    out
}

/// The `asg` selector: one way to find the group.
fn check_asg(s: &Scenario, err: &mut impl FnMut(At, String)) {
    if let Some(asg) = &s.asg {
        let ways = [asg.name.is_some(), asg.tag.is_some(), asg.stack.is_some()];
        if ways.iter().filter(|&&w| w).count() != 1 {
            err(at_value(yaml_path!["asg"]), "`asg` needs exactly one of `name`, `tag` or `stack`; hint: e.g. `asg: {name: dcos-private-agents}` or `asg: {stack: dcos, logical_id: SlaveServerGroup}`".into());
        }
        if asg.logical_id.is_some() && asg.stack.is_none() {
            err(at_value(yaml_path!["asg", "logical_id"]), "`logical_id` names a group of a CloudFormation stack, but `asg` names no `stack`; hint: add `stack: <stack name>`".into());
        }
        if asg.stack.as_deref() == Some("") || asg.logical_id.as_deref() == Some("") {
            err(at_value(yaml_path!["asg"]), "the stack name or logical id is empty; hint: e.g. `asg: {stack: dcos, logical_id: SlaveServerGroup}`".into());
        }
    }
    if let Some(t) = s.asg.as_ref().and_then(|a| a.opt_in_tag.as_ref())
        && t.key.is_empty()
    {
        err(at_value(yaml_path!["asg", "opt_in_tag"]), "the opt-in tag has an empty key; hint: e.g. `opt_in_tag: {key: chaos-harness/opt-in, value: \"true\"}`".into());
    }
}

fn check_target(s: &Scenario, t: &Target, err: &mut impl FnMut(At, String)) {
    let chosen = usize::from(t.pod.is_some())
        + usize::from(t.instance.is_some())
        + usize::from(t.random.is_some());
    if chosen != 1 {
        err(at_value(yaml_path!["target"]), "`target` needs exactly one of `pod`, `instance` or `random`; hint: e.g. `target: {pod: node-4}`".into());
    }
    if let Some(pod) = &t.pod {
        if s.service.is_none() {
            err(
                at_value(yaml_path!["target", "pod"]),
                format!(
                    "target pod `{pod}` needs a `service` to find it in; hint: add `service: {{name: cassandra}}`"
                ),
            );
        }
        if pod.is_empty() || pod.contains('/') {
            err(
                at_value(yaml_path!["target", "pod"]),
                format!(
                    "`{pod}` is not a pod instance name; hint: write it as `dcos <service> pod list` prints it, e.g. `node-4`"
                ),
            );
        }
    }
    if let Some(id) = &t.instance
        && !(id.starts_with("i-") && id.len() > 2 && id[2..].chars().all(|c| c.is_ascii_hexdigit()))
    {
        err(
            at_value(yaml_path!["target", "instance"]),
            format!(
                "`{id}` is not an EC2 instance id; hint: instance ids look like `i-0123456789abcdef0`"
            ),
        );
    }
    if t.instance.is_some() && s.asg.is_none() {
        err(at_value(yaml_path!["target", "instance"]), "an instance is hit only if it is a member of the scenario's Auto Scaling group, but the scenario names no `asg`; hint: add `asg: {name: …}` (masters sit in a group of their own: naming the group keeps them out of reach)".into());
    }
    if t.random.is_some() && s.asg.is_none() {
        err(at_value(yaml_path!["target", "random"]), "a random victim is drawn from an Auto Scaling group, but the scenario names no `asg`; hint: add `asg: {name: …}` or `asg: {tag: {key: …, value: …}}`".into());
    }
    if t.count == 0 {
        err(
            at_value(yaml_path!["target", "count"]),
            "`count` is 0: nothing would be hit; hint: use 1 or more".into(),
        );
    }
    if t.blast_radius == 0 {
        err(at_value(yaml_path!["target", "blast_radius"]), "`blast_radius` is 0; hint: the most instances this scenario may hit at once, at least 1".into());
    }
    if t.count > t.blast_radius {
        err(
            at_value(yaml_path!["target", "count"]),
            format!(
                "`count` {} exceeds the blast radius {}; hint: raise `blast_radius` deliberately if you mean to hit that many at once",
                t.count, t.blast_radius
            ),
        );
    }
    if t.count > 1 && t.random.is_none() {
        err(at_value(yaml_path!["target", "count"]), "`count` above 1 needs `random` selection; hint: a pod or an instance id names exactly one victim".into());
    }
}

fn check_timing(s: &Scenario, err: &mut impl FnMut(At, String)) {
    let (count, at) = if s.runs.until_decided {
        ("`max`", yaml_path!["runs", "max"])
    } else {
        ("`runs`", yaml_path!["runs"])
    };
    if s.runs.max == 0 {
        err(
            at_value(at),
            format!("{count} is 0; hint: run at least once"),
        );
    }
    if s.runs.max > 1_000_000 {
        err(
            at_value(at),
            format!(
                "{count} {} is more than a million; hint: is this a typo?",
                s.runs.max
            ),
        );
    }
    if s.runs.until_decided && s.slos.is_empty() {
        err(
            at_value(yaml_path!["runs", "until"]),
            "`until: decided` waits for the SLOs' verdicts, but the scenario has no `slos`; hint: add an SLO, or give a run count, e.g. `runs: 20`".into(),
        );
    }
    for (key, d) in [
        ("poll_interval", s.poll_interval),
        ("timeout", s.timeout),
        ("steady_state_timeout", s.steady_state_timeout),
    ] {
        if d.is_zero() {
            err(
                at_value(yaml_path![key]),
                format!("`{key}` is zero; hint: give a positive duration, e.g. `5s`"),
            );
        }
    }
    if !s.poll_interval.is_zero() && s.poll_interval >= s.timeout {
        err(
            at_value(yaml_path!["poll_interval"]),
            format!(
                "`poll_interval` {} is not shorter than the run `timeout` {}; hint: poll several times per run, e.g. `poll_interval: 5s`",
                s.poll_interval, s.timeout
            ),
        );
    }
    if s.max_poll_interval.is_some_and(Dur::is_zero) {
        err(
            at_value(yaml_path!["max_poll_interval"]),
            "`max_poll_interval` is zero; hint: give a positive duration, e.g. `30s`".into(),
        );
    }
    if let Some(max) = s.max_poll_interval
        && !max.is_zero()
        && max < s.poll_interval
    {
        err(
            at_value(yaml_path!["max_poll_interval"]),
            format!(
                "`max_poll_interval` {} is shorter than `poll_interval` {}; hint: make them equal for a fixed poller",
                max, s.poll_interval
            ),
        );
    }
    if s.max_requests_per_minute == Some(0) {
        err(
            at_value(yaml_path!["max_requests_per_minute"]),
            "`max_requests_per_minute` is 0: nothing could be asked; hint: the default is 60 per service (more for a `poll_interval` under 2 s)".into(),
        );
    }
}

fn check_expectations(s: &Scenario, err: &mut impl FnMut(At, String)) {
    let mut seen = Vec::new();
    for (i, e) in s.expect.iter().enumerate() {
        let phase = e.phase;
        let at_phase = || at_value(yaml_path!["expect", i, "phase"]);
        if e.within.is_some() == e.absent_for.is_some() {
            err(
                at_value(yaml_path!["expect", i]),
                format!(
                    "expectation on `{phase}` needs exactly one of `within` or `absent_for`; hint: e.g. `{{phase: {phase}, within: 20m}}`"
                ),
            );
            continue;
        }
        if seen.contains(&phase) {
            err(
                at_phase(),
                format!("`{phase}` has more than one expectation; hint: keep one per phase"),
            );
        }
        seen.push(phase);
        if matches!(phase, Phase::SteadyStateVerified | Phase::FaultInjected) {
            err(
                at_phase(),
                format!(
                    "`{phase}` is where every run starts; hint: expect a later phase, e.g. `task_running`"
                ),
            );
            continue;
        }
        if phase.needs_service() && s.service.is_none() {
            err(
                at_phase(),
                format!(
                    "`{phase}` is a DC/OS phase, but the scenario names no `service`; hint: add `service: {{name: cassandra}}` or expect an AWS phase"
                ),
            );
            continue;
        }
        match e.demand() {
            Demand::Within(d) => check_within(s, i, phase, d, err),
            Demand::AbsentFor(d) => check_absent_for(s, i, phase, d, err),
        }
    }
}

/// A `within` deadline: positive, inside the run's timeout, on a phase that can happen.
fn check_within(s: &Scenario, i: usize, phase: Phase, d: Dur, err: &mut impl FnMut(At, String)) {
    let reboot = s.fault == FaultKind::RebootInstance;
    let at_phase = || at_value(yaml_path!["expect", i, "phase"]);
    let key = yaml_path!["expect", i, "within"];
    if d.is_zero() {
        err(
            at_value(key),
            "`within` is zero; hint: give the deadline as a positive duration, e.g. `20m`".into(),
        );
    } else if d > s.timeout {
        err(
            at_value(key),
            format!(
                "`within` {d} is beyond the run `timeout` {}; hint: raise `timeout` or shorten the deadline",
                s.timeout
            ),
        );
    }
    if reboot && phase.needs_replacement() {
        err(
            at_phase(),
            format!(
                "`{phase}` can never happen after a reboot: the instance stays `running` and the ASG does not replace it; hint: write `absent_for` to assert that no replacement happens"
            ),
        );
    }
    if phase == Phase::PodReplaceIssued && !s.heal.replaces() {
        err(at_phase(), "`pod_replace_issued` can never happen with `heal: none`; hint: choose a heal policy that replaces, e.g. `replace-on-task-lost`".into());
    }
}

/// An `absent_for` window: positive, inside the run's timeout, on a phase the heal does not
/// cause.
fn check_absent_for(
    s: &Scenario,
    i: usize,
    phase: Phase,
    d: Dur,
    err: &mut impl FnMut(At, String),
) {
    let at_phase = || at_value(yaml_path!["expect", i, "phase"]);
    let key = yaml_path!["expect", i, "absent_for"];
    if d.is_zero() {
        err(
            at_value(key),
            "`absent_for` is zero; hint: give a positive duration, e.g. `15m`".into(),
        );
    } else if d > s.timeout {
        err(
            at_value(key),
            format!(
                "`absent_for` {d} is beyond the run `timeout` {}; hint: raise `timeout` or shorten the window",
                s.timeout
            ),
        );
    }
    if phase == Phase::PodReplaceIssued && s.heal.replaces() {
        err(
            at_phase(),
            format!(
                "heal policy `{}` issues the pod replace this expects never to happen; hint: use `heal: none`",
                s.heal.as_str()
            ),
        );
    }
}

fn check_slos(s: &Scenario, err: &mut impl FnMut(At, String)) {
    // Also NaN: no comparison holds.
    if !(s.confidence > 0.5 && s.confidence < 1.0) {
        err(
            at_value(yaml_path!["confidence"]),
            format!(
                "`confidence` {} is not between 0.5 and 1 (both excluded); hint: the default is 0.95; 0.9 needs fewer runs, 0.99 more",
                s.confidence
            ),
        );
    }
    for slo in &s.slos.0 {
        let m = slo.metric;
        let key = yaml_path!["slos", m.as_str()];
        let (from, to) = m.span();
        if (from.needs_service() || to.needs_service()) && s.service.is_none() {
            err(
                at_key(key),
                format!(
                    "`{m}` is measured on the DC/OS service, but the scenario names no `service`; hint: use `time_to_asg_replacement` or `time_to_replacement_launched`, or add a service"
                ),
            );
        } else if to.needs_replacement() && s.fault == FaultKind::RebootInstance {
            err(
                at_key(key),
                format!(
                    "`{m}` can never be measured after a reboot: the ASG does not replace a running instance; hint: judge a DC/OS metric such as `time_to_cassandra_running`"
                ),
            );
        } else if from == Phase::PodReplaceIssued && !s.heal.replaces() {
            err(
                at_key(key),
                format!(
                    "`{m}` starts at the pod replace, which `heal: none` never issues; hint: choose a heal policy that replaces"
                ),
            );
        }
        if slo.objectives.is_empty() {
            err(
                at_key(key),
                format!(
                    "`{m}` has no objective; hint: add a percentile threshold, e.g. `{{p99: 20m}}`"
                ),
            );
        }
        for (p, d) in &slo.objectives {
            if d.is_zero() {
                err(
                    at_value(yaml_path!["slos", m.as_str(), p.to_string().as_str()]),
                    format!("threshold of `{m}` {p} is zero; hint: give a positive duration"),
                );
            }
        }
        if slo.min_runs == 0 {
            err(
                at_value(yaml_path!["slos", m.as_str(), "min_runs"]),
                "`min_runs` is 0; hint: a verdict needs at least one run".into(),
            );
        } else if slo.min_runs > s.runs.max {
            err(
                at_value(yaml_path!["slos", m.as_str(), "min_runs"]),
                format!(
                    "`min_runs` {} exceeds `runs` {}: the SLO could never be judged; hint: raise `runs` or lower `min_runs`",
                    slo.min_runs, s.runs.max
                ),
            );
        }
    }
}

/// `runs: 300` or `runs: {max: 60, until: decided}`.
impl Serialize for Runs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if !self.until_decided {
            return s.serialize_u32(self.max);
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("max", &self.max)?;
        map.serialize_entry("until", "decided")?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Runs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Runs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a run count, e.g. `runs: 20`, or `runs: {max: 60, until: decided}`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Runs, E> {
                let max = u32::try_from(v).map_err(|_| {
                    E::custom(format!(
                        "`runs` {v} is more than a million; hint: is this a typo?"
                    ))
                })?;
                Ok(Runs {
                    max,
                    until_decided: false,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Runs, E> {
                let v = u64::try_from(v).map_err(|_| {
                    E::custom(format!("`runs` {v} is negative; hint: run at least once"))
                })?;
                self.visit_u64(v)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Runs, E> {
                Err(E::custom(if v.fract() == 0.0 && v > 0.0 {
                    format!("`runs` {v} is more than a million; hint: is this a typo?")
                } else {
                    format!("`runs` {v} is not a whole number; hint: write digits only, e.g. `20`")
                }))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Runs, E> {
                Err(E::custom(format!(
                    "`runs` `{v}` is not a run count; hint: write digits, e.g. `runs: 20`, or `runs: {{max: 60, until: decided}}`"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Runs, A::Error> {
                let (mut max, mut until) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "max" => max = Some(map.next_value::<u32>()?),
                        "until" => until = Some(map.next_value::<String>()?),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{other}` in `runs`; hint: `runs: {{max: 60, until: decided}}`"
                            )));
                        }
                    }
                }
                match (max, until.as_deref()) {
                    (Some(max), Some("decided")) => Ok(Runs {
                        max,
                        until_decided: true,
                    }),
                    (_, Some(other)) if other != "decided" => Err(de::Error::custom(format!(
                        "`until: {other}` is not a stopping rule; hint: the only rule is `until: decided`"
                    ))),
                    (None, _) => Err(de::Error::custom(
                        "`runs` needs `max`, the most runs to make; hint: `runs: {max: 60, until: decided}`",
                    )),
                    (Some(_), _) => Err(de::Error::custom(
                        "`runs: {max: …}` needs `until: decided`; hint: for a fixed count write `runs: N`",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Runs {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Runs".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "How many kill → recovery cycles to run: a count (default 10), or `{max: N, until: decided}`: after every run the SLO verdicts are looked at, on confidence sequences that stay valid however often they are looked at, and the scenario stops as soon as every SLO is decided (pass or fail), after `max` runs at the latest. Expectations are judged run by run and never keep a scenario running.",
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                {
                    "type": "object",
                    "properties": {
                        "max": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                        "until": {"enum": ["decided"]}
                    },
                    "required": ["max", "until"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl Serialize for Slos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for slo in &self.0 {
            map.serialize_entry(&slo.metric, &SloBody(slo))?;
        }
        map.end()
    }
}

struct SloBody<'a>(&'a SloSpec);

impl Serialize for SloBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.objectives.len() + 1))?;
        for (p, d) in &self.0.objectives {
            map.serialize_entry(&p.to_string(), d)?;
        }
        map.serialize_entry("min_runs", &self.0.min_runs)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Slos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SlosVisitor;
        impl<'de> Visitor<'de> for SlosVisitor {
            type Value = Slos;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from metric name to objectives, e.g. `time_to_cassandra_running: {p99: 20m}`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Slos, A::Error> {
                let mut out: Vec<SloSpec> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let metric = Metric::parse(&name).ok_or_else(|| {
                        de::Error::custom(format!(
                            "unknown metric `{name}`; hint: the metrics are {}",
                            Metric::ALL.map(Metric::as_str).join(", ")
                        ))
                    })?;
                    if out.iter().any(|s| s.metric == metric) {
                        return Err(de::Error::custom(format!("duplicate metric `{name}`")));
                    }
                    let body: SloObjectives = map.next_value()?;
                    out.push(SloSpec {
                        metric,
                        objectives: body.objectives,
                        min_runs: body.min_runs.unwrap_or(DEFAULT_SLO_MIN_RUNS),
                    });
                }
                Ok(Slos(out))
            }
        }
        d.deserialize_map(SlosVisitor)
    }
}

struct SloObjectives {
    objectives: Vec<(Percentile, Dur)>,
    min_runs: Option<u32>,
}

impl<'de> Deserialize<'de> for SloObjectives {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SloObjectives;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("percentile thresholds, e.g. `{p50: 15m, p99: 20m, min_runs: 20}`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SloObjectives, A::Error> {
                let mut objectives: Vec<(Percentile, Dur)> = Vec::new();
                let mut min_runs = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "min_runs" {
                        min_runs = Some(map.next_value::<u32>()?);
                        continue;
                    }
                    let p: Percentile = key.parse().map_err(de::Error::custom)?;
                    if objectives.iter().any(|(q, _)| *q == p) {
                        return Err(de::Error::custom(format!("duplicate percentile `{key}`")));
                    }
                    objectives.push((p, map.next_value::<Dur>()?));
                }
                Ok(SloObjectives {
                    objectives,
                    min_runs,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl schemars::JsonSchema for Slos {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Slos".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let dur = generator.subschema_for::<Dur>();
        let metrics: Vec<&str> = Metric::ALL.map(Metric::as_str).to_vec();
        schemars::json_schema!({
            "type": "object",
            "description": "Objectives per metric: `metric: {pNN: duration, …, min_runs: N}`. Each objective passes when the true percentile of the metric is at most the duration with the scenario's `confidence` (judged from the order statistics of the counted runs, widened by their error bounds), fails when it is above it with that confidence, and is otherwise inconclusive, saying how many runs a pass needs (a p99 at least 299 at 0.95, a p90 29, a p50 5); `max` is judged over the runs themselves. With fewer than `min_runs` (default 5) runs the verdict is inconclusive.",
            "propertyNames": {"enum": metrics},
            "additionalProperties": {
                "type": "object",
                "properties": {"min_runs": {"type": "integer", "minimum": 1}},
                "patternProperties": {"^(p(100|[0-9]{1,2}(\\.[0-9]{1,2})?)|max)$": dur},
                "additionalProperties": false
            }
        })
    }
}

impl Scenario {
    /// The heal action as an operator would type it, e.g. for `plan`.
    pub(crate) fn heal_action(&self, pod: &str) -> Option<String> {
        let svc = self.service.as_ref()?;
        (self.heal != HealPolicy::None).then(|| format!("dcos {} pod replace {pod}", svc.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Scenario, Vec<Diagnostic>> {
        parse_scenario(Path::new("s.yaml"), src.as_bytes())
    }

    const GOOD: &str = "\
name: drill
service: {name: cassandra}
target: {pod: node-4}
fault: terminate-instance
heal: replace-on-task-lost
expect:
  - {phase: task_running, within: 30m}
slos:
  time_to_cassandra_running: {p50: 18m, p99: 25m, min_runs: 3}
runs: 5
";

    #[test]
    fn parses_a_good_scenario_with_defaults() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.service.as_ref().unwrap().task, "server");
        assert_eq!(s.poll_interval, Dur::from_secs(5));
        assert_eq!(s.slos.0[0].objectives.len(), 2);
        assert_eq!(s.slos.0[0].min_runs, 3);
        assert_eq!(s.target.count, 1);
        assert_eq!(s.confidence, 0.95);
    }

    #[test]
    fn confidence_is_a_fraction_between_a_half_and_one() {
        assert_eq!(
            parse(&format!("{GOOD}confidence: 0.99\n"))
                .unwrap()
                .confidence,
            0.99
        );
        for bad in ["0.5", "1", "95", "-0.9", ".nan"] {
            let d = one_error(&format!("{GOOD}confidence: {bad}\n"));
            assert_eq!((d.line, d.column), (11, 13), "{bad}: {d}");
            assert!(d.message.contains("not between 0.5 and 1"), "{bad}: {d}");
            assert!(d.hint.is_some());
        }
    }

    #[test]
    fn json_round_trip_keeps_everything() {
        let s = parse(GOOD).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: Scenario = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    fn one_error(src: &str) -> Diagnostic {
        let mut d = parse(src).unwrap_err();
        assert_eq!(d.len(), 1, "{d:?}");
        d.remove(0)
    }

    #[test]
    fn runs_is_a_count_or_a_stopping_rule() {
        let fixed = parse(GOOD).unwrap().runs;
        assert_eq!((fixed.max, fixed.until_decided), (5, false));
        let until = GOOD.replace("runs: 5", "runs: {max: 60, until: decided}");
        let s = parse(&until).unwrap();
        assert_eq!((s.runs.max, s.runs.until_decided), (60, true));
        // Both forms survive the journal (JSON) as written.
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["runs"],
            serde_json::json!({"max": 60, "until": "decided"})
        );
        assert_eq!(
            serde_json::to_value(parse(GOOD).unwrap()).unwrap()["runs"],
            5
        );
        let multi = GOOD.replace("runs: 5", "runs:\n  max: 60\n  until: decided");
        assert_eq!(parse(&multi).unwrap().runs, s.runs);
    }

    #[test]
    fn a_bad_stopping_rule_is_refused_where_written() {
        for (runs, line, col, words) in [
            (
                "{max: 60, until: forever}",
                10,
                7,
                "`until: forever` is not a stopping rule",
            ),
            ("{until: decided}", 10, 7, "needs `max`"),
            ("{max: 60}", 10, 7, "needs `until: decided`"),
            (
                "{max: 60, until: decided, min: 3}",
                10,
                7,
                "unknown key `min`",
            ),
            ("{max: 0, until: decided}", 10, 13, "`max` is 0"),
            (
                "{max: 2000000, until: decided}",
                10,
                13,
                "`max` 2000000 is more than a million",
            ),
            (
                "{max: 2, until: decided}",
                9,
                61,
                "`min_runs` 3 exceeds `runs` 2",
            ),
            ("-3", 10, 7, "negative"),
        ] {
            // `max: 0` also breaks `min_runs`: the first problem is the one at `runs`.
            let d = parse(&GOOD.replace("runs: 5", &format!("runs: {runs}")))
                .unwrap_err()
                .remove(0);
            assert!(d.message.contains(words), "{runs}: {d}");
            assert_eq!(d.line, line, "{runs}: {d}");
            // The parser's own errors point into the mapping; ours at the value.
            eprintln!("LOC {runs} {} {}", d.line, d.column);
            assert!(d.column >= col, "{runs}: {d}");
            assert!(d.hint.is_some(), "{runs}: {d}");
        }
        let no_slos = GOOD
            .replace(
                "slos:\n  time_to_cassandra_running: {p50: 18m, p99: 25m, min_runs: 3}\n",
                "",
            )
            .replace("runs: 5", "runs: {max: 60, until: decided}");
        let d = one_error(&no_slos);
        assert!(d.message.contains("no `slos`"), "{d}");
        assert_eq!((d.line, d.column), (8, 24), "{d}");
    }

    #[test]
    fn unknown_key_points_at_it() {
        let d = one_error(&GOOD.replace("runs: 5", "runz: 5"));
        assert_eq!((d.line, d.column), (10, 1), "{d}");
        assert!(d.message.contains("runz"), "{d}");
        assert!(d.hint.is_some());
    }

    #[test]
    fn bad_duration_points_at_the_value() {
        let d = one_error(&GOOD.replace("within: 30m", "within: 30 minutes"));
        assert_eq!(d.line, 7, "{d}");
        assert!(d.message.contains("30 minutes"), "{d}");
        assert!(d.hint.as_deref().unwrap().contains("ms, s, m or h"), "{d}");
    }

    #[test]
    fn percentile_over_hundred_is_refused_where_written() {
        let d = one_error(&GOOD.replace("p99: 25m", "p101: 25m"));
        assert_eq!(d.line, 9, "{d}");
        assert!(d.message.contains("over 100"), "{d}");
    }

    #[test]
    fn syntax_error_has_a_location() {
        let d = one_error("name: x\ntarget: {pod: node-4\nfault: terminate-instance\n");
        assert!(d.line >= 2, "{d}");
    }

    #[test]
    fn cross_field_rules_point_at_the_field() {
        let src = GOOD.replace("service: {name: cassandra}\n", "");
        let d = parse(&src).unwrap_err();
        // pod needs a service; heal needs a service; task_running needs a service; the SLO too.
        assert_eq!(d.len(), 4, "{d:?}");
        let target = d.iter().find(|d| d.message.contains("target pod")).unwrap();
        assert_eq!((target.line, target.column), (2, 15));
        let slo = d
            .iter()
            .find(|d| d.message.contains("time_to_cassandra_running"))
            .unwrap();
        assert_eq!((slo.line, slo.column), (8, 3));
    }

    #[test]
    fn reboot_cannot_expect_a_replacement() {
        let src = GOOD
            .replace("terminate-instance", "reboot-instance")
            .replace(
                "task_running, within: 30m",
                "replacement_launched, within: 10m",
            );
        let d = one_error(&src);
        assert!(d.message.contains("reboot"), "{d}");
        assert_eq!(d.line, 7);
    }

    #[test]
    fn count_beyond_blast_radius_is_refused() {
        let src = "name: r\nasg: {name: g}\ntarget: {random: private-agent, count: 3, blast_radius: 2}\nfault: terminate-instance\n";
        let d = one_error(src);
        assert!(d.message.contains("blast radius"), "{d}");
        assert_eq!(d.line, 3);
    }

    #[test]
    fn empty_and_binary_files_are_refused() {
        assert!(one_error("").message.contains("empty"));
        let d = parse_scenario(Path::new("b.yaml"), &[0xff, 0xfe, 0x00]).unwrap_err();
        assert!(d[0].message.contains("UTF-8"));
    }

    #[test]
    fn oversized_inputs_are_refused_before_parsing() {
        let big = format!(
            "{GOOD}description: {}\n",
            "x".repeat(crate::vocab::yaml::MAX_INPUT_BYTES)
        );
        let d = one_error(&big);
        assert!(d.message.contains("more than the 1048576"), "{d}");
        assert_eq!((d.line, d.column), (1, 1));
        let many = format!(
            "{GOOD}expect:\n{}",
            "  - {phase: task_running, within: 1m}\n".repeat(5_000)
        )
        .replace("expect:\n  - {phase: task_running, within: 30m}\n", "");
        let d = one_error(&many);
        assert!(d.message.contains("too many nodes"), "{d}");
        assert!(d.hint.is_some());
    }

    #[test]
    fn missing_fields_point_at_the_mapping_that_lacks_them() {
        let d = one_error("target: {pod: node-4}\nfault: terminate-instance\n");
        assert_eq!((d.line, d.column), (1, 1), "{d}");
        let d = one_error(&GOOD.replace("service: {name: cassandra}", "service: {task: server}"));
        assert_eq!((d.line, d.column), (2, 1), "{d}");
        assert!(
            d.message.contains("missing field `name` in `service`"),
            "{d}"
        );
    }

    #[test]
    fn rendering_shows_file_line_column_snippet_and_hint() {
        let d = one_error(&GOOD.replace("runs: 5", "runz: 5"));
        let text = d.to_string();
        assert!(text.starts_with("error: s.yaml:10:1: "), "{text}");
        assert!(text.contains("10 | runz: 5"), "{text}");
        assert!(text.contains("= hint: "), "{text}");
    }
}
