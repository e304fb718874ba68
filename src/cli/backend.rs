//! Where faults go, ready to use: the simulated cluster's profiles, or the real cluster's
//! clients and the runtime they were built on. Everything checkable is checked here, before
//! any cluster is touched.

use std::io::IsTerminal;
use std::path::Path;

use super::CliError;
use crate::cluster::aws::dcos::ProcessEnv;
use crate::cluster::aws::{AwsClients, AwsCluster, DcosClient, DcosConfig};
use crate::cluster::sim::{Profile, ProfileError, SimCluster};
use crate::journal::Victim;
use crate::runner::{self, scenario_seed};
use crate::scenario::parse::{Loaded, diagnose_at};
use crate::vocab::Target;

pub(super) enum Backend {
    /// One profile per scenario.
    Sim(Vec<Profile>),
    Aws(Box<AwsBackend>),
}

/// The real cluster and the runtime its clients were built on.
pub(super) struct AwsBackend {
    pub(super) dcos: Option<DcosConfig>,
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) cluster: AwsCluster,
}

impl Backend {
    /// Checks everything that can be checked before touching a cluster.
    pub(super) fn new(
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
                    return Err(CliError::Input(
                        "error: --profile describes the simulated cluster; hint: drop it with --target aws".into(),
                    ));
                }
                let needs_dcos = loaded.iter().any(|l| l.scenario.service.is_some());
                let dcos = match DcosConfig::resolve(&ProcessEnv, dcos_url, None) {
                    Ok(c) => Some(c),
                    Err(e) if needs_dcos => return Err(e.into()),
                    Err(_) => None,
                };
                let client = dcos.as_ref().map(DcosClient::new).transpose()?;
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

    /// The victims the `i`-th scenario would hit now; injects nothing.
    pub(super) fn victims(&self, i: usize, l: &Loaded, seed: u64) -> Result<Vec<Victim>, CliError> {
        let resolved = match self {
            Self::Sim(profiles) => {
                let mut c =
                    SimCluster::at_epoch(&profiles[i], scenario_seed(seed, &l.scenario.name));
                runtime()?.block_on(runner::dry_run(&mut c, &l.scenario, seed))
            }
            Self::Aws(aws) => {
                let mut c = aws.cluster.clone();
                aws.rt.block_on(runner::dry_run(&mut c, &l.scenario, seed))
            }
        };
        resolved.map_err(|source| CliError::Unresolved {
            scenario: l.scenario.name.clone(),
            source,
        })
    }

    /// Against a real cluster nothing is injected without `--yes` or a typed confirmation
    /// that names the instances. Without a terminal to ask on, refuse, having touched nothing.
    pub(super) fn confirm(&self, loaded: &[Loaded], seed: u64) -> Result<(), CliError> {
        let Self::Aws(aws) = self else {
            return Ok(());
        };
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Refused(
                "refusing to inject into a real cluster without --yes (no terminal to confirm on); nothing was touched".into(),
            ));
        }
        if let Some(d) = &aws.dcos {
            eprintln!("DC/OS: {} (from {})", d.url, d.origin);
        }
        for (i, l) in loaded.iter().enumerate() {
            for v in &self.victims(i, l, seed)? {
                eprintln!(
                    "{}: would {} {}",
                    l.scenario.name,
                    l.scenario.fault.as_str(),
                    v.chain(" -> ")
                );
            }
        }
        eprint!("type `yes` to inject these faults: ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::Environment(format!("cannot read the confirmation: {e}")))?;
        if answer.trim() == "yes" {
            Ok(())
        } else {
            Err(CliError::Refused(
                "not confirmed; nothing was touched".into(),
            ))
        }
    }

    /// Runs `f` on the backend's runtime (a fresh one for the simulator).
    pub(super) fn block_on<T>(
        &self,
        f: impl std::future::Future<Output = T>,
    ) -> Result<T, CliError> {
        Ok(match self {
            Self::Sim(_) => runtime()?.block_on(f),
            Self::Aws(aws) => aws.rt.block_on(f),
        })
    }
}

/// A single-threaded runtime: the runner drives one backend on one task.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Environment(format!("cannot start the async runtime: {e}")))
}

/// The simulated cluster a scenario runs on: `--profile`, else the scenario's `profile`
/// (relative to its file), else the default. A service or target pod the profile lacks is
/// invalid input, located in the scenario file.
pub(super) fn sim_profile(l: &Loaded, flag: Option<&str>) -> Result<Profile, CliError> {
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
                CliError::Scenario(diagnose_at(&l.path, &["profile"], &e.to_string()))
            }
            // Otherwise the profile's own located problems (or a bad --profile flag).
            _ => CliError::Profile(e),
        })?,
        None => Profile::default_profile(),
    };
    check_against_profile(l, &profile, name.as_deref().unwrap_or("default"))?;
    Ok(profile)
}

/// The scenario's service and target pod must exist in the simulated cluster.
fn check_against_profile(l: &Loaded, profile: &Profile, name: &str) -> Result<(), CliError> {
    let Some(svc) = &l.scenario.service else {
        return Ok(());
    };
    if svc.name != profile.topology.service {
        return Err(CliError::Scenario(diagnose_at(
            &l.path,
            &["service", "name"],
            &format!(
                "service `{}` does not exist in the simulated cluster (profile {name}); hint: the profile runs `{}`",
                svc.name, profile.topology.service
            ),
        )));
    }
    let pods: Vec<String> = (0..profile.topology.pods)
        .map(|i| format!("node-{i}"))
        .collect();
    match &l.scenario.target.pod {
        Some(pod) if !pods.iter().any(|p| p == pod) => Err(CliError::Scenario(diagnose_at(
            &l.path,
            &["target", "pod"],
            &format!(
                "pod `{pod}` does not exist in the simulated cluster (profile {name}); hint: it has {}",
                pods.join(", ")
            ),
        ))),
        _ => Ok(()),
    }
}
