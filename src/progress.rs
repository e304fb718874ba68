//! Live progress of a suite: a [`Sink`] beside the journal that shows where the suite is (the
//! scenario, the run, the last phase and its time since the fault, the phase awaited next and
//! its deadline). On a terminal an indicatif bar; elsewhere (CI logs, pipes) one `tracing`
//! line per phase; with `--quiet` nothing. It only reads events: it never fails the suite.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::journal::{Event, RunFailure, Sink, Victim};
use crate::measure::Observed;
use crate::scenario::{Demand, Scenario};
use crate::time::{Dur, Timestamp};
use crate::vocab::Phase;

/// How much to say, from `--quiet` and `-v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// Nothing but warnings.
    Quiet,
    /// The bar on a terminal; one line per phase elsewhere.
    Normal,
    /// One line per phase, victims and API errors ridden out, on a terminal too.
    Verbose,
}

impl Verbosity {
    pub(crate) fn from_flags(quiet: bool, verbose: u8) -> Self {
        match (quiet, verbose) {
            (true, _) => Self::Quiet,
            (false, 0) => Self::Normal,
            _ => Self::Verbose,
        }
    }

    /// The `tracing` filter for this level (`RUST_LOG` overrides it).
    pub(crate) fn filter(self) -> &'static str {
        match self {
            Self::Quiet => "warn",
            Self::Normal => "info",
            Self::Verbose => "debug",
        }
    }
}

/// Installs the `tracing` subscriber that writes progress and warnings to stderr. With the bar
/// on a terminal, only warnings are logged (the bar shows the rest).
pub(crate) fn init_logging(v: Verbosity, terminal: bool) {
    let level = if terminal && v == Verbosity::Normal {
        Verbosity::Quiet.filter()
    } else {
        v.filter()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_target(false)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .without_time()
        .try_init();
}

/// What progress knows of a scenario before it starts.
struct Planned {
    runs: u32,
    /// `until: decided`: `runs` is the most, and the scenario may stop before.
    until_decided: bool,
    /// `within` deadlines, earliest first.
    deadlines: Vec<(Phase, Dur)>,
    timeout: Dur,
}

/// The run in progress.
struct Current {
    scenario: String,
    run: u32,
    fault_at: Option<Timestamp>,
    seen: Vec<Phase>,
}

/// What the bar's status line shows, redrawn on every tick.
#[derive(Default)]
struct Live {
    /// `scenario run 3/20`.
    label: String,
    /// When the fault was injected, by this process's clock (real targets only).
    fault: Option<Instant>,
    /// The last phase seen and its time since the fault.
    last: Option<(Phase, Dur)>,
    /// `awaiting task_running (due within 30m)`.
    next: String,
    /// Whether the target runs in real time (else the sim's virtual time is quoted).
    realtime: bool,
}

/// The status line's longest text: the bar is one line.
const LIVE_WIDTH: usize = 110;

impl Live {
    fn render(&self) -> String {
        let mut s = self.label.clone();
        if let (true, Some(at)) = (self.realtime, self.fault) {
            let since = Dur::from_millis(at.elapsed().as_millis() as u64);
            s.push_str(&format!(" · {} since the fault", since.human()));
        }
        if let Some((p, t)) = self.last {
            s.push_str(&format!(" · {p} at +{}", t.human()));
        }
        if !self.next.is_empty() {
            s.push_str(" · ");
            s.push_str(&self.next);
        }
        if s.chars().count() > LIVE_WIDTH {
            s = s.chars().take(LIVE_WIDTH - 1).collect::<String>() + "…";
        }
        s
    }
}

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    live: Arc<Mutex<Live>>,
    verbosity: Verbosity,
    planned: BTreeMap<String, Planned>,
    current: Option<Current>,
}

impl Progress {
    /// A bar when stderr is a terminal and nothing more verbose was asked for; lines otherwise.
    /// `realtime`: the target's clock is the wall clock (the bar then counts the time since the
    /// fault as it passes).
    pub(crate) fn new(verbosity: Verbosity, terminal: bool, realtime: bool) -> Self {
        let live = Arc::new(Mutex::new(Live {
            realtime,
            ..Live::default()
        }));
        let bar = (terminal && verbosity == Verbosity::Normal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let shown = Arc::clone(&live);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} {bar:20} {pos}/{len} runs · {live}",
                )
                .expect("the template is valid")
                .with_key(
                    "live",
                    move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let l = shown.lock().unwrap_or_else(PoisonError::into_inner);
                        let _ = w.write_str(&l.render());
                    },
                ),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            live,
            verbosity,
            planned: BTreeMap::new(),
            current: None,
        }
    }

    /// Announces a scenario of the suite: its run count, and how many of them are already done
    /// (a resumed suite).
    pub(crate) fn plan(&mut self, scenario: &Scenario, runs: u32, done: u32) {
        let mut deadlines: Vec<(Phase, Dur)> = scenario
            .expect
            .iter()
            .filter_map(|e| match e.demand() {
                Demand::Within(d) => Some((e.phase, d)),
                Demand::AbsentFor(_) => None,
            })
            .collect();
        deadlines.sort_by_key(|(_, d)| *d);
        self.planned.insert(
            scenario.name.clone(),
            Planned {
                runs,
                until_decided: scenario.runs.until_decided,
                deadlines,
                timeout: scenario.timeout,
            },
        );
        if let Some(bar) = &self.bar {
            bar.inc_length(u64::from(runs));
            bar.inc(u64::from(done.min(runs)));
        }
    }

    fn run_label(&self, scenario: &str, run: u32) -> String {
        match self.planned.get(scenario) {
            Some(p) if p.until_decided => format!("{scenario} run {run}/≤{}", p.runs),
            Some(p) => format!("{scenario} run {run}/{}", p.runs),
            None => format!("{scenario} run {run}"),
        }
    }

    /// The phase awaited next and its deadline, from the scenario's `within` expectations
    /// (else its `timeout`).
    fn next_due(&self, c: &Current) -> String {
        let Some(p) = self.planned.get(&c.scenario) else {
            return String::new();
        };
        match p.deadlines.iter().find(|(ph, _)| !c.seen.contains(ph)) {
            Some((ph, d)) => format!("awaiting {ph} (due within {d})"),
            None => format!("awaiting the end of the run (timeout {})", p.timeout),
        }
    }

    fn live(&self, f: impl FnOnce(&mut Live)) {
        f(&mut self.live.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some(bar) = &self.bar {
            bar.tick();
        }
    }

    fn on(&mut self, e: &Event) {
        match e {
            Event::ScenarioStarted { scenario, runs, .. } => {
                if !self.planned.contains_key(&scenario.name) {
                    self.plan(scenario, *runs, 0);
                }
                tracing::info!("{}: {} runs", scenario.name, runs);
            }
            Event::RunStarted { scenario, run, .. } => self.on_run_started(scenario, *run),
            Event::VictimsSelected {
                scenario,
                run,
                victims,
            } => self.on_victims(scenario, *run, victims),
            Event::PhaseObserved {
                scenario,
                run,
                phase,
                at,
                error_ms,
                source,
            } => {
                let o = Observed {
                    at: *at,
                    error_ms: *error_ms,
                    source: *source,
                };
                self.on_phase(scenario, *run, *phase, o);
            }
            Event::ApiError {
                scenario,
                run,
                error,
                ..
            } => {
                tracing::debug!(
                    "{}: {} API error ridden out ({}): {}",
                    self.run_label(scenario, *run),
                    error.api,
                    error.kind,
                    error.message
                );
            }
            Event::SchedulerUnavailable { .. } => self.on_scheduler_unavailable(e),
            Event::RunFinished {
                scenario,
                run,
                failures,
                ..
            } => self.on_run_finished(scenario, *run, failures),
            Event::RunDiscarded {
                scenario,
                run,
                reason,
            } => {
                tracing::info!("{}: discarded ({reason})", self.run_label(scenario, *run));
            }
            Event::SuiteResumed { .. } => tracing::info!("resuming the suite"),
            Event::Aborted { reason, .. } => {
                match &self.bar {
                    Some(bar) => bar.println(format!("aborted: {reason}")),
                    None => tracing::warn!("aborted: {reason}"),
                }
                self.finish();
            }
            Event::SuiteFinished { .. } => self.finish(),
            Event::SuiteStarted { .. } => {}
        }
    }

    fn on_scheduler_unavailable(&self, e: &Event) {
        let Event::SchedulerUnavailable {
            scenario,
            run,
            from,
            back,
            refused,
            ..
        } = e
        else {
            return;
        };
        let until = back.map_or("the end of the run".to_string(), |b| {
            format!("{} later", b.since(*from))
        });
        tracing::info!(
            "{}: the scheduler did not answer ({refused} calls refused) until {until}",
            self.run_label(scenario, *run),
        );
    }

    fn on_run_started(&mut self, scenario: &str, run: u32) {
        self.current = Some(Current {
            scenario: scenario.to_string(),
            run,
            fault_at: None,
            seen: Vec::new(),
        });
        let label = self.run_label(scenario, run);
        self.live(|l| {
            *l = Live {
                label,
                next: "waiting for steady state".into(),
                realtime: l.realtime,
                ..Live::default()
            }
        });
    }

    fn on_victims(&self, scenario: &str, run: u32, victims: &[Victim]) {
        let names: Vec<String> = victims
            .iter()
            .map(|v| match &v.pod {
                Some(p) => format!("{} ({p})", v.instance),
                None => v.instance.to_string(),
            })
            .collect();
        tracing::debug!(
            "{}: victim {}",
            self.run_label(scenario, run),
            names.join(", ")
        );
    }

    /// A phase of the run in progress: one line, and the bar's last and next phase.
    fn on_phase(&mut self, scenario: &str, run: u32, phase: Phase, o: Observed) {
        let label = self.run_label(scenario, run);
        let Some(c) = self
            .current
            .as_mut()
            .filter(|c| c.scenario == scenario && c.run == run)
        else {
            return;
        };
        if phase == Phase::FaultInjected {
            c.fault_at = Some(o.at);
        }
        c.seen.push(phase);
        let since = match c.fault_at {
            Some(f) if phase != Phase::SteadyStateVerified => {
                format!(" +{}", o.at.since(f).human())
            }
            _ => String::new(),
        };
        tracing::info!(
            "{label}: {phase}{since} (±{}, {})",
            Dur::from_millis(o.error_ms).human(),
            o.source.as_str()
        );
        let c = self.current.as_ref().expect("set above");
        let next = self.next_due(c);
        let last = c.fault_at.map(|f| (phase, o.at.since(f)));
        let injected = phase == Phase::FaultInjected;
        self.live(|l| {
            l.last = last;
            l.next = next;
            if injected {
                l.fault = Some(Instant::now());
            }
        });
    }

    fn on_run_finished(&mut self, scenario: &str, run: u32, failures: &[RunFailure]) {
        let label = self.run_label(scenario, run);
        if failures.is_empty() {
            tracing::info!("{label}: pass");
        } else {
            let details: Vec<&str> = failures.iter().map(|f| f.detail.as_str()).collect();
            let msg = format!("{label}: fail: {}", details.join("; "));
            match &self.bar {
                // A failure stays on screen above the bar.
                Some(bar) => bar.println(&msg),
                None => tracing::warn!("{msg}"),
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.current = None;
    }

    /// Clears the bar (the summary printed next takes its place).
    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Sink for Progress {
    fn emit(&mut self, event: &Event) -> io::Result<()> {
        if self.verbosity != Verbosity::Quiet {
            self.on(event);
        }
        Ok(())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The journal and the progress display as one sink: the journal first, and only its errors
/// count (the display never fails).
pub(crate) struct Tee<'a> {
    pub(crate) journal: &'a mut dyn Sink,
    pub(crate) progress: &'a mut Progress,
}

impl Sink for Tee<'_> {
    fn emit(&mut self, event: &Event) -> io::Result<()> {
        self.journal.emit(event)?;
        let _ = self.progress.emit(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_says_where_the_run_is() {
        let l = Live {
            label: "s run 3/20".into(),
            last: Some((Phase::TaskLost, Dur::from_millis(302_600))),
            next: "awaiting task_running (due within 30m)".into(),
            ..Live::default()
        };
        assert_eq!(
            l.render(),
            "s run 3/20 · task_lost at +5m 02.6s · awaiting task_running (due within 30m)"
        );
    }

    #[test]
    fn verbosity_follows_the_flags() {
        assert_eq!(Verbosity::from_flags(true, 2), Verbosity::Quiet);
        assert_eq!(Verbosity::from_flags(false, 0), Verbosity::Normal);
        assert_eq!(Verbosity::from_flags(false, 1), Verbosity::Verbose);
        assert_eq!(Verbosity::Quiet.filter(), "warn");
    }

    #[test]
    fn the_journal_gets_every_event_and_progress_never_fails_it() {
        let mut journal: Vec<Event> = Vec::new();
        let mut progress = Progress::new(Verbosity::Normal, false, false);
        let events = [
            Event::RunStarted {
                scenario: "s".into(),
                run: 1,
                at: Timestamp::from_millis(0),
            },
            Event::SuiteFinished {
                wall_clock: Timestamp::from_millis(0),
            },
        ];
        let mut tee = Tee {
            journal: &mut journal,
            progress: &mut progress,
        };
        for e in &events {
            tee.emit(e).unwrap();
        }
        assert_eq!(journal, events);
    }
}
