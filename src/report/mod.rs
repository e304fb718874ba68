//! Reports: the journal's events folded into one [`Report`] model, and one renderer per format
//! (`json`, `markdown`, `text`, `junit`, `html`, histogram logs in `hlog`) that only reads it;
//! `compare` sets two reports side by side.

pub(crate) mod compare;
mod expect;
#[cfg(test)]
mod fixture;
pub mod folder;
pub(crate) mod hlog;
pub(crate) mod html;
pub mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
mod svg;
mod tally;
pub mod text;

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::journal::{Event, Replacement, RunFailure, Victim};
use crate::measure::confidence::Mode;
use crate::measure::decided;
use crate::measure::stats::{MetricHistogram, MetricSummary, SloResult};
use crate::measure::{Observed, Sample, Source, Verdict};
use crate::scenario::Scenario;
use crate::time::{Dur, Timestamp};
use crate::vocab::{Metric, Phase, Requests, Target};

pub use expect::ExpectationResult;
pub use tally::KeptRuns;

/// Entries a list of runs names (failed runs of an expectation, runs over a threshold, runs
/// that failed for no expectation); the rest are counted.
pub(crate) const LISTED: usize = 1000;

/// The version of `report.json`'s shape, apart from the journal's: 2 since each SLO carries
/// its interval (`interval_ms`, `confidence`, `runs_needed` in place of `lower_ms` /
/// `upper_ms`), a scenario its `mode` / `stopped`, `runs_kept` and `prediction`.
pub(crate) const REPORT_SCHEMA_VERSION: u32 = 2;

/// Everything a report shows (DESIGN §5).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub(crate) schema_version: u32,
    pub(crate) target: Target,
    pub(crate) simulated: bool,
    pub(crate) seed: u64,
    pub(crate) verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aborted: Option<String>,
    /// A torn last journal line was ignored while building this report.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) journal_torn_tail: bool,
    pub scenarios: Vec<ScenarioReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    /// Set when the runs are a model's prediction (a fitted profile), not measurements:
    /// `model-based prediction from profile P fitted to N real (aws) runs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prediction: Option<String>,
    pub(crate) file: String,
    pub(crate) fault: &'static str,
    pub(crate) heal: &'static str,
    pub(crate) verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aborted: Option<String>,
    /// The run count, or with `until: decided` the most runs.
    pub(crate) runs_requested: u32,
    /// `fixed` (the run count) or `sequential` (`until: decided`: looked at after every run).
    pub(crate) mode: Mode,
    /// Why a sequential scenario stopped; absent for a fixed count, and while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stopped: Option<Stopped>,
    pub runs_finished: u32,
    pub(crate) runs_failed: u32,
    #[serde(serialize_with = "metrics_in_order")]
    pub(crate) metrics: Vec<(Metric, MetricSummary)>,
    pub(crate) slos: Vec<SloResult>,
    /// Failed API calls the runs rode out (throttling, 5xx, resets, expired tokens).
    pub(crate) api_errors: u64,
    /// When the scheduler did not answer in some runs: how often and how long at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scheduler_unavailable: Option<SchedulerOutages>,
    /// Each of the scenario's `expect` entries, judged over the runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) expectations: Vec<ExpectationResult>,
    /// The API economy of the finished runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestSummary>,
    /// Where the suite's time went (finished runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_use: Option<TimeUse>,
    /// Which runs `runs` holds, when it does not hold them all (every figure above is over
    /// all of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_kept: Option<KeptRuns>,
    /// The runs kept whole: all of them up to [`tally::KEEP_FIRST`], else those `runs_kept`
    /// names.
    pub(crate) runs: Vec<RunReport>,
    #[serde(skip)]
    pub(crate) histograms: Vec<(Metric, MetricHistogram)>,
    /// Every run folded: the figures the renderers draw over all runs.
    #[serde(skip)]
    pub(crate) tally: tally::Tally,
}

/// Why a sequential scenario stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stopped {
    /// Every SLO was decided.
    Decided,
    /// The most runs were made and some SLO is still undecided.
    MaxReached,
}

impl Stopped {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Decided => "decided",
            Self::MaxReached => "max_reached",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct RunReport {
    pub(crate) run: u32,
    pub(crate) verdict: RunVerdict,
    /// What went wrong, in words: the details of `broken`, then why the run was cut short
    /// (aborted, interrupted) if it was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) failures: Vec<String>,
    /// The expectations the run broke, as the runner recorded them.
    #[serde(skip)]
    pub(crate) broken: Vec<RunFailure>,
    pub(crate) victims: Vec<Victim>,
    pub(crate) replacements: Vec<Replacement>,
    pub(crate) phases: Vec<PhaseReport>,
    pub(crate) started: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) finished: Option<Timestamp>,
    /// Requests sent to each service during the run (steady-state checks included).
    pub requests: Requests,
    /// The spans the service's scheduler did not answer (its agent died and Marathon
    /// relaunched it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) scheduler_unavailable: Vec<SchedulerSpan>,
    /// Failed calls ridden out in the run: counted into the scenario's when the run is (a
    /// run `run --resume` redoes is not).
    #[serde(skip)]
    pub(crate) api_errors: u64,
}

/// A span the scheduler refused every call: from the first refused poll to the last, and the
/// first poll it answered again (absent: the run ended first). The outage began after the
/// last answer before `from` and ended before `back`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct SchedulerSpan {
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) back: Option<Timestamp>,
    pub(crate) refused: u32,
}

impl SchedulerSpan {
    /// From the first refusal to the first answer (to the last refusal without one).
    pub(crate) fn length(&self) -> Dur {
        self.back.unwrap_or(self.to).since(self.from)
    }
}

/// The scheduler's outages over a scenario's runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct SchedulerOutages {
    /// Runs with at least one span.
    pub(crate) runs: u32,
    pub(crate) refused: u64,
    /// The longest span: its run and its length (first refusal to first answer).
    pub(crate) longest_run: u32,
    pub(crate) longest_ms: u64,
}

/// Requests per service, as a rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rates {
    pub ec2: f64,
    pub autoscaling: f64,
    pub dcos: f64,
}

impl Rates {
    fn of(r: Requests, divisor: f64) -> Self {
        let f = |n: u64| {
            if divisor > 0.0 {
                (n as f64 / divisor * 100.0).round() / 100.0
            } else {
                0.0
            }
        };
        Self {
            ec2: f(r.ec2),
            autoscaling: f(r.autoscaling),
            dcos: f(r.dcos),
        }
    }

    /// `(service, rate)` in report order.
    pub fn by_service(self) -> [(&'static str, f64); 3] {
        [
            ("ec2", self.ec2),
            ("autoscaling", self.autoscaling),
            ("dcos", self.dcos),
        ]
    }
}

/// What the finished runs asked of each service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestSummary {
    pub(crate) total: Requests,
    pub per_run: Rates,
    /// Over the runs' own time (run start to run end).
    pub per_minute: Rates,
}

/// A suite's time, from the first run's start to the last run's end: recovery (fault to the
/// run's end), the scenario's required cooldowns, and the rest (idle: waiting for steady
/// state, choosing victims).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeUse {
    pub duration_ms: u64,
    pub recovery_ms: u64,
    pub cooldown_ms: u64,
    pub idle_ms: u64,
    /// `idle_ms / duration_ms`, in percent.
    pub idle_percent: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunVerdict {
    Pass,
    Fail,
    Aborted,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct PhaseReport {
    pub(crate) phase: Phase,
    pub(crate) at: Timestamp,
    pub(crate) since_fault_ms: i64,
    pub(crate) error_ms: u64,
    pub(crate) source: Source,
}

impl RunReport {
    /// The victims as reports list them: `i-… (node-4)`.
    pub(crate) fn victim_label(&self) -> String {
        self.victims
            .iter()
            .map(|v| match &v.pod {
                Some(p) => format!("{} ({p})", v.instance),
                None => v.instance.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The run's record of a phase, if it was observed.
    pub(crate) fn phase(&self, p: Phase) -> Option<&PhaseReport> {
        self.phases.iter().find(|x| x.phase == p)
    }

    /// The run's observation of a phase, if it was observed.
    pub(crate) fn observed(&self, p: Phase) -> Option<Observed> {
        self.phase(p).map(|x| Observed {
            at: x.at,
            error_ms: x.error_ms,
            source: x.source,
        })
    }

    /// The run's value of a metric with its error bound, when both of its phases were observed.
    pub(crate) fn sample(&self, m: Metric) -> Option<Sample> {
        let (from, to) = m.span();
        Some(Sample::between(&self.observed(from)?, &self.observed(to)?))
    }

    /// Whether the run counts towards the metrics (it finished, passed or failed).
    pub(crate) fn counted(&self) -> bool {
        self.verdict != RunVerdict::Aborted
    }
}

/// What a prediction's verdicts are, after its label.
pub(crate) const PREDICTION_NOTE: &str = "its verdicts judge the model, not a cluster; compare it with the real runs (`report compare REAL SIM`)";

impl ScenarioReport {
    /// The runs in words, with the stopping rule: `20 of 20 runs finished, 0 failed` (a
    /// fixed count), `until decided: decided after 7 runs (at most 60), 0 failed`.
    pub(crate) fn runs_words(&self) -> String {
        let (done, max, failed) = (self.runs_finished, self.runs_requested, self.runs_failed);
        match (self.mode, self.stopped) {
            (Mode::Fixed, _) => format!("{done} of {max} runs finished, {failed} failed"),
            (_, Some(Stopped::Decided)) => {
                format!("until decided: decided after {done} runs (at most {max}), {failed} failed")
            }
            (_, Some(Stopped::MaxReached)) => {
                format!(
                    "until decided: undecided after {done} runs, the most allowed, {failed} failed"
                )
            }
            (_, None) => {
                format!("until decided: {done} runs finished (at most {max}), {failed} failed")
            }
        }
    }

    /// One line on the API economy and the suite's idle time, for the text and Markdown
    /// reports.
    pub(crate) fn economy_line(&self) -> Option<String> {
        let q = self.requests.as_ref()?;
        let names = ["EC2", "Auto Scaling", "DC/OS"];
        let per_run: Vec<String> = names
            .iter()
            .zip(q.per_run.by_service())
            .map(|(n, (_, v))| format!("{n} {v}"))
            .collect();
        let per_minute: Vec<String> = q
            .per_minute
            .by_service()
            .iter()
            .map(|(_, v)| v.to_string())
            .collect();
        let mut line = format!(
            "requests per run: {} (per minute: {})",
            per_run.join(", "),
            per_minute.join(" / ")
        );
        if let Some(t) = &self.time_use {
            line.push_str(&format!(
                "; idle {}% of {}",
                t.idle_percent,
                Dur::from_millis(t.duration_ms).human()
            ));
        }
        Some(line)
    }

    /// Folds a run that counts (finished, aborted or cut short) into the scenario.
    fn fold(&mut self, r: RunReport) {
        self.api_errors += r.api_errors;
        if !r.scheduler_unavailable.is_empty() {
            let o = self
                .scheduler_unavailable
                .get_or_insert_with(Default::default);
            o.runs += 1;
            for span in &r.scheduler_unavailable {
                o.refused += u64::from(span.refused);
                let length = span.length().as_millis();
                if length > o.longest_ms {
                    o.longest_ms = length;
                    o.longest_run = r.run;
                }
            }
        }
        self.tally.fold(r);
    }

    /// One line on the runs whose scheduler did not answer, for every format.
    pub(crate) fn scheduler_line(&self) -> Option<String> {
        let o = self.scheduler_unavailable.as_ref()?;
        Some(format!(
            "scheduler unavailable (Admin Router 502/504) in {} run{}, {} call{} refused; longest: run {}, {} from the first refused call to the first answer",
            o.runs,
            if o.runs == 1 { "" } else { "s" },
            o.refused,
            if o.refused == 1 { "" } else { "s" },
            o.longest_run,
            Dur::from_millis(o.longest_ms).human()
        ))
    }

    /// The failures of runs that no expectation of the scenario names (aborted or interrupted
    /// runs, phases missed by the scenario's `timeout`): `(run, failure)`, the first
    /// [`LISTED`] of them, with how many there are and about how many runs.
    pub(crate) fn unattributed_failures(&self) -> &tally::Listed<String> {
        &self.tally.unattributed
    }

    /// The counted runs whose value of the metric exceeds an SLO's threshold, with those
    /// values.
    pub(crate) fn runs_over(&self, m: Metric, threshold_ms: u64) -> Option<&tally::Listed<Dur>> {
        self.tally
            .over
            .iter()
            .find(|o| o.metric == m && o.threshold_ms == threshold_ms)
            .map(|o| &o.runs)
    }

    /// All runs, kept whole or not (finished, aborted, interrupted).
    pub(crate) fn runs_total(&self) -> u32 {
        self.tally.runs
    }
}

fn metrics_in_order<S: Serializer>(
    metrics: &[(Metric, MetricSummary)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(metrics.len()))?;
    for (m, summary) in metrics {
        map.serialize_entry(m.as_str(), summary)?;
    }
    map.end()
}

/// Folds a journal into a report. Only the events decide; nothing else is read.
pub fn build<'a>(events: impl IntoIterator<Item = &'a Event>, journal_torn_tail: bool) -> Report {
    let mut b = Builder::new(journal_torn_tail);
    for e in events {
        b.on(e);
    }
    b.finish()
}

/// A run of a scenario: `(scenario, run)`.
type RunKey = (String, u32);

/// The report as the journal's events are folded into it, one event at a time (`run` folds
/// a fresh suite's events as they happen).
pub(crate) struct Builder {
    report: Report,
    specs: BTreeMap<String, Scenario>,
    /// Runs started and not finished (yet).
    open_runs: BTreeMap<RunKey, RunReport>,
    fault_at: BTreeMap<RunKey, Timestamp>,
    /// Aborted runs: folded in at the end unless a resume discards them first.
    aborted_runs: Vec<(String, RunReport)>,
    finished: bool,
}

impl Builder {
    pub(crate) fn new(journal_torn_tail: bool) -> Self {
        Self {
            report: Report {
                schema_version: REPORT_SCHEMA_VERSION,
                target: Target::Sim,
                simulated: true,
                seed: 0,
                verdict: Verdict::Pass,
                aborted: None,
                journal_torn_tail,
                scenarios: Vec::new(),
            },
            specs: BTreeMap::new(),
            open_runs: BTreeMap::new(),
            fault_at: BTreeMap::new(),
            aborted_runs: Vec::new(),
            finished: false,
        }
    }

    pub(crate) fn on(&mut self, e: &Event) {
        match e {
            Event::SuiteStarted {
                target,
                simulated,
                seed,
                ..
            } => {
                self.report.target = *target;
                self.report.simulated = *simulated;
                self.report.seed = *seed;
            }
            Event::ScenarioStarted {
                scenario,
                file,
                runs,
                prediction,
            } => self.scenario_started(scenario, file, *runs, prediction.clone()),
            Event::RunStarted { scenario, run, at } => {
                self.open_runs
                    .insert((scenario.clone(), *run), RunReport::started(*run, *at));
            }
            Event::VictimsSelected {
                scenario,
                run,
                victims,
            } => {
                if let Some(r) = self.open_runs.get_mut(&(scenario.clone(), *run)) {
                    r.victims = victims.clone();
                }
            }
            Event::PhaseObserved {
                scenario,
                run,
                phase,
                at,
                error_ms,
                source,
            } => self.phase_observed((scenario.clone(), *run), *phase, *at, *error_ms, *source),
            Event::RunFinished {
                scenario,
                run,
                at,
                failures,
                replacements,
                requests,
            } => {
                let key = (scenario.clone(), *run);
                if let Some(mut r) = self.open_runs.remove(&key) {
                    r.end(*at, failures, replacements, *requests);
                    self.run_finished(&key, r);
                }
            }
            Event::Aborted {
                scenario,
                run,
                reason,
                ..
            } => self.aborted(scenario.as_deref(), *run, reason),
            Event::RunDiscarded { scenario, run, .. } => self.run_discarded(scenario, *run),
            Event::SuiteResumed { .. } => {
                self.finished = false;
                self.report.aborted = None;
                for sr in &mut self.report.scenarios {
                    sr.aborted = None;
                }
            }
            Event::SchedulerUnavailable { .. } => self.scheduler_unavailable(e),
            Event::ApiError { scenario, run, .. } => {
                if let Some(r) = self.open_runs.get_mut(&(scenario.clone(), *run)) {
                    r.api_errors += 1;
                } else if let Some(sr) = self.scenario(scenario) {
                    sr.api_errors += 1;
                }
            }
            Event::SuiteFinished { .. } => self.finished = true,
        }
    }

    /// A span the scheduler did not answer, on its run.
    fn scheduler_unavailable(&mut self, e: &Event) {
        let Event::SchedulerUnavailable {
            scenario,
            run,
            from,
            to,
            back,
            refused,
        } = e
        else {
            return;
        };
        if let Some(r) = self.open_runs.get_mut(&(scenario.clone(), *run)) {
            r.scheduler_unavailable.push(SchedulerSpan {
                from: *from,
                to: *to,
                back: *back,
                refused: *refused,
            });
        }
    }

    /// The report of a scenario that has started.
    fn scenario(&mut self, name: &str) -> Option<&mut ScenarioReport> {
        self.report.scenarios.iter_mut().find(|s| s.name == name)
    }

    fn scenario_started(
        &mut self,
        scenario: &Scenario,
        file: &str,
        runs: u32,
        prediction: Option<String>,
    ) {
        self.specs.insert(scenario.name.clone(), scenario.clone());
        self.report.scenarios.push(ScenarioReport {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            prediction,
            file: file.to_string(),
            fault: scenario.fault.as_str(),
            heal: scenario.heal.as_str(),
            verdict: Verdict::Pass,
            aborted: None,
            runs_requested: runs,
            mode: decided::mode(scenario),
            stopped: None,
            runs_kept: None,
            runs_finished: 0,
            runs_failed: 0,
            api_errors: 0,
            scheduler_unavailable: None,
            metrics: Vec::new(),
            slos: Vec::new(),
            expectations: Vec::new(),
            requests: None,
            time_use: None,
            runs: Vec::new(),
            histograms: Vec::new(),
            tally: tally::Tally::new(scenario, runs),
        });
    }

    fn phase_observed(
        &mut self,
        key: RunKey,
        phase: Phase,
        at: Timestamp,
        error_ms: u64,
        source: Source,
    ) {
        if phase == Phase::FaultInjected {
            self.fault_at.insert(key.clone(), at);
        }
        if let Some(r) = self.open_runs.get_mut(&key) {
            r.phases.push(PhaseReport {
                phase,
                at,
                since_fault_ms: 0,
                error_ms,
                source,
            });
        }
    }

    /// A finished run joins its scenario (a run of no started scenario is dropped).
    fn run_finished(&mut self, key: &RunKey, mut r: RunReport) {
        let fault_at = self.fault_at.remove(key);
        if let Some(sr) = self.scenario(&key.0) {
            finish_phases(&mut r, fault_at);
            sr.runs_finished += 1;
            sr.runs_failed += u32::from(!r.broken.is_empty());
            sr.fold(r);
        }
    }

    /// A run `run --resume` redoes: what it had recorded is forgotten.
    fn run_discarded(&mut self, scenario: &str, run: u32) {
        let key = (scenario.to_string(), run);
        self.open_runs.remove(&key);
        self.fault_at.remove(&key);
        self.aborted_runs
            .retain(|(name, r)| !(name == scenario && r.run == run));
    }

    /// The suite stopped: the run in progress, if any, is kept as aborted.
    fn aborted(&mut self, scenario: Option<&str>, run: Option<u32>, reason: &str) {
        self.report.aborted = Some(reason.to_string());
        if let (Some(name), Some(run)) = (scenario, run) {
            let key = (name.to_string(), run);
            let fault_at = self.fault_at.remove(&key);
            if let Some(mut r) = self.open_runs.remove(&key)
                && self.scenario(name).is_some()
            {
                r.failures = vec![format!("aborted: {reason}")];
                finish_phases(&mut r, fault_at);
                self.aborted_runs.push((key.0, r));
            }
        }
        if let Some(sr) = scenario.and_then(|n| self.scenario(n)) {
            sr.aborted = Some(reason.to_string());
        }
    }

    pub(crate) fn finish(mut self) -> Report {
        // A run still open at the end of the journal was cut short (crash or kill).
        let mut cut_short = std::mem::take(&mut self.aborted_runs);
        for ((name, _), mut r) in std::mem::take(&mut self.open_runs) {
            r.failures = vec!["interrupted: the journal ends inside this run".into()];
            cut_short.push((name, r));
        }
        cut_short.sort_by_key(|(_, r)| r.run);
        for (name, r) in cut_short {
            if let Some(sr) = self.scenario(&name) {
                sr.fold(r);
            }
        }
        let mut report = self.report;
        if !self.finished && report.aborted.is_none() {
            report.aborted = Some("the journal ends before the suite finished".into());
        }
        for sr in &mut report.scenarios {
            (sr.runs, sr.runs_kept) = sr.tally.keeps();
            if let Some(spec) = self.specs.get(&sr.name) {
                judge_scenario(sr, spec);
                economy(sr, spec);
            }
            report.verdict = report.verdict.worst(sr.verdict);
        }
        report
    }
}

impl RunReport {
    /// A run just started: aborted until it finishes.
    fn started(run: u32, at: Timestamp) -> Self {
        Self {
            run,
            verdict: RunVerdict::Aborted,
            failures: Vec::new(),
            broken: Vec::new(),
            victims: Vec::new(),
            replacements: Vec::new(),
            phases: Vec::new(),
            started: at,
            finished: None,
            requests: Requests::default(),
            scheduler_unavailable: Vec::new(),
            api_errors: 0,
        }
    }

    /// What `run_finished` says: it passed unless it broke an expectation.
    fn end(
        &mut self,
        at: Timestamp,
        failures: &[RunFailure],
        replacements: &[Replacement],
        requests: Requests,
    ) {
        self.verdict = if failures.is_empty() {
            RunVerdict::Pass
        } else {
            RunVerdict::Fail
        };
        self.failures = failures.iter().map(|f| f.detail.clone()).collect();
        self.broken = failures.to_vec();
        self.replacements = replacements.to_vec();
        self.finished = Some(at);
        self.requests = requests;
    }
}

fn finish_phases(r: &mut RunReport, fault_at: Option<Timestamp>) {
    if let Some(f) = fault_at {
        for p in &mut r.phases {
            p.since_fault_ms = p.at.as_millis() - f.as_millis();
        }
    }
    r.phases.sort_by_key(|p| (p.at, p.phase));
}

/// Requests and time use over the finished runs.
fn economy(sr: &mut ScenarioReport, spec: &Scenario) {
    let e = &sr.tally.economy;
    let (Some((_, first_start)), Some((_, last_end))) = (e.first, e.last) else {
        return;
    };
    sr.requests = Some(RequestSummary {
        total: e.total,
        per_run: Rates::of(e.total, e.finished as f64),
        per_minute: Rates::of(e.total, e.run_ms as f64 / 60_000.0),
    });
    let duration_ms = last_end.since(first_start).as_millis();
    let cooldown_ms = spec.cooldown.as_millis() * e.after_first;
    let idle_ms = duration_ms.saturating_sub(e.recovery_ms + cooldown_ms);
    sr.time_use = Some(TimeUse {
        duration_ms,
        recovery_ms: e.recovery_ms,
        cooldown_ms,
        idle_ms,
        idle_percent: if duration_ms == 0 {
            0.0
        } else {
            (idle_ms as f64 / duration_ms as f64 * 10_000.0).round() / 100.0
        },
    });
}

fn judge_scenario(sr: &mut ScenarioReport, spec: &Scenario) {
    let tally = std::mem::take(&mut sr.tally.metrics);
    sr.slos = tally.judge(spec);
    let histograms = tally.into_histograms();
    sr.metrics = histograms.iter().map(|(m, h)| (*m, h.summary())).collect();
    let decided = decided::all_decided(&sr.slos);
    sr.stopped = match sr.mode {
        Mode::Fixed => None,
        _ if decided => Some(Stopped::Decided),
        _ if sr.runs_finished >= sr.runs_requested => Some(Stopped::MaxReached),
        _ => None,
    };
    let mut v = if sr.runs_failed > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    for s in &sr.slos {
        v = v.worst(s.verdict);
    }
    // Fewer runs than asked for leave a pass open, unless they stopped because all is decided.
    if sr.runs_finished < sr.runs_requested && v == Verdict::Pass && sr.stopped.is_none() {
        v = Verdict::Inconclusive;
    }
    sr.verdict = v;
    sr.histograms = histograms;
    sr.expectations = std::mem::take(&mut sr.tally.expectations);
}
