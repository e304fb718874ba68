//! `profile fit`: the simulated cluster's step distributions fitted to the phases of recorded
//! suites (real `aws` ones; `sim` ones for a round trip), written as a profile.
//!
//! Each profile step is the time between two phases of a run ([`STEPS`], documented in
//! `profiles/README.md`). A run gives a step a value known to an interval (the two phases'
//! error bounds added up), or, when the run ended before the step's last phase although it was
//! waiting for it, a value known only from below. [`crate::cluster::sim::fit`] fits each step
//! by maximum likelihood; the fitted profile is the base profile (topology, behaviour, the
//! steps no phase shows) with the fitted steps, commented with the provenance and the fit.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};

use crate::cluster::sim::Profile;
use crate::cluster::sim::dist::Dist;
use crate::cluster::sim::fit::{Fitted, Known, fit};
use crate::cluster::sim::profile::FittedFrom;
use crate::journal::{self, Event, ReadError, RunRecord};
use crate::measure::Observed;
use crate::runner;
use crate::scenario::Scenario;
use crate::vocab::{FaultKind, Phase, Target};

/// Where a step starts.
#[derive(Clone, Copy, Debug)]
enum Start {
    At(Phase),
    /// The replacement task can be placed: once the pod replace is issued and there is a
    /// free agent (without a spare agent in the base profile: once the new agent registered).
    Placement,
}

/// A profile step and the phases that show it.
#[derive(Debug)]
pub(crate) struct Step {
    /// The `timings` key fitted.
    pub(crate) key: &'static str,
    start: Start,
    end: Phase,
    /// Steps that in the model always run right before this one and that no phase separates
    /// from it: the fitted step takes on their time, and they are written `{constant: 0s}`.
    absorbs: &'static [&'static str],
}

impl Step {
    fn span(&self) -> String {
        let from = match self.start {
            Start::At(p) => p.as_str(),
            Start::Placement => "placement",
        };
        format!("{from} → {}", self.end)
    }
}

/// The steps of a `terminate-instance` run, in the order the drill reaches them. A new phase
/// (or a new step key) is one more row.
pub(crate) const STEPS: [Step; 8] = [
    Step {
        key: "ec2_shutting_down",
        start: Start::At(Phase::FaultInjected),
        end: Phase::InstanceTerminated,
        absorbs: &[],
    },
    Step {
        key: "agent_inactive",
        start: Start::At(Phase::FaultInjected),
        end: Phase::AgentDisconnected,
        absorbs: &[],
    },
    Step {
        key: "asg_detect",
        start: Start::At(Phase::FaultInjected),
        end: Phase::ReplacementLaunched,
        absorbs: &["asg_launch_start"],
    },
    Step {
        key: "asg_in_service",
        start: Start::At(Phase::ReplacementLaunched),
        end: Phase::ReplacementInService,
        absorbs: &[],
    },
    Step {
        key: "agent_unreachable",
        start: Start::At(Phase::FaultInjected),
        end: Phase::TaskLost,
        absorbs: &[],
    },
    Step {
        key: "agent_register",
        start: Start::At(Phase::ReplacementInService),
        end: Phase::AgentRegistered,
        absorbs: &[],
    },
    Step {
        key: "task_running",
        start: Start::Placement,
        end: Phase::TaskRunning,
        absorbs: &["offer"],
    },
    Step {
        key: "recovery_complete",
        start: Start::At(Phase::TaskRunning),
        end: Phase::RecoveryComplete,
        absorbs: &[],
    },
];

/// Fewer values than this get a warning: the median is loose, the tail a guess.
pub(crate) const FEW: usize = 30;

/// Why nothing could be fitted (all bad input: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Journal(#[from] ReadError),
    #[error("{0}")]
    Input(String),
}

/// One step's data and fit.
pub(crate) struct StepFit {
    pub(crate) step: &'static Step,
    pub(crate) values: Vec<Known>,
    /// `None`: too few values; the base profile's distribution stays.
    pub(crate) fitted: Option<Fitted>,
}

/// What `profile fit` found: the fits, the notes for the terminal and the profile's text.
pub struct Outcome {
    pub(crate) target: Target,
    pub(crate) runs: u32,
    pub(crate) steps: Vec<StepFit>,
    pub(crate) notes: Vec<String>,
    pub yaml: String,
}

/// A report folder's runs that show the steps, and the target they ran on.
struct Suite {
    target: Target,
    runs: Vec<(Scenario, RunRecord)>,
    skipped: BTreeMap<String, (usize, String)>,
}

fn read_suite(dir: &Path) -> Result<Suite, FitError> {
    let events = journal::read(dir)?.events;
    let mut target = None;
    let mut specs: BTreeMap<String, Scenario> = BTreeMap::new();
    for e in &events {
        match e {
            Event::SuiteStarted { target: t, .. } => target = Some(*t),
            Event::ScenarioStarted { scenario, .. } => {
                specs.insert(scenario.name.clone(), (**scenario).clone());
            }
            _ => {}
        }
    }
    let target = target.ok_or_else(|| {
        FitError::Input(format!(
            "{}: the journal has no suite_started event; hint: point at a report folder `run` wrote",
            dir.display()
        ))
    })?;
    let mut suite = Suite {
        target,
        runs: Vec::new(),
        skipped: BTreeMap::new(),
    };
    for r in journal::runs(&events) {
        let Some(sc) = specs.get(&r.scenario) else {
            continue;
        };
        let why = if sc.fault != FaultKind::TerminateInstance {
            Some(format!(
                "fault {}: its phases follow other steps",
                sc.fault.as_str()
            ))
        } else if r.victims.len() != 1 {
            Some("several victims: their steps overlap".to_string())
        } else if !r.phases.contains_key(&Phase::FaultInjected) {
            Some("no fault injected".to_string())
        } else {
            None
        };
        match why {
            Some(why) => {
                let e = suite.skipped.entry(r.scenario.clone()).or_insert((0, why));
                e.0 += 1;
            }
            None => suite.runs.push((sc.clone(), r)),
        }
    }
    Ok(suite)
}

/// Milliseconds between two phases, and the sum of their error bounds.
fn between(from: &Observed, to: &Observed) -> (f64, f64) {
    (
        (to.at.as_millis() - from.at.as_millis()) as f64,
        (from.error_ms + to.error_ms) as f64,
    )
}

fn start_of(start: Start, run: &RunRecord, spare: bool) -> Option<&Observed> {
    match start {
        Start::At(p) => run.phases.get(&p),
        Start::Placement => {
            let replace = run.phases.get(&Phase::PodReplaceIssued)?;
            if spare {
                return Some(replace);
            }
            let registered = run.phases.get(&Phase::AgentRegistered)?;
            // A task that ran before the new agent registered found another free agent (the
            // run's own world had a spare, e.g. a scenario's `profile: spare-agent`): it
            // waited for the replace only.
            let ran_first = run
                .phases
                .get(&Phase::TaskRunning)
                .is_some_and(|t| t.at < registered.at);
            Some(if registered.at > replace.at && !ran_first {
                registered
            } else {
                replace
            })
        }
    }
}

/// What one run tells about a step: an interval, a lower bound (the run ended while waiting
/// for the step's last phase), or nothing.
fn known(step: &Step, sc: &Scenario, run: &RunRecord, spare: bool) -> Option<Known> {
    let start = start_of(step.start, run, spare)?;
    if let Some(end) = run.phases.get(&step.end) {
        // A task lost after its pod replace was issued (`heal: replace-immediately`) was lost
        // to the replace, not to its agent's removal: that step was still running then.
        if let Some(replace) = run.phases.get(&Phase::PodReplaceIssued)
            && step.end == Phase::TaskLost
            && replace.at < end.at
        {
            let (d, e) = between(start, replace);
            return Some(Known::above(d - e));
        }
        let (d, e) = between(start, end);
        return Some(Known::between(d - e, d + e));
    }
    if !runner::awaited(sc, &run.victims).contains(&step.end) {
        return None;
    }
    // A run cut short by an interruption its suite never resumed from has no end: it was
    // still waiting at its last phase.
    let ended = run
        .ended
        .or_else(|| run.phases.values().map(|o| o.at).max())?;
    let waited = ended.as_millis() - start.at.as_millis() - start.error_ms as i64;
    Some(Known::above(waited as f64))
}

/// The base profile's distribution of the step `key`.
fn base_dist(profile: &Profile, key: &str) -> Option<Dist> {
    let timings = serde_json::to_value(&profile.timings).ok()?;
    serde_json::from_value(timings.get(key)?.clone()).ok()
}

/// Fits every step to the runs in `dirs`, on the base profile `base` (a built-in name or a
/// file).
pub fn fit_reports(dirs: &[PathBuf], base: &str) -> Result<Outcome, FitError> {
    let base_profile =
        Profile::load(base).map_err(|e| FitError::Input(format!("base profile: {e}")))?;
    let base_text = match Profile::builtin_text(base) {
        Some(t) => t.to_string(),
        None => std::fs::read_to_string(base)
            .map_err(|e| FitError::Input(format!("cannot read {base}: {e}")))?,
    };
    let mut suites = Vec::new();
    for d in dirs {
        suites.push((d, read_suite(d)?));
    }
    let targets: Vec<Target> = suites.iter().map(|(_, s)| s.target).collect();
    let target = targets[0];
    if targets.iter().any(|t| *t != target) {
        return Err(FitError::Input(
            "the reports mix aws and sim suites; hint: fit a model to real runs or to simulated ones, not both".into(),
        ));
    }
    let t = &base_profile.topology;
    let spare = t.private_agents > t.pods;
    let runs: Vec<&(Scenario, RunRecord)> = suites.iter().flat_map(|(_, s)| &s.runs).collect();
    let steps: Vec<StepFit> = STEPS
        .iter()
        .map(|step| {
            let values: Vec<Known> = runs
                .iter()
                .filter_map(|(sc, r)| known(step, sc, r, spare))
                .collect();
            StepFit {
                step,
                fitted: fit(&values, base_dist(&base_profile, step.key).as_ref()),
                values,
            }
        })
        .collect();
    let used = runs.len() as u32;
    if steps.iter().all(|s| s.fitted.is_none()) {
        return Err(FitError::Input(format!(
            "{used} usable runs show no step twice; hint: fit to suites of a terminate-instance scenario with one victim"
        )));
    }
    let mut notes = Vec::new();
    for (d, s) in &suites {
        for (name, (n, why)) in &s.skipped {
            notes.push(format!(
                "{}: skipped {n} runs of {name} ({why})",
                d.display()
            ));
        }
    }
    let from = FittedFrom {
        target,
        runs: used,
        reports: dirs.iter().map(|d| d.display().to_string()).collect(),
    };
    let yaml = profile_text(&base_text, base, &from, &steps, &mut notes)?;
    Ok(Outcome {
        target,
        runs: used,
        steps,
        notes,
        yaml,
    })
}

/// The fitted profile: provenance comments, `description` and `fitted_from`, the base's other
/// sections as written, and its `timings` with the fitted steps replaced.
fn profile_text(
    base_text: &str,
    base: &str,
    from: &FittedFrom,
    steps: &[StepFit],
    notes: &mut Vec<String>,
) -> Result<String, FitError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Fitted by `chaos-harness profile fit` to {} {} runs from: {}",
        from.runs,
        from.target,
        from.reports.join(", ")
    );
    let _ = writeln!(
        out,
        "# Base: {base} (topology, behaviour, and the steps no phase shows, as written there)."
    );
    out.push_str(
        "# A fitted step is the time between two phases of a run, known to within their error\n\
         # bounds, or only from below when the run ended first; each is fitted by maximum\n\
         # likelihood (lognormal, lognormal clamped where the values pile up, or uniform:\n\
         # the likeliest for its parameters), see profiles/README.md.\n",
    );
    let _ = writeln!(
        out,
        "description: model fitted to {} {} runs (base {base})",
        from.runs, from.target
    );
    let _ = writeln!(
        out,
        "fitted_from:\n  target: {}\n  runs: {}",
        from.target, from.runs
    );
    out.push_str("  reports:\n");
    for r in &from.reports {
        let _ = writeln!(
            out,
            "    - {}",
            serde_json::to_string(r).unwrap_or_default()
        );
    }
    let mut timings = None;
    for (key, block) in top_level_blocks(base_text) {
        match key.as_str() {
            "description" | "fitted_from" => {}
            "timings" => {
                timings = Some(block.len());
                out.push_str(&fitted_timings(&block, steps, notes)?);
            }
            _ => out.push_str(&block.concat()),
        }
    }
    if timings.is_none() {
        return Err(FitError::Input(format!(
            "the base profile {base} has no `timings` section"
        )));
    }
    Ok(out)
}

/// The base's top-level sections: `(key, lines)`, comments before a key going with it.
fn top_level_blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let line = if line.ends_with('\n') {
            line.to_string()
        } else {
            format!("{line}\n")
        };
        let top = line
            .split_once(':')
            .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'));
        match top {
            Some((k, _)) => {
                pending.push(line.clone());
                blocks.push((k.to_string(), std::mem::take(&mut pending)));
            }
            None if line.starts_with('#') || line.trim().is_empty() => pending.push(line),
            None => match blocks.last_mut() {
                Some(b) => {
                    b.1.append(&mut pending);
                    b.1.push(line);
                }
                None => pending.push(line),
            },
        }
    }
    blocks
}

/// The base's `timings` section with each fitted step's line replaced (and a comment on the
/// fit above it), each absorbed step set to `{constant: 0s}`.
fn fitted_timings(
    block: &[String],
    steps: &[StepFit],
    notes: &mut Vec<String>,
) -> Result<String, FitError> {
    let mut out = String::new();
    let mut kept = Vec::new();
    for line in block {
        let key = line
            .strip_prefix("  ")
            .and_then(|l| l.split_once(':'))
            .map(|(k, _)| k)
            .filter(|k| !k.starts_with(['#', ' ']));
        let Some(key) = key else {
            out.push_str(line);
            continue;
        };
        let fitted = steps
            .iter()
            .find(|s| s.step.key == key)
            .and_then(|s| s.fitted.as_ref().map(|f| (s, f)));
        let absorbed_by = steps
            .iter()
            .find(|s| s.fitted.is_some() && s.step.absorbs.contains(&key));
        if !line.trim_end().ends_with('}') && (fitted.is_some() || absorbed_by.is_some()) {
            return Err(FitError::Input(format!(
                "the base profile writes `{key}` over several lines; hint: write each timing on one line, e.g. `{key}: {{uniform: {{min: 1s, max: 5s}}}}`"
            )));
        }
        if let Some((s, f)) = fitted {
            let _ = writeln!(out, "  # {}", fit_comment(s, f));
            let _ = writeln!(out, "  {key}: {}", f.dist.to_yaml());
        } else if let Some(s) = absorbed_by {
            let _ = writeln!(
                out,
                "  # no phase separates it from {}, whose fit includes it",
                s.step.key
            );
            let _ = writeln!(out, "  {key}: {{constant: 0s}}");
        } else {
            kept.push(key.to_string());
            out.push_str(line);
        }
    }
    if !kept.is_empty() {
        notes.push(format!(
            "kept from the base profile (no phase of the runs shows them): {}",
            kept.join(", ")
        ));
    }
    Ok(out)
}

fn fit_comment(s: &StepFit, f: &Fitted) -> String {
    format!(
        "{}: {} values ({} only known to exceed a run's end); {}, KS {:.3}",
        s.step.span(),
        s.values.len(),
        f.censored,
        f.family.as_str(),
        f.ks
    )
}

/// The 5 % critical value of the one-sample KS distance for `n` values (asymptotic; with
/// fitted parameters it is conservative: a fit that exceeds it is certainly poor).
fn ks_critical(n: usize) -> f64 {
    1.358 / (n as f64).sqrt()
}

/// A step's row of the summary table; its warnings go to `warnings`.
fn step_row(s: &StepFit, warnings: &mut Vec<String>) -> [Cell; 8] {
    let n = s.values.len();
    let right = |c: String| Cell::new(c).set_alignment(CellAlignment::Right);
    let Some(f) = &s.fitted else {
        warnings.push(format!(
            "{}: {n} values, too few to fit (at least 2 known to an interval); the base profile's distribution stays",
            s.step.key
        ));
        let none = || right("—".into());
        return [
            Cell::new(s.step.key),
            Cell::new(s.step.span()),
            right(n.to_string()),
            none(),
            Cell::new("(base profile's)"),
            none(),
            none(),
            none(),
        ];
    };
    let crit = ks_critical(f.intervals);
    if f.ks > crit {
        warnings.push(format!(
            "{}: KS {:.3} > {crit:.3}: no family describes these values well; the prediction of this step is rough",
            s.step.key, f.ks
        ));
    }
    if n < FEW {
        warnings.push(format!(
            "{}: only {n} values: its median is known to about ±{:.0}%, and its tail beyond the largest value is the {} family's extrapolation, not data",
            s.step.key,
            f.median_uncertainty * 100.0,
            f.family.as_str()
        ));
    }
    [
        Cell::new(s.step.key),
        Cell::new(s.step.span()),
        right(n.to_string()),
        right(f.censored.to_string()),
        Cell::new(f.dist.to_yaml()),
        right(format!("{:.3}", f.ks)),
        right(format!("{crit:.3}")),
        right(format!("{:.0}%", f.median_uncertainty * 100.0)),
    ]
}

impl Outcome {
    /// The terminal summary: where the data came from, one row per step, the warnings.
    pub fn render(&self, out: &Path) -> String {
        let mut o = String::new();
        let kind = match self.target {
            Target::Aws => "the real cluster (target aws)",
            Target::Sim => "the simulator (target sim): a round trip, not a real cluster",
        };
        let _ = writeln!(o, "data: {} runs from {kind}", self.runs);
        let mut t = Table::new();
        t.load_style(presets::UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header([
                "step",
                "phases",
                "values",
                "censored",
                "fitted",
                "KS",
                "5% crit",
                "median ±",
            ]);
        let mut warnings = Vec::new();
        for s in &self.steps {
            t.add_row(step_row(s, &mut warnings));
        }
        let _ = writeln!(o, "{t}");
        for n in &self.notes {
            let _ = writeln!(o, "{n}");
        }
        for w in &warnings {
            let _ = writeln!(o, "warning: {w}");
        }
        let _ = writeln!(
            o,
            "wrote {} (use it with `run --target sim --profile {}`)",
            out.display(),
            out.display()
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use crate::time::Timestamp;

    const SPEC: &str = "\
name: s
service: {name: cassandra}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
heal: replace-on-task-lost
";

    fn scenario(extra: &str) -> Scenario {
        let text = format!("{SPEC}{extra}");
        parse_scenario(Path::new("s.yaml"), text.as_bytes()).unwrap()
    }

    /// A run with phases `(phase, ms after the fault, error ms)`, ended at `ended` ms.
    fn run(phases: &[(Phase, i64, u64)], ended: i64) -> RunRecord {
        let at = |ms: i64| Timestamp::from_millis(1_000_000 + ms);
        let victim = serde_json::from_value(serde_json::json!({
            "instance": "i-1", "private_ip": "10.0.1.5", "asg": "g", "pod": "node-4"
        }))
        .unwrap();
        let mut r = RunRecord {
            scenario: "s".into(),
            run: 1,
            victims: vec![victim],
            phases: BTreeMap::new(),
            ended: Some(at(ended)),
            aborted: false,
        };
        for &(p, ms, error_ms) in [(Phase::FaultInjected, 0, 0)].iter().chain(phases) {
            let o = Observed::harness(at(ms), error_ms);
            r.phases.insert(p, o);
        }
        r
    }

    fn step(key: &str) -> &'static Step {
        STEPS.iter().find(|s| s.key == key).unwrap()
    }

    #[test]
    fn a_step_is_the_span_of_its_phases_widened_by_both_error_bounds() {
        let sc = scenario("");
        let r = run(
            &[
                (Phase::ReplacementLaunched, 30_000, 1),
                (Phase::ReplacementInService, 180_000, 500),
            ],
            900_000,
        );
        assert_eq!(
            known(step("asg_detect"), &sc, &r, false),
            Some(Known::between(29_999.0, 30_001.0))
        );
        assert_eq!(
            known(step("asg_in_service"), &sc, &r, false),
            Some(Known::between(149_499.0, 150_501.0))
        );
    }

    #[test]
    fn placement_waits_for_the_new_agent_unless_there_is_a_spare() {
        let sc = scenario("");
        let r = run(
            &[
                (Phase::PodReplaceIssued, 320_000, 0),
                (Phase::AgentRegistered, 700_000, 1),
                (Phase::TaskRunning, 760_000, 1),
            ],
            800_000,
        );
        let no_spare = known(step("task_running"), &sc, &r, false).unwrap();
        assert_eq!(no_spare, Known::between(59_998.0, 60_002.0));
        let spare = known(step("task_running"), &sc, &r, true).unwrap();
        assert_eq!(spare, Known::between(439_999.0, 440_001.0));
        // Running before the new agent registered: the run's world had a spare agent.
        let early = run(
            &[
                (Phase::PodReplaceIssued, 0, 0),
                (Phase::TaskRunning, 51_000, 1),
                (Phase::AgentRegistered, 600_000, 1),
            ],
            700_000,
        );
        let ran_first = known(step("task_running"), &sc, &early, false).unwrap();
        assert_eq!(ran_first, Known::between(50_999.0, 51_001.0));
    }

    #[test]
    fn a_run_that_ended_waiting_for_a_phase_bounds_its_step_from_below() {
        // task_running never came: the run gave up at 45 min
        let r = run(
            &[
                (Phase::PodReplaceIssued, 320_000, 0),
                (Phase::AgentRegistered, 700_000, 1),
            ],
            2_700_000,
        );
        let got = known(step("task_running"), &scenario(""), &r, false);
        assert_eq!(got, Some(Known::above(1_999_999.0)));
        // a scenario that never heals does not wait for task_running: nothing is known
        let mut sc = scenario("");
        sc.heal = crate::scenario::HealPolicy::None;
        assert_eq!(known(step("task_running"), &sc, &r, false), None);
        // a run cut short (interrupted, never resumed) was still waiting at its last phase
        let mut cut = r.clone();
        cut.ended = None;
        let got = known(step("agent_unreachable"), &scenario(""), &cut, false);
        assert_eq!(got, Some(Known::above(700_000.0)));
        // a task lost to an immediate replace tells only that the agent was not yet removed
        let early = run(
            &[
                (Phase::PodReplaceIssued, 2_000, 500),
                (Phase::TaskLost, 17_000, 1),
            ],
            700_000,
        );
        let got = known(step("agent_unreachable"), &scenario(""), &early, false);
        assert_eq!(got, Some(Known::above(1_500.0)));
        // nor does a step whose first phase is missing tell anything
        assert_eq!(
            known(step("recovery_complete"), &scenario(""), &r, false),
            None
        );
    }

    #[test]
    fn the_base_profiles_sections_are_kept_and_its_timings_replaced() {
        let text = Profile::builtin_text("default").unwrap();
        let blocks = top_level_blocks(text);
        let keys: Vec<&str> = blocks.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "description",
                "topology",
                "task_lost_status",
                "reboot_keeps_agent_id",
                "scheduler",
                "timings"
            ]
        );
        assert_eq!(
            blocks.iter().map(|(_, b)| b.concat()).collect::<String>(),
            text,
            "the blocks are the whole text"
        );
    }
}
