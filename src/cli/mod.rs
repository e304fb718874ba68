//! The command line (DESIGN §5): the arguments, and one file per subcommand gluing it to the
//! library. Every exit code is decided in [`exit`].

mod backend;
mod completions;
pub mod exit;
mod plan;
mod profile;
mod report;
mod run;
mod sim;
mod validate;
mod verify_truth;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::time::Dur;
use crate::vocab::Target;

pub use exit::{CliError, Exit};

/// Measured chaos drills for services on DC/OS on AWS: kill a node, heal it as an operator
/// would, time every phase of the recovery, judge the SLOs.
#[derive(Debug, Parser)]
#[command(name = "chaos-harness", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run scenarios (files or folders) and write the journal and reports.
    Run(Box<RunArgs>),
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
    /// Print a shell completion script for the given shell (e.g. `chaos-harness completions
    /// bash > /etc/bash_completion.d/chaos-harness`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `chaos-harness man | man -l -`; with `--out DIR`,
    /// write one page per command there.
    Man {
        /// Folder to write `chaos-harness.1` and `chaos-harness-<command>.1` into.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The simulated cluster on its own.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// Simulated-cluster profiles.
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Fit the simulated cluster's step distributions to the phases of recorded suites and
    /// write them as a profile.
    ///
    /// Reads the journals of REPORT_DIRs (real `--target aws` suites; `sim` ones for a round
    /// trip, not both), takes every run of a terminate-instance scenario with one victim, and
    /// fits each step (ASG detect and InService, agent loss, registration, task loss, replace
    /// to RUNNING, recovery) by maximum likelihood, honouring each phase's error bound and runs
    /// that ended before a phase. Prints the fit per step with its Kolmogorov–Smirnov distance
    /// and warns where the values are few. A suite run on the profile (`run --target sim
    /// --profile FILE`) is labelled a model-based prediction in every report. Exit 0, or 2 on
    /// bad input.
    Fit {
        /// Report folders (each holding `journal.jsonl`).
        #[arg(required = true, value_name = "REPORT_DIR")]
        dirs: Vec<PathBuf>,
        /// The profile file to write.
        #[arg(long, value_name = "FILE.yaml")]
        out: PathBuf,
        /// The profile the fit starts from: its topology, behaviour and the steps no phase
        /// shows (a built-in name or a file).
        #[arg(long, value_name = "NAME|FILE", default_value = "default")]
        base: String,
    },
}

/// `run`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario files or folders of them.
    #[arg(required_unless_present = "resume")]
    pub(crate) paths: Vec<PathBuf>,
    /// Finish the interrupted suite whose report folder this is: finished runs are kept,
    /// the interrupted one is redone, the rest run.
    #[arg(long, conflicts_with_all = ["paths", "out", "seed", "runs", "profile", "until_decided"])]
    pub(crate) resume: Option<PathBuf>,
    /// Where faults go.
    #[arg(long, value_enum, default_value_t = Target::Sim)]
    pub(crate) target: Target,
    /// Override every scenario's run count (with --until-decided or `until: decided`: the
    /// most runs).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) runs: Option<u32>,
    /// Stop each scenario as soon as every SLO is decided (as `runs: {max: N, until:
    /// decided}`), judged on intervals valid however often they are looked at; the run count
    /// is the most runs.
    #[arg(long)]
    pub(crate) until_decided: bool,
    /// Seed for victim choice and the simulated cluster (default: from the clock; printed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Report folder (default: reports/<UTC time>-<suite>/).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Simulated cluster profile for every scenario: a built-in name or a YAML file.
    #[arg(long)]
    pub(crate) profile: Option<String>,
    /// Inject without asking (with --target aws, the alternative is an interactive
    /// confirmation that names the instances).
    #[arg(long)]
    pub(crate) yes: bool,
    /// DC/OS URL for --target aws (else DCOS_URL, else the DC/OS CLI's attached cluster).
    #[arg(long)]
    pub(crate) dcos_url: Option<String>,
    /// Print only the verdict line (and warnings).
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Log every phase, victim and API error ridden out, one line each on stderr, also on
    /// a terminal (instead of the progress bar). `RUST_LOG` overrides the level.
    #[arg(long, short, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SimCommand {
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
        /// Accept service-account logins of UID, verified with the RSA public key in FILE
        /// (`PUBLIC KEY` PEM); repeatable. A `{uid, token}` login of anyone else is refused.
        #[arg(long = "service-account", value_name = "UID=FILE")]
        service_accounts: Vec<String>,
        /// Tokens issued by a login expire this long after it, e.g. `15s` (their `exp` claim
        /// says when); the `--token` itself never does.
        #[arg(long, value_name = "DURATION")]
        token_lifetime: Option<Dur>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
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
        tolerance: crate::report::compare::Tolerance,
        /// What to print: a table, Markdown (for a pull request or job summary) or JSON.
        #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
        format: CompareFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
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
pub(crate) enum CompareFormat {
    Text,
    Md,
    Json,
}

/// Runs the parsed command; returns how the process exits.
pub fn main(cli: Cli) -> Result<Exit, CliError> {
    match cli.command {
        Command::Validate { paths } => validate::validate(&paths),
        Command::Schema => {
            println!("{}", crate::scenario::schema_json());
            Ok(Exit::Pass)
        }
        Command::Completions { shell } => completions::completions(shell),
        Command::Man { out } => completions::man(out.as_deref()),
        Command::VerifyTruth {
            report_dir,
            truth_log,
            json,
        } => verify_truth::verify_truth(&report_dir, &truth_log, json),
        Command::Sim { command } => sim::sim(command),
        Command::Profile {
            command: ProfileCommand::Fit { dirs, out, base },
        } => profile::fit(&dirs, &out, &base),
        Command::Report {
            dir,
            format,
            write,
            command,
        } => report::report(dir, format, write, command),
        Command::Plan {
            paths,
            target,
            seed,
            profile,
            dcos_url,
        } => plan::plan(&paths, target, seed, profile.as_deref(), dcos_url),
        Command::Run(args) => run::run(*args),
    }
}
