//! `verify-truth`: how far each phase a suite reported lies from the simulator's ground truth,
//! and whether the truth lies inside the reported error bound.
//!
//! The journal says what the harness measured (phase, estimate, half-width, source); the truth
//! log (`sim serve --truth-log`, or [`SimCluster::truth`] in-process) says when each
//! transition really happened. A phase is matched, for each of its run's victims, to the first
//! truth event of its kind about that victim or its replacement at or after the run's fault
//! (the lower edge of its bound); a run-level phase is the latest of its victims', and so is
//! its truth.
//!
//! [`SimCluster::truth`]: crate::cluster::sim::SimCluster::truth

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;

use crate::cluster::sim::{TruthEvent, TruthKind};
use crate::journal::{Event, Replacement, Victim};
use crate::measure::Source;
use crate::time::{Dur, Timestamp};
use crate::vocab::Phase;

/// One reported phase next to its truth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhaseCheck {
    pub(crate) scenario: String,
    pub run: u32,
    pub phase: Phase,
    pub source: Source,
    pub measured: Timestamp,
    /// The reported half-width.
    pub(crate) bound_ms: u64,
    pub truth: Timestamp,
    /// `|measured − truth|`.
    pub error_ms: u64,
}

impl PhaseCheck {
    pub(crate) fn inside(&self) -> bool {
        self.error_ms <= self.bound_ms
    }

    /// Whether the server stamped this phase itself (else a poll bracketed it).
    pub(crate) fn server_timestamp(&self) -> bool {
        matches!(
            self.source,
            Source::AsgActivity
                | Source::Ec2LaunchTime
                | Source::MesosAgent
                | Source::MesosTaskStatus
        )
    }
}

/// Error statistics of a group of checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ErrorStats {
    pub(crate) phases: usize,
    pub(crate) p50_ms: u64,
    pub(crate) p99_ms: u64,
    pub(crate) max_ms: u64,
    /// Checks whose truth lies inside the reported bound.
    pub(crate) inside: usize,
}

impl ErrorStats {
    fn of<'a>(checks: impl Iterator<Item = &'a PhaseCheck>) -> Option<Self> {
        let mut errors = Vec::new();
        let mut inside = 0;
        for c in checks {
            errors.push(c.error_ms);
            inside += usize::from(c.inside());
        }
        if errors.is_empty() {
            return None;
        }
        errors.sort_unstable();
        // Nearest rank.
        let rank = |q: f64| {
            let i = (errors.len() as f64 * q).ceil() as usize;
            errors[i.clamp(1, errors.len()) - 1]
        };
        Some(Self {
            phases: errors.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: errors[errors.len() - 1],
            inside,
        })
    }
}

/// Every check of a suite.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Accuracy {
    pub checks: Vec<PhaseCheck>,
    /// Reported phases with no truth counterpart (the harness's own: fault, pod replace).
    pub(crate) unmatched: usize,
}

impl Accuracy {
    pub fn all_inside(&self) -> bool {
        self.checks.iter().all(PhaseCheck::inside)
    }

    /// Statistics per phase, then for server-stamped and poll-bracketed phases, then overall.
    pub(crate) fn summary(&self) -> Vec<(String, ErrorStats)> {
        let mut by_phase: BTreeMap<Phase, Vec<&PhaseCheck>> = BTreeMap::new();
        for c in &self.checks {
            by_phase.entry(c.phase).or_default().push(c);
        }
        let mut out: Vec<(String, ErrorStats)> = by_phase
            .into_iter()
            .filter_map(|(p, cs)| Some((p.to_string(), ErrorStats::of(cs.into_iter())?)))
            .collect();
        let groups = [
            ("server timestamp", Some(true)),
            ("poll bracket", Some(false)),
            ("all", None),
        ];
        for (label, server) in groups {
            let cs = self
                .checks
                .iter()
                .filter(|c| server.is_none_or(|s| c.server_timestamp() == s));
            if let Some(st) = ErrorStats::of(cs) {
                out.push((label.to_string(), st));
            }
        }
        out
    }

    /// The summary as a table, and every check outside its bound.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<26} {:>7} {:>9} {:>9} {:>9} {:>8}",
            "phase", "checked", "p50 err", "p99 err", "max err", "inside"
        );
        for (label, st) in self.summary() {
            let _ = writeln!(
                out,
                "{:<26} {:>7} {:>9} {:>9} {:>9} {:>7.1}%",
                label,
                st.phases,
                Dur::from_millis(st.p50_ms).human(),
                Dur::from_millis(st.p99_ms).human(),
                Dur::from_millis(st.max_ms).human(),
                st.inside as f64 * 100.0 / st.phases.max(1) as f64,
            );
        }
        for c in self.checks.iter().filter(|c| !c.inside()) {
            let _ = writeln!(
                out,
                "OUTSIDE: {} run {} {}: measured {} ± {} ms, truth {} ({} ms off)",
                c.scenario, c.run, c.phase, c.measured, c.bound_ms, c.truth, c.error_ms
            );
        }
        out
    }
}

/// A phase as the journal reports it: estimate, half-width, source.
type Reported = (Phase, Timestamp, u64, Source);

/// A finished run as the journal tells it.
struct Run {
    scenario: String,
    run: u32,
    task: String,
    /// Each victim with its replacement (in victim order).
    victims: Vec<(Victim, Replacement)>,
    /// The lower edge of the fault's bound: nothing it caused happened before.
    fault: Timestamp,
    phases: Vec<Reported>,
}

/// The finished runs of a journal (discarded and unfinished runs are left out).
fn runs_of(events: &[Event]) -> Vec<Run> {
    let mut tasks: BTreeMap<String, String> = BTreeMap::new();
    let mut open: BTreeMap<(String, u32), (Vec<Victim>, Vec<Reported>)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::ScenarioStarted { scenario, .. } => {
                let task = scenario.service.as_ref().map_or("server", |s| &s.task);
                tasks.insert(scenario.name.clone(), task.to_string());
            }
            Event::RunStarted { scenario, run, .. } => {
                open.insert((scenario.clone(), *run), (Vec::new(), Vec::new()));
            }
            Event::RunDiscarded { scenario, run, .. } => {
                open.remove(&(scenario.clone(), *run));
            }
            Event::VictimsSelected {
                scenario,
                run,
                victims,
            } => {
                if let Some(o) = open.get_mut(&(scenario.clone(), *run)) {
                    o.0 = victims.clone();
                }
            }
            Event::PhaseObserved {
                scenario,
                run,
                phase,
                at,
                error_ms,
                source,
            } => {
                if let Some(o) = open.get_mut(&(scenario.clone(), *run)) {
                    o.1.push((*phase, *at, *error_ms, *source));
                }
            }
            Event::RunFinished {
                scenario,
                run,
                replacements,
                ..
            } => {
                let Some((victims, phases)) = open.remove(&(scenario.clone(), *run)) else {
                    continue;
                };
                let task = tasks.get(scenario).map_or("server", String::as_str);
                out.extend(finished_run(
                    scenario,
                    *run,
                    task,
                    victims,
                    phases,
                    replacements,
                ));
            }
            _ => {}
        }
    }
    out
}

/// A run the journal finished, with each victim paired with its replacement; `None` when no
/// fault was recorded.
fn finished_run(
    scenario: &str,
    run: u32,
    task: &str,
    victims: Vec<Victim>,
    phases: Vec<Reported>,
    replacements: &[Replacement],
) -> Option<Run> {
    let fault = phases
        .iter()
        .find(|p| p.0 == Phase::FaultInjected)
        .map(|p| Timestamp::from_millis(p.1.as_millis() - p.2 as i64))?;
    let none = |v: &Victim| Replacement {
        victim: v.instance.clone(),
        instance: None,
        agent: None,
        task: None,
    };
    let victims = victims
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let r = replacements.get(i).cloned().unwrap_or_else(|| none(&v));
            (v, r)
        })
        .collect();
    Some(Run {
        scenario: scenario.to_string(),
        run,
        task: task.to_string(),
        victims,
        fault,
        phases,
    })
}

/// Checks every reported phase of `events` against `truth`.
pub fn check(events: &[Event], truth: &[TruthEvent]) -> Accuracy {
    let mut acc = Accuracy::default();
    for run in runs_of(events) {
        for &(phase, measured, bound_ms, source) in &run.phases {
            match truth_of(&run, phase, truth) {
                Some(t) => acc.checks.push(PhaseCheck {
                    scenario: run.scenario.clone(),
                    run: run.run,
                    phase,
                    source,
                    measured,
                    bound_ms,
                    truth: t,
                    error_ms: (measured.as_millis() - t.as_millis()).unsigned_abs(),
                }),
                None => acc.unmatched += 1,
            }
        }
    }
    acc
}

/// The first truth event at or after the fault that matches.
fn first(
    truth: &[TruthEvent],
    after: Timestamp,
    f: impl Fn(&TruthEvent) -> bool,
) -> Option<Timestamp> {
    truth.iter().find(|t| t.at >= after && f(t)).map(|t| t.at)
}

/// A run-level phase is the latest of its victims': its truth is the latest of theirs.
fn truth_of(run: &Run, phase: Phase, truth: &[TruthEvent]) -> Option<Timestamp> {
    let mut latest = None;
    for (v, r) in &run.victims {
        let t = victim_truth(run, v, r, phase, truth)?;
        latest = latest.max(Some(t));
    }
    latest
}

fn victim_truth(
    run: &Run,
    v: &Victim,
    r: &Replacement,
    phase: Phase,
    truth: &[TruthEvent],
) -> Option<Timestamp> {
    let is = |t: &TruthEvent, kind: TruthKind, subject: Option<&str>| {
        t.kind == kind && subject.is_some_and(|s| t.subject == s)
    };
    let old_agent = v.agent.as_ref().map(|a| a.as_str());
    let new_instance = r.instance.as_ref().map(|a| a.as_str());
    let task = v.pod.as_ref().map(|p| format!("{p}-{}", run.task));
    match phase {
        Phase::InstanceTerminated => first(truth, run.fault, |t| {
            is(t, TruthKind::InstanceTerminated, Some(v.instance.as_str()))
                || is(t, TruthKind::InstanceStopped, Some(v.instance.as_str()))
        }),
        Phase::ReplacementLaunched => first(truth, run.fault, |t| {
            is(t, TruthKind::ReplacementLaunchStarted, new_instance)
        }),
        Phase::ReplacementInService => first(truth, run.fault, |t| {
            is(t, TruthKind::ReplacementInService, new_instance)
        }),
        Phase::AgentDisconnected => first(truth, run.fault, |t| {
            is(t, TruthKind::AgentDisconnected, old_agent)
                || is(t, TruthKind::AgentUnreachable, old_agent)
        }),
        Phase::AgentLost => first(truth, run.fault, |t| {
            is(t, TruthKind::AgentUnreachable, old_agent)
        }),
        Phase::AgentRegistered => first(truth, run.fault, |t| {
            let new_agent = r.agent.as_ref().map(|a| a.as_str());
            is(t, TruthKind::AgentRegistered, new_agent)
                || is(t, TruthKind::AgentReregistered, new_agent)
        }),
        // The pod's task leaves RUNNING: the old task's status changes, or (replaced before
        // the agent was declared lost) a new task takes its place.
        Phase::TaskLost => first(truth, run.fault, |t| {
            let old = v.task.as_ref().map(|x| x.as_str());
            t.kind == TruthKind::TaskStatus
                && Some(&t.subject) == task.as_ref()
                && (t.id.as_deref() != old || t.state.as_deref() != Some("RUNNING"))
        }),
        Phase::TaskRunning => first(truth, run.fault, |t| {
            t.kind == TruthKind::TaskStatus
                && t.id.as_deref() == r.task.as_ref().map(|x| x.as_str())
                && t.state.as_deref() == Some("RUNNING")
        }),
        Phase::RecoveryComplete => {
            let step = format!("{}:[{}]", v.pod.as_ref()?, run.task);
            first(truth, run.fault, |t| {
                t.kind == TruthKind::RecoveryStep
                    && t.subject == step
                    && t.state.as_deref() == Some("COMPLETE")
            })
        }
        // The seed's replace phase completes with its last restart step.
        Phase::RingRestarted => {
            let step = format!("{}:[{}]", v.pod.as_ref()?, run.task);
            first(truth, run.fault, |t| {
                t.kind == TruthKind::RecoveryPhase
                    && t.subject == crate::cluster::PERMANENT_RECOVERY_PHASE
                    && t.detail
                        .as_deref()
                        .is_some_and(|d| d.split(", ").any(|s| s == step))
            })
        }
        Phase::SteadyStateVerified | Phase::FaultInjected | Phase::PodReplaceIssued => None,
    }
}

/// Reads a truth log (one JSON event per line).
pub(crate) fn read_truth(path: &Path) -> Result<Vec<TruthEvent>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read the truth log {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| {
            format!(
                "{}:{}: not a truth event: {e}; hint: pass the file `sim serve --truth-log` wrote",
                path.display(),
                i + 1
            )
        })?);
    }
    Ok(out)
}
