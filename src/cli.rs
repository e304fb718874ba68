//! The command line (DESIGN §5): argument parsing and the glue from a subcommand to the
//! library. Every failure maps to a documented exit code in [`CliError::exit_code`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::cluster::Cluster;
use crate::cluster::aws::dcos::ProcessEnv;
use crate::cluster::aws::{AwsClients, AwsCluster, DcosClient, DcosConfig};
use crate::cluster::sim::{Profile, ProfileError, SimCluster};
use crate::journal::{self, Event, JournalWriter, SCHEMA_VERSION, Sink};
use crate::progress::{self, Progress, Tee, Verbosity};
use crate::report::{self, Report};
use crate::runner::{self, RunError, StopFlag};
use crate::scenario::parse::{Loaded, diagnose_at};
use crate::scenario::{LoadError, load_paths};
use crate::sim_server::{ServeConfig, SimService};
use crate::time::{Dur, Timestamp};

/// Measured chaos drills for services on DC/OS on AWS: kill a node, heal it as an operator
/// would, time every phase of the recovery, judge the SLOs.
#[derive(Debug, Parser)]
#[command(name = "chaos-harness", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios (files or folders) and write the journal and reports.
    Run {
        /// Scenario files or folders of them.
        #[arg(required_unless_present = "resume")]
        paths: Vec<PathBuf>,
        /// Finish the interrupted suite whose report folder this is: finished runs are kept,
        /// the interrupted one is redone, the rest run.
        #[arg(long, conflicts_with_all = ["paths", "out", "seed", "runs", "profile"])]
        resume: Option<PathBuf>,
        /// Where faults go.
        #[arg(long, value_enum, default_value_t = Target::Sim)]
        target: Target,
        /// Override every scenario's run count.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        runs: Option<u32>,
        /// Seed for victim choice and the simulated cluster (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Report folder (default: reports/<UTC time>-<suite>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Simulated cluster profile for every scenario: a built-in name or a YAML file.
        #[arg(long)]
        profile: Option<String>,
        /// Inject without asking (with --target aws, the alternative is an interactive
        /// confirmation that names the instances).
        #[arg(long)]
        yes: bool,
        /// DC/OS URL for --target aws (else DCOS_URL, else the DC/OS CLI's attached cluster).
        #[arg(long)]
        dcos_url: Option<String>,
        /// Print only the verdict line (and warnings).
        #[arg(long, short)]
        quiet: bool,
        /// Log every phase, victim and API error ridden out, one line each on stderr, also on
        /// a terminal (instead of the progress bar). `RUST_LOG` overrides the level.
        #[arg(long, short, action = clap::ArgAction::Count, conflicts_with = "quiet")]
        verbose: u8,
    },
    /// Parse and check scenarios; contacts no cluster.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Resolve each scenario's victims and print what would be done; injects nothing.
    Plan {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Target::Sim)]
        target: Target,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        profile: Option<String>,
        /// DC/OS URL for --target aws (else DCOS_URL, else the DC/OS CLI's attached cluster).
        #[arg(long)]
        dcos_url: Option<String>,
    },
    /// Re-render the report of a report folder from its journal alone, or compare two.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Report {
        /// The report folder (the one holding `journal.jsonl`).
        #[arg(required = true)]
        dir: Option<PathBuf>,
        /// What to print.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Rewrite every report file in DIR (report.json, report.md, junit.xml, report.html,
        /// histograms/) from its journal instead of printing one.
        #[arg(long, conflicts_with = "format")]
        write: bool,
        #[command(subcommand)]
        command: Option<ReportCommand>,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Check a suite's measurements against the simulator's ground truth: the error of every
    /// reported phase (p50/p99/max, per phase and for server-stamped vs poll-bracketed ones)
    /// and whether the truth lies inside each reported bound. Exit 0 when all do, 1 when one
    /// does not.
    VerifyTruth {
        /// The report folder of a suite run against `sim serve`.
        report_dir: PathBuf,
        /// The file `sim serve --truth-log` wrote.
        truth_log: PathBuf,
        /// Print every check as JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// The simulated cluster on its own.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Serve the simulated cluster over HTTP in real time: the EC2 and Auto Scaling query APIs
    /// on `POST /`, DC/OS (ACS login, `/mesos/master/slaves`, `/service/<name>/v1/…`) beside
    /// them. Prints `listening on http://ADDR` once ready; stops on Ctrl-C or SIGTERM.
    Serve {
        /// Address to listen on; port 0 picks a free port (the line printed says which).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
        listen: String,
        /// Simulated cluster profile: a built-in name (default, fast, spare-agent) or a YAML
        /// file.
        #[arg(long, value_name = "NAME|FILE", default_value = "default")]
        profile: String,
        /// Seed of the simulated cluster's randomness.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the true time of every event to FILE, one JSON object a line, as it happens
        /// (the file is truncated first).
        #[arg(long, value_name = "FILE")]
        truth_log: Option<PathBuf>,
        /// The DC/OS auth token the login endpoint issues and every DC/OS endpoint requires.
        #[arg(long, default_value = crate::sim_server::DEFAULT_TOKEN)]
        token: String,
        /// Stop by itself after this long, e.g. `10m` (so that no server outlives a test).
        #[arg(long, value_name = "DURATION")]
        lifetime: Option<Dur>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// The built-in simulated cluster (virtual time, no AWS account needed).
    Sim,
    /// A real AWS + DC/OS cluster.
    Aws,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Compare two report folders, per scenario, metric and percentile.
    ///
    /// Prints for p50, p90, p99 and max the change from OLD to NEW (read from their journals).
    /// Exits 1 when a metric got slower beyond the tolerance (and beyond the runs' error
    /// bounds) or is no longer measured, 0 otherwise, 2 on bad input.
    Compare {
        /// The baseline report folder.
        old: PathBuf,
        /// The report folder to judge against it.
        new: PathBuf,
        /// How much slower still counts as the same, in percent.
        #[arg(long, value_name = "PERCENT", default_value = "10%")]
        tolerance: report::compare::Tolerance,
        /// What to print: a table, Markdown (for a pull request or job summary) or JSON.
        #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
        format: CompareFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The terminal summary.
    Text,
    /// report.json.
    Json,
    /// report.md.
    Md,
    /// junit.xml.
    Junit,
    /// report.html.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CompareFormat {
    Text,
    Md,
    Json,
}

/// A failure, tiered by exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad scenario, profile or flag: nothing was touched (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// The suite stopped early (exit 4).
    #[error("{0}")]
    Aborted(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Invalid(_) => 2,
            Self::Aborted(_) => 4,
        }
    }
}

impl From<LoadError> for CliError {
    fn from(e: LoadError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// Runs the parsed command; returns the exit code.
pub fn main(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Validate { paths } => {
            let loaded = load_paths(&paths)?;
            for l in &loaded {
                sim_profile(l, None)?;
            }
            println!(
                "{} scenario{} valid",
                loaded.len(),
                if loaded.len() == 1 { "" } else { "s" }
            );
            Ok(0)
        }
        Command::Schema => {
            println!("{}", schema_json());
            Ok(0)
        }
        Command::VerifyTruth {
            report_dir,
            truth_log,
            json,
        } => {
            let journal =
                journal::read(&report_dir).map_err(|e| CliError::Invalid(e.to_string()))?;
            let truth = crate::verify::read_truth(&truth_log).map_err(CliError::Invalid)?;
            let acc = crate::verify::check(&journal.events, &truth);
            if acc.checks.is_empty() {
                return Err(CliError::Invalid(format!(
                    "no reported phase of {} matches an event of {}; hint: pass the truth log of the `sim serve` the suite ran against",
                    report_dir.display(),
                    truth_log.display()
                )));
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&acc).expect("checks serialize")
                );
            } else {
                print!("{}", acc.render());
            }
            Ok(if acc.all_inside() { 0 } else { 1 })
        }
        Command::Sim {
            command:
                SimCommand::Serve {
                    listen,
                    profile,
                    seed,
                    truth_log,
                    token,
                    lifetime,
                },
        } => {
            let profile = Profile::load(&profile).map_err(|e| CliError::Invalid(e.render()))?;
            let cfg = ServeConfig {
                seed,
                token,
                truth_log,
                lifetime: lifetime.map(Dur::to_std),
                ..ServeConfig::new(profile)
            };
            sim_serve(&listen, cfg)
        }
        Command::Report {
            command:
                Some(ReportCommand::Compare {
                    old,
                    new,
                    tolerance,
                    format,
                }),
            ..
        } => {
            let (old, new) = (read_report(&old)?, read_report(&new)?);
            let c = report::compare::compare(&old, &new, tolerance);
            if c.scenarios.is_empty() {
                return Err(CliError::Invalid(
                    "the two reports have no scenario in common; hint: compare runs of the same scenarios".into(),
                ));
            }
            print!(
                "{}",
                match format {
                    CompareFormat::Text => report::compare::render_text(&c),
                    CompareFormat::Md => report::compare::render_markdown(&c),
                    CompareFormat::Json => report::compare::render_json(&c),
                }
            );
            Ok(c.exit_code())
        }
        Command::Report {
            dir, format, write, ..
        } => {
            let dir = dir.expect("clap requires DIR without a subcommand");
            if write {
                journal::read(&dir).map_err(|e| CliError::Invalid(e.to_string()))?;
                let r = write_reports(&dir)?;
                println!("rewrote the reports in {}", dir.display());
                return Ok(r.exit_code());
            }
            let r = read_report(&dir)?;
            print!("{}", render(&r, format));
            Ok(r.exit_code())
        }
        Command::Plan {
            paths,
            target,
            seed,
            profile,
            dcos_url,
        } => {
            let loaded = load_paths(&paths)?;
            let backend = Backend::new(target, &loaded, profile.as_deref(), dcos_url)?;
            plan(&loaded, seed, &backend)
        }
        Command::Run {
            paths,
            resume,
            target,
            runs,
            seed,
            out,
            profile,
            yes,
            dcos_url,
            quiet,
            verbose,
        } => {
            let (suite_plan, out) = match resume {
                Some(dir) => (resume_plan(&dir)?, dir),
                None => {
                    let loaded = load_paths(&paths)?;
                    let out = out.unwrap_or_else(|| default_out(&paths, &loaded));
                    if out.join(journal::JOURNAL_FILE).exists() {
                        return Err(CliError::Invalid(format!(
                            "{} already holds a journal; hint: choose another --out folder, or `--resume {}` to finish it",
                            out.display(),
                            out.display()
                        )));
                    }
                    let seed = seed.unwrap_or_else(|| Timestamp::now().as_millis() as u64);
                    let target = match target {
                        Target::Sim => "sim",
                        Target::Aws => "aws",
                    };
                    let scenarios = loaded
                        .into_iter()
                        .map(|l| {
                            let runs = runs.unwrap_or(l.scenario.runs);
                            (l, runs, None)
                        })
                        .collect();
                    let plan = SuitePlan {
                        resumed: false,
                        finished: false,
                        target,
                        seed,
                        profile,
                        scenarios,
                    };
                    (plan, out)
                }
            };
            if suite_plan.finished {
                eprintln!(
                    "the suite in {} has already finished; rendering its reports",
                    out.display()
                );
                let report = write_reports(&out)?;
                print!("{}", report::text::render(&report));
                return Ok(report.exit_code());
            }
            let target = if suite_plan.target == "aws" {
                Target::Aws
            } else {
                Target::Sim
            };
            let loaded: Vec<Loaded> = suite_plan.scenarios.iter().map(|s| s.0.clone()).collect();
            let backend = Backend::new(target, &loaded, suite_plan.profile.as_deref(), dcos_url)?;
            if !yes {
                confirm(&backend, &loaded, suite_plan.seed)?;
            }
            let verbosity = Verbosity::from_flags(quiet, verbose);
            let terminal = std::io::stderr().is_terminal();
            progress::init_logging(verbosity, terminal);
            let mut display = Progress::new(verbosity, terminal, target == Target::Aws);
            for (l, runs, start) in &suite_plan.scenarios {
                let done = start.map_or(0, |s| s.first_run.saturating_sub(1));
                display.plan(&l.scenario, *runs, done);
            }
            let report = execute(&suite_plan, &backend, &out, &mut display)?;
            display.finish();
            append_step_summary(&report);
            if quiet {
                println!("{}", verdict_line(&report));
            } else {
                print!("{}", report::text::render(&report));
                println!("report: {}", out.display());
            }
            Ok(report.exit_code())
        }
    }
}

/// Where faults go, ready to use.
enum Backend {
    /// One profile per scenario.
    Sim(Vec<Profile>),
    Aws(Box<AwsBackend>),
}

/// The real cluster and the runtime its clients were built on.
struct AwsBackend {
    dcos: Option<DcosConfig>,
    rt: tokio::runtime::Runtime,
    cluster: AwsCluster,
}

impl Backend {
    /// Checks everything that can be checked before touching a cluster.
    fn new(
        target: Target,
        loaded: &[Loaded],
        profile: Option<&str>,
        dcos_url: Option<String>,
    ) -> Result<Self, CliError> {
        match target {
            Target::Sim => Ok(Self::Sim(
                loaded
                    .iter()
                    .map(|l| sim_profile(l, profile))
                    .collect::<Result<_, _>>()?,
            )),
            Target::Aws => {
                if profile.is_some() {
                    return Err(CliError::Invalid(
                        "error: --profile describes the simulated cluster; hint: drop it with --target aws".into(),
                    ));
                }
                let needs_dcos = loaded.iter().any(|l| l.scenario.service.is_some());
                let dcos = match DcosConfig::resolve(&ProcessEnv, dcos_url, None) {
                    Ok(c) => Some(c),
                    Err(e) if needs_dcos => return Err(CliError::Invalid(format!("error: {e}"))),
                    Err(_) => None,
                };
                let client = dcos
                    .as_ref()
                    .map(DcosClient::new)
                    .transpose()
                    .map_err(|e| CliError::Invalid(format!("error: {e}")))?;
                let rt = runtime()?;
                let aws = rt.block_on(AwsClients::from_env());
                Ok(Self::Aws(Box::new(AwsBackend {
                    dcos,
                    rt,
                    cluster: AwsCluster::new(aws, client),
                })))
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Aborted(format!("cannot start the async runtime: {e}")))
}

/// Against a real cluster nothing is injected without `--yes` or a typed confirmation that
/// names the instances. Without a terminal to ask on, refuse (exit 4), having touched nothing.
fn confirm(backend: &Backend, loaded: &[Loaded], seed: u64) -> Result<(), CliError> {
    let Backend::Aws(aws) = backend else {
        return Ok(());
    };
    let AwsBackend { rt, cluster, dcos } = aws.as_ref();
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Aborted(
            "refusing to inject into a real cluster without --yes (no terminal to confirm on); nothing was touched".into(),
        ));
    }
    if let Some(d) = dcos {
        eprintln!("DC/OS: {} (from {})", d.url, d.origin);
    }
    for l in loaded {
        let mut c = cluster.clone();
        let victims = rt
            .block_on(runner::dry_run(&mut c, &l.scenario, seed))
            .map_err(|e| {
                CliError::Aborted(format!("{}: {e}; nothing was touched", l.scenario.name))
            })?;
        for v in &victims {
            eprintln!(
                "{}: would {} {}",
                l.scenario.name,
                l.scenario.fault.as_str(),
                chain(v, " -> ")
            );
        }
    }
    eprint!("type `yes` to inject these faults: ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::Aborted(format!("cannot read the confirmation: {e}")))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CliError::Aborted(
            "not confirmed; nothing was touched".into(),
        ))
    }
}

fn verdict_line(r: &Report) -> String {
    match &r.aborted {
        Some(why) => format!("aborted: {why}"),
        None => format!("{}", r.verdict),
    }
}

fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Text => report::text::render(r),
        Format::Json => report::json::render(r),
        Format::Md => report::markdown::render(r),
        Format::Junit => report::junit::render(r),
        Format::Html => report::html::render(r),
    }
}

/// The report of a report folder, built from its journal; a missing or unreadable journal is
/// invalid input.
fn read_report(dir: &Path) -> Result<Report, CliError> {
    let read = journal::read(dir).map_err(|e| CliError::Invalid(e.to_string()))?;
    if read.torn_tail {
        eprintln!(
            "warning: the journal's last line in {} is torn (the writer was cut off); it was ignored",
            dir.display()
        );
    }
    Ok(report::build(&read.events, read.torn_tail))
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

/// The JSON Schema of scenario files.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(crate::scenario::Scenario);
    serde_json::to_string_pretty(&schema).expect("schemas serialise")
}

/// The simulated cluster a scenario runs on: `--profile`, else the scenario's `profile`
/// (relative to its file), else the default. A target pod the profile lacks is invalid input.
fn sim_profile(l: &Loaded, flag: Option<&str>) -> Result<Profile, CliError> {
    let from_file = l.scenario.profile.as_deref().map(|p| {
        if Profile::builtin(p).is_some() {
            p.to_string()
        } else {
            l.path
                .parent()
                .unwrap_or(Path::new("."))
                .join(p)
                .display()
                .to_string()
        }
    });
    let name = flag.map(str::to_string).or(from_file);
    let profile = match &name {
        Some(n) => Profile::load(n).map_err(|e| match (flag, &e) {
            // A profile file the scenario names but that cannot be read: point at the name.
            (None, ProfileError::Read { .. }) => {
                CliError::Invalid(diagnose_at(&l.path, &["profile"], &e.to_string()).to_string())
            }
            // Otherwise the profile's own located problems (or a bad --profile flag).
            _ => CliError::Invalid(e.render()),
        })?,
        None => Profile::default_profile(),
    };
    if let Some(svc) = &l.scenario.service {
        let pods: Vec<String> = (0..profile.topology.pods)
            .map(|i| format!("node-{i}"))
            .collect();
        if svc.name != profile.topology.service {
            return Err(CliError::Invalid(
                diagnose_at(
                    &l.path,
                    &["service", "name"],
                    &format!(
                        "service `{}` does not exist in the simulated cluster (profile {}); hint: the profile runs `{}`",
                        svc.name,
                        name.as_deref().unwrap_or("default"),
                        profile.topology.service
                    ),
                )
                .to_string(),
            ));
        }
        if let Some(pod) = &l.scenario.target.pod
            && !pods.iter().any(|p| p == pod)
        {
            return Err(CliError::Invalid(
                diagnose_at(
                    &l.path,
                    &["target", "pod"],
                    &format!(
                        "pod `{pod}` does not exist in the simulated cluster (profile {}); hint: it has {}",
                        name.as_deref().unwrap_or("default"),
                        pods.join(", ")
                    ),
                )
                .to_string(),
            ));
        }
    }
    Ok(profile)
}

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

/// The start of simulated time: a fixed instant, so that the same seed gives the same report.
const SIM_EPOCH: Timestamp = Timestamp::from_millis(1_767_225_600_000); // 2026-01-01T00:00:00Z

fn execute(
    plan: &SuitePlan,
    backend: &Backend,
    out: &Path,
    display: &mut Progress,
) -> Result<Report, CliError> {
    let io = |e: std::io::Error| CliError::Aborted(format!("cannot write {}: {e}", out.display()));
    let mut journal = if plan.resumed {
        JournalWriter::reopen(out).map_err(io)?
    } else {
        JournalWriter::open(out).map_err(io)?
    };
    let stop = StopFlag::default();
    let mut sink = Tee {
        journal: &mut journal,
        progress: display,
    };
    let result = match backend {
        Backend::Sim(_) => runtime()?.block_on(on_backend(plan, backend, &mut sink, stop)),
        Backend::Aws(aws) => aws.rt.block_on(on_backend(plan, backend, &mut sink, stop)),
    };
    if let Err(e) = &result {
        eprintln!("aborted: {e}");
    }
    let report = write_reports(out)?;
    Ok(report)
}

/// Runs the suite on the backend, with Ctrl-C / SIGTERM raising the stop flag.
async fn on_backend(
    plan: &SuitePlan,
    backend: &Backend,
    journal: &mut dyn Sink,
    stop: StopFlag,
) -> Result<(), RunError> {
    let watcher = tokio::spawn(watch_signals(stop.clone()));
    let seed = plan.seed;
    let r = match backend {
        Backend::Sim(profiles) => {
            let make = |i: usize, l: &Loaded| {
                SimCluster::new(
                    &profiles[i],
                    runner::scenario_seed(seed, &l.scenario.name),
                    SIM_EPOCH,
                )
            };
            suite(plan, true, make, journal, &stop).await
        }
        Backend::Aws(aws) => {
            let make = |_: usize, _: &Loaded| aws.cluster.clone();
            suite(plan, false, make, journal, &stop).await
        }
    };
    watcher.abort();
    r
}

/// What a `run` call will do: a fresh suite, or the rest of an interrupted one.
struct SuitePlan {
    resumed: bool,
    /// The journal already holds `suite_finished`: nothing is left to run.
    finished: bool,
    target: &'static str,
    seed: u64,
    /// `--profile`, journaled so that a resume uses the same simulated cluster.
    profile: Option<String>,
    /// Each scenario with its run count, and where it starts when the journal already began it.
    scenarios: Vec<(Loaded, u32, Option<runner::Start>)>,
}

/// Reads an interrupted suite's journal: which scenarios and runs are done, which run was cut
/// short (it is redone; its partial record is discarded), what is left (the whole suite is in
/// `suite_started`).
fn resume_plan(dir: &Path) -> Result<SuitePlan, CliError> {
    let read = journal::read(dir).map_err(|e| CliError::Invalid(e.to_string()))?;
    if read.torn_tail {
        eprintln!(
            "warning: the journal's last line is torn (the writer was cut off); it is dropped"
        );
    }
    let mut plan = SuitePlan {
        resumed: true,
        finished: false,
        target: "sim",
        seed: 0,
        profile: None,
        scenarios: Vec::new(),
    };
    let mut started = false;
    let mut finished_runs: std::collections::BTreeMap<String, u32> = Default::default();
    let mut began: std::collections::BTreeSet<String> = Default::default();
    for e in &read.events {
        match e {
            Event::SuiteStarted {
                target,
                seed,
                planned,
                profile,
                ..
            } => {
                started = true;
                plan.target = if target == "aws" { "aws" } else { "sim" };
                plan.seed = *seed;
                plan.profile.clone_from(profile);
                plan.scenarios = planned
                    .iter()
                    .map(|p| {
                        let l = Loaded {
                            path: PathBuf::from(&p.file),
                            scenario: (*p.scenario).clone(),
                        };
                        (l, p.runs, None)
                    })
                    .collect();
            }
            Event::ScenarioStarted { scenario, .. } => {
                began.insert(scenario.name.clone());
            }
            Event::RunFinished { scenario, run, .. } => {
                finished_runs.insert(scenario.clone(), *run);
            }
            Event::SuiteFinished { .. } => plan.finished = true,
            Event::SuiteResumed { .. } => plan.finished = false,
            _ => {}
        }
    }
    if !started {
        return Err(CliError::Invalid(format!(
            "{} holds no suite to resume; hint: start one with `run PATH… --out {}`",
            dir.display(),
            dir.display()
        )));
    }
    let replay = plan.target == "sim";
    for (l, _, start) in &mut plan.scenarios {
        if began.contains(&l.scenario.name) {
            let done = finished_runs.get(&l.scenario.name).copied().unwrap_or(0);
            *start = Some(runner::Start {
                first_run: done + 1,
                replay,
            });
        }
    }
    Ok(plan)
}

async fn suite<C: Cluster>(
    plan: &SuitePlan,
    simulated: bool,
    mut make: impl FnMut(usize, &Loaded) -> C,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> Result<(), RunError> {
    if plan.resumed {
        sink.emit(&Event::SuiteResumed {
            wall_clock: Timestamp::now(),
        })?;
    } else {
        sink.emit(&Event::SuiteStarted {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            target: plan.target.into(),
            simulated,
            seed: plan.seed,
            wall_clock: Timestamp::now(),
            planned: plan
                .scenarios
                .iter()
                .map(|(l, runs, _)| journal::Planned {
                    scenario: Box::new(l.scenario.clone()),
                    file: l.path.display().to_string(),
                    runs: *runs,
                })
                .collect(),
            profile: plan.profile.clone(),
        })?;
    }
    for (i, (l, runs, start)) in plan.scenarios.iter().enumerate() {
        let start = match start {
            Some(start) if start.first_run > *runs => continue,
            Some(start) => {
                // The run that was cut short left a partial record: discard it.
                sink.emit(&Event::RunDiscarded {
                    scenario: l.scenario.name.clone(),
                    run: start.first_run,
                    reason: "interrupted; redone on resume".into(),
                })?;
                *start
            }
            None => {
                sink.emit(&Event::ScenarioStarted {
                    scenario: Box::new(l.scenario.clone()),
                    file: l.path.display().to_string(),
                    runs: *runs,
                })?;
                runner::Start::FRESH
            }
        };
        let mut cluster = make(i, l);
        runner::run_scenario_from(
            &mut cluster,
            &l.scenario,
            *runs,
            plan.seed,
            sink,
            stop,
            start,
        )
        .await?;
    }
    sink.emit(&Event::SuiteFinished {
        wall_clock: Timestamp::now(),
    })?;
    Ok(())
}

/// `sim serve`: binds, prints `listening on http://ADDR`, serves until Ctrl-C, SIGTERM or the
/// lifetime ends.
fn sim_serve(listen: &str, cfg: ServeConfig) -> Result<i32, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Aborted(format!("error: cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let service = SimService::new(cfg).map_err(|e| CliError::Invalid(format!("error: {e}")))?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            CliError::Invalid(format!(
                "error: cannot listen on {listen}: {e}; hint: `--listen 127.0.0.1:0` picks a free port"
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Aborted(format!("error: {e}")))?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{addr}");
            let _ = out.flush();
        }
        service
            .serve(listener, interrupted())
            .await
            .map_err(|e| CliError::Aborted(format!("error: {e}")))?;
        Ok(0)
    })
}

async fn watch_signals(stop: StopFlag) {
    interrupted().await;
    stop.raise();
}

/// Completes on Ctrl-C or SIGTERM (never, where the handlers cannot be installed).
async fn interrupted() {
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

/// Renders every report file from the journal in `dir`: `report.json`, `report.md`,
/// `junit.xml`, `report.html` and `histograms/<scenario>.hlog`.
pub fn write_reports(dir: &Path) -> Result<Report, CliError> {
    let read = journal::read(dir).map_err(|e| CliError::Aborted(e.to_string()))?;
    let r = report::build(&read.events, read.torn_tail);
    let write = |name: &str, body: String| {
        std::fs::File::create(dir.join(name))
            .and_then(|mut f| f.write_all(body.as_bytes()))
            .map_err(|e| CliError::Aborted(format!("cannot write {name}: {e}")))
    };
    write("report.json", report::json::render(&r))?;
    write("report.md", report::markdown::render(&r))?;
    write("junit.xml", report::junit::render(&r))?;
    write("report.html", report::html::render(&r))?;
    let logs: Vec<(String, String)> = r
        .scenarios
        .iter()
        .filter_map(|s| report::hlog::render(s).map(|log| (report::hlog::file_name(s), log)))
        .collect();
    if !logs.is_empty() {
        std::fs::create_dir_all(dir.join(report::hlog::DIR))
            .map_err(|e| CliError::Aborted(format!("cannot create {}/: {e}", report::hlog::DIR)))?;
        for (name, log) in logs {
            write(&format!("{}/{name}", report::hlog::DIR), log)?;
        }
    }
    Ok(r)
}

fn chain(v: &crate::journal::Victim, sep: &str) -> String {
    [
        v.pod.as_ref().map(|p| format!("pod {p}")),
        v.agent.as_ref().map(|a| format!("agent {a}")),
        v.private_ip.as_ref().map(|ip| format!("ip {ip}")),
        Some(format!("instance {}", v.instance)),
        v.asg.as_ref().map(|a| format!("asg {a}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(sep)
}

fn plan(loaded: &[Loaded], seed: u64, backend: &Backend) -> Result<i32, CliError> {
    let sep = if std::io::stdout().is_terminal() {
        " → "
    } else {
        " -> "
    };
    for (i, l) in loaded.iter().enumerate() {
        let resolved = match backend {
            Backend::Sim(profiles) => {
                let mut c = SimCluster::new(
                    &profiles[i],
                    runner::scenario_seed(seed, &l.scenario.name),
                    SIM_EPOCH,
                );
                runtime()?.block_on(runner::dry_run(&mut c, &l.scenario, seed))
            }
            Backend::Aws(aws) => {
                let mut c = aws.cluster.clone();
                aws.rt.block_on(runner::dry_run(&mut c, &l.scenario, seed))
            }
        };
        let victims =
            resolved.map_err(|e| CliError::Aborted(format!("{}: {e}", l.scenario.name)))?;
        println!("{} ({}):", l.scenario.name, l.path.display());
        for v in &victims {
            println!("  would {} {}", l.scenario.fault.as_str(), chain(v, sep));
            if let Some(pod) = &v.pod
                && let Some(action) = l.scenario.heal_action(pod.as_str())
            {
                println!("  then heal with `{action}` ({})", l.scenario.heal.as_str());
            }
        }
    }
    println!("nothing was injected");
    Ok(0)
}
