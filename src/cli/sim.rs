//! `sim serve`: the simulated cluster over the real EC2, Auto Scaling and DC/OS wire
//! protocols, until Ctrl-C, SIGTERM or its lifetime ends.

use std::io::Write;

use super::{CliError, Exit, SimCommand};
use crate::cluster::jwt::VerifyingKey;
use crate::cluster::sim::Profile;
use crate::sim_server::{ServeConfig, SimService};
use crate::time::Dur;

pub(super) fn sim(command: SimCommand) -> Result<Exit, CliError> {
    let SimCommand::Serve {
        listen,
        profile,
        seed,
        truth_log,
        token,
        lifetime,
        service_accounts,
        token_lifetime,
    } = command;
    let loaded = Profile::load(&profile).map_err(CliError::Profile)?;
    if let Some(label) = loaded.prediction() {
        // The harness sees only the AWS and DC/OS APIs here, as on a real cluster: a suite
        // run with `--target aws` against this server cannot know it is a prediction.
        eprintln!(
            "note: profile {profile} is a model fitted to runs ({label}); suites run against this server with `--target aws` are model-based predictions too, but their reports cannot say so (they see only the AWS and DC/OS APIs); for labelled predictions run `chaos-harness run --target sim --profile {profile}`"
        );
    }
    let profile = loaded;
    let cfg = ServeConfig {
        seed,
        token,
        truth_log,
        lifetime: lifetime.map(Dur::to_std),
        service_accounts: service_accounts
            .iter()
            .map(|a| service_account(a))
            .collect::<Result<_, _>>()?,
        token_lifetime,
        ..ServeConfig::new(profile)
    };
    serve(&listen, cfg)
}

/// `UID=FILE`: the account's uid and its public key's PEM file.
fn service_account(arg: &str) -> Result<(String, VerifyingKey), CliError> {
    let bad = |m: String| CliError::Input(format!("error: --service-account {arg}: {m}"));
    let (uid, file) = arg
        .split_once('=')
        .filter(|(u, f)| !u.is_empty() && !f.is_empty())
        .ok_or_else(|| bad("hint: write UID=PUBLIC_KEY_FILE".into()))?;
    let pem = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    Ok((uid.to_string(), VerifyingKey::from_pem(&pem).map_err(bad)?))
}

/// Binds, prints `listening on http://ADDR`, serves until interrupted.
fn serve(listen: &str, cfg: ServeConfig) -> Result<Exit, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Environment(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let service = SimService::new(cfg).map_err(|e| CliError::Input(format!("error: {e}")))?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            CliError::Input(format!(
                "error: cannot listen on {listen}: {e}; hint: `--listen 127.0.0.1:0` picks a free port"
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Environment(e.to_string()))?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{addr}");
            let _ = out.flush();
        }
        service
            .serve(listener, super::run::interrupted())
            .await
            .map_err(|e| CliError::Environment(e.to_string()))?;
        Ok(Exit::Pass)
    })
}
