//! The command line (DESIGN §5): argument parsing and the glue from a subcommand to the
//! library. Every failure maps to a documented exit code in [`CliError::exit_code`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::cluster::Cluster;
use crate::cluster::aws::dcos::ProcessEnv;
use crate::cluster::aws::{AwsClients, AwsCluster, DcosClient, DcosConfig};
use crate::cluster::sim::{Profile, SimCluster};
use crate::journal::{self, Event, JournalWriter, SCHEMA_VERSION, Sink};
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
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
        /// Print only the verdict line.
        #[arg(long, short)]
        quiet: bool,
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
    /// Re-render the report of a report folder from its journal alone.
    Report {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Md,
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
            let profile =
                Profile::load(&profile).map_err(|e| CliError::Invalid(format!("error: {e}")))?;
            let cfg = ServeConfig {
                profile,
                seed,
                token,
                truth_log,
                lifetime: lifetime.map(Dur::to_std),
            };
            sim_serve(&listen, cfg)
        }
        Command::Report { dir, format } => {
            let read = journal::read(&dir).map_err(|e| CliError::Invalid(e.to_string()))?;
            if read.torn_tail {
                eprintln!(
                    "warning: the journal's last line is torn (the writer was cut off); it was ignored"
                );
            }
            let r = report::build(&read.events, read.torn_tail);
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
            target,
            runs,
            seed,
            out,
            profile,
            yes,
            dcos_url,
            quiet,
        } => {
            let loaded = load_paths(&paths)?;
            let backend = Backend::new(target, &loaded, profile.as_deref(), dcos_url)?;
            let seed = seed.unwrap_or_else(|| Timestamp::now().as_millis() as u64);
            let out = out.unwrap_or_else(|| default_out(&paths, &loaded));
            if out.join(journal::JOURNAL_FILE).exists() {
                return Err(CliError::Invalid(format!(
                    "{} already holds a journal; hint: choose another --out folder",
                    out.display()
                )));
            }
            if !yes {
                confirm(&backend, &loaded, seed)?;
            }
            let report = execute(&loaded, &backend, runs, seed, &out)?;
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

    fn target(&self) -> &'static str {
        match self {
            Self::Sim(_) => "sim",
            Self::Aws(_) => "aws",
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
        Some(n) => Profile::load(n).map_err(|e| match flag {
            Some(_) => CliError::Invalid(format!("error: {e}")),
            None => {
                CliError::Invalid(diagnose_at(&l.path, &["profile"], &e.to_string()).to_string())
            }
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
    loaded: &[Loaded],
    backend: &Backend,
    runs: Option<u32>,
    seed: u64,
    out: &Path,
) -> Result<Report, CliError> {
    let io = |e: std::io::Error| CliError::Aborted(format!("cannot write {}: {e}", out.display()));
    let mut journal = JournalWriter::open(out).map_err(io)?;
    let stop = StopFlag::default();
    let result = match backend {
        Backend::Sim(_) => {
            runtime()?.block_on(on_backend(loaded, backend, runs, seed, &mut journal, stop))
        }
        Backend::Aws(aws) => {
            aws.rt
                .block_on(on_backend(loaded, backend, runs, seed, &mut journal, stop))
        }
    };
    if let Err(e) = &result {
        eprintln!("aborted: {e}");
    }
    let report = write_reports(out)?;
    Ok(report)
}

/// Runs the suite on the backend, with Ctrl-C / SIGTERM raising the stop flag.
async fn on_backend(
    loaded: &[Loaded],
    backend: &Backend,
    runs: Option<u32>,
    seed: u64,
    journal: &mut JournalWriter,
    stop: StopFlag,
) -> Result<(), RunError> {
    let watcher = tokio::spawn(watch_signals(stop.clone()));
    let target = backend.target();
    let r = match backend {
        Backend::Sim(profiles) => {
            let make = |i: usize, l: &Loaded| {
                SimCluster::new(
                    &profiles[i],
                    runner::scenario_seed(seed, &l.scenario.name),
                    SIM_EPOCH,
                )
            };
            suite(loaded, runs, seed, target, true, make, journal, &stop).await
        }
        Backend::Aws(aws) => {
            let make = |_: usize, _: &Loaded| aws.cluster.clone();
            suite(loaded, runs, seed, target, false, make, journal, &stop).await
        }
    };
    watcher.abort();
    r
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site per backend, all named"
)]
async fn suite<C: Cluster>(
    loaded: &[Loaded],
    runs: Option<u32>,
    seed: u64,
    target: &str,
    simulated: bool,
    mut make: impl FnMut(usize, &Loaded) -> C,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> Result<(), RunError> {
    sink.emit(&Event::SuiteStarted {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        target: target.into(),
        simulated,
        seed,
        wall_clock: Timestamp::now(),
    })?;
    for (i, l) in loaded.iter().enumerate() {
        let runs = runs.unwrap_or(l.scenario.runs);
        sink.emit(&Event::ScenarioStarted {
            scenario: Box::new(l.scenario.clone()),
            file: l.path.display().to_string(),
            runs,
        })?;
        let mut cluster = make(i, l);
        runner::run_scenario(&mut cluster, &l.scenario, runs, seed, sink, stop).await?;
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

/// Renders `report.json` and `report.md` from the journal in `dir`.
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
