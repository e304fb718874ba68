//! `run`: plan the suite (fresh, or the rest of an interrupted one), confirm against a real
//! cluster, run it with the journal and the progress display as sinks, write the report
//! folder, print the summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::backend::Backend;
use super::{CliError, Exit, RunArgs};
use crate::journal::{self, Event, JournalWriter, Sink};
use crate::progress::{self, Progress, Tee, Verbosity};
use crate::report::{self, Report, folder};
use crate::runner::StopFlag;
use crate::runner::suite::{SimClusters, SuitePlan, run_suite};
use crate::scenario::load_paths;
use crate::scenario::parse::Loaded;
use crate::time::Timestamp;

pub(super) fn run(args: RunArgs) -> Result<Exit, CliError> {
    let (plan, out) = match &args.resume {
        Some(dir) => (resume_plan(dir)?, dir.clone()),
        None => fresh_plan(&args)?,
    };
    if plan.finished {
        eprintln!(
            "the suite in {} has already finished; rendering its reports",
            out.display()
        );
        let report = folder::write_all(&out)?;
        print!("{}", summary(&report));
        return Ok(Exit::of_report(&report));
    }
    let loaded: Vec<Loaded> = plan.scenarios.iter().map(|s| s.loaded.clone()).collect();
    let backend = Backend::new(plan.target, &loaded, plan.profile.as_deref(), args.dcos_url)?;
    if !args.yes {
        backend.confirm(&loaded, plan.seed)?;
    }
    let verbosity = Verbosity::from_flags(args.quiet, args.verbose);
    let terminal = std::io::stderr().is_terminal();
    progress::init_logging(verbosity, terminal);
    let mut display = Progress::new(verbosity, terminal, !plan.target.simulated());
    for (s, done) in plan.done() {
        display.plan(&s.loaded.scenario, s.runs, done);
    }
    let report = execute(&plan, &backend, &out, &mut display)?;
    display.finish();
    append_step_summary(&report);
    if args.quiet {
        println!("{}", verdict_line(&report));
    } else {
        print!("{}", summary(&report));
        println!("report: {}", out.display());
    }
    Ok(Exit::of_report(&report))
}

/// A new suite of the scenarios `args` names, into a folder that holds no journal yet.
fn fresh_plan(args: &RunArgs) -> Result<(SuitePlan, PathBuf), CliError> {
    let mut loaded = load_paths(&args.paths)?;
    if args.until_decided {
        loaded
            .iter_mut()
            .for_each(|l| l.scenario.runs.until_decided = true);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.paths, &loaded));
    if out.join(journal::JOURNAL_FILE).exists() {
        return Err(CliError::Input(format!(
            "{} already holds a journal; hint: choose another --out folder, or `--resume {}` to finish it",
            out.display(),
            out.display()
        )));
    }
    let seed = args
        .seed
        .unwrap_or_else(|| Timestamp::now().as_millis() as u64);
    let plan = SuitePlan::fresh(loaded, args.target, seed, args.runs, args.profile.clone());
    Ok((plan, out))
}

/// The rest of the suite the journal in `dir` records.
fn resume_plan(dir: &Path) -> Result<SuitePlan, CliError> {
    let mut events = journal::Events::open(dir)?;
    let mut bad = None;
    let plan = SuitePlan::resume(
        events
            .by_ref()
            .map_while(|e| e.map_err(|e| bad = Some(e)).ok()),
    );
    if let Some(e) = bad {
        return Err(e.into());
    }
    if events.torn_tail {
        eprintln!(
            "warning: the journal's last line is torn (the writer was cut off); it is dropped"
        );
    }
    plan.ok_or_else(|| {
        CliError::Input(format!(
            "{} holds no suite to resume; hint: start one with `run PATH… --out {}`",
            dir.display(),
            dir.display()
        ))
    })
}

/// `reports/<UTC time>-<suite>/`: the scenario's name, or the one folder's, or `suite`.
fn default_out(paths: &[PathBuf], loaded: &[Loaded]) -> PathBuf {
    let suite = match (paths, loaded) {
        (_, [one]) => one.scenario.name.clone(),
        ([p], _) => p
            .file_name()
            .map_or("suite".into(), |n| n.to_string_lossy().into_owned()),
        _ => "suite".into(),
    };
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    PathBuf::from("reports").join(format!("{stamp}-{suite}"))
}

/// Runs the suite into `out` with Ctrl-C / SIGTERM raising the stop flag, then writes the
/// report folder (also when the suite was aborted: a partial report).
fn execute(
    plan: &SuitePlan,
    backend: &Backend,
    out: &Path,
    display: &mut Progress,
) -> Result<Report, CliError> {
    let cannot_write = |source| folder::FolderError::Write {
        path: out.join(journal::JOURNAL_FILE),
        source,
    };
    let mut journal = if plan.resumed {
        JournalWriter::reopen(out).map_err(cannot_write)?
    } else {
        JournalWriter::open(out).map_err(cannot_write)?
    };
    if plan.target.simulated() {
        journal = journal.per_run();
    }
    let mut sink = Live {
        tee: Tee {
            journal: &mut journal,
            progress: display,
        },
        // A resumed suite's earlier runs are in the journal only: it is rendered from there.
        report: (!plan.resumed).then(|| report::Builder::new(false)),
    };
    let stop = StopFlag::default();
    let result = backend.block_on(async {
        let watcher = tokio::spawn(watch_signals(stop.clone()));
        let r = match backend {
            Backend::Sim(profiles) => {
                let mut clusters = SimClusters::new(profiles, plan.seed);
                run_suite(plan, &mut clusters, &mut sink, &stop).await
            }
            Backend::Aws(aws) => {
                run_suite(plan, &mut &mut aws.cluster.clone(), &mut sink, &stop).await
            }
        };
        watcher.abort();
        r
    })?;
    if let Err(e) = &result {
        eprintln!("aborted: {e}");
    }
    match (sink.report, result) {
        (Some(live), Ok(())) => {
            let report = live.finish();
            folder::write(out, &report)?;
            Ok(report)
        }
        // A run cut short, or a resumed suite's earlier runs, are in the journal only.
        _ => Ok(folder::write_all(out)?),
    }
}

/// Every event to the journal and the display, and into the report as it happens: a fresh
/// suite's report is folded from the very events its journal records, without reading a
/// journal of up to a gigabyte back (`report` re-renders the same files from it).
struct Live<'a> {
    tee: Tee<'a>,
    report: Option<report::Builder>,
}

impl Sink for Live<'_> {
    fn emit(&mut self, event: &Event) -> std::io::Result<()> {
        self.tee.emit(event)?;
        if let Some(report) = &mut self.report {
            report.on(event);
        }
        Ok(())
    }
}

/// The terminal summary, fitted to the terminal on stdout (full width into a pipe, a file or
/// a CI log).
pub(super) fn summary(r: &Report) -> String {
    report::text::render_width(r, comfy_table::Table::new().width())
}

fn verdict_line(r: &Report) -> String {
    match &r.aborted {
        Some(why) => format!("aborted: {why}"),
        None => format!("{}", r.verdict),
    }
}

/// Appends the Markdown summary to `$GITHUB_STEP_SUMMARY` when it is set (a GitHub Actions
/// job), so that the job's page shows it. A failure to write is a warning, not a verdict.
fn append_step_summary(r: &Report) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(report::markdown::render(r).as_bytes()));
    if let Err(e) = appended {
        eprintln!(
            "warning: cannot append the summary to GITHUB_STEP_SUMMARY ({}): {e}",
            PathBuf::from(path).display()
        );
    }
}

async fn watch_signals(stop: StopFlag) {
    interrupted().await;
    stop.raise();
}

/// Completes on Ctrl-C or SIGTERM (never, where the handlers cannot be installed).
pub(super) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            // Without signal handlers nothing can interrupt: never complete.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
