//! `profile fit`: fit the simulated cluster's steps to recorded suites, write the profile.

use std::path::{Path, PathBuf};

use super::{CliError, Exit};
use crate::cluster::sim::Profile;
use crate::fit::{FitError, fit_reports};

pub(super) fn fit(dirs: &[PathBuf], out: &Path, base: &str) -> Result<Exit, CliError> {
    let outcome = fit_reports(dirs, base).map_err(|e| match e {
        FitError::Journal(e) => CliError::Journal(e),
        FitError::Input(m) => CliError::Input(format!("error: {m}")),
    })?;
    // The written profile must load as any other: checked before it is written.
    Profile::parse(&outcome.yaml, &out.display().to_string()).map_err(CliError::Profile)?;
    std::fs::write(out, &outcome.yaml)
        .map_err(|e| CliError::Input(format!("error: cannot write {}: {e}", out.display())))?;
    print!("{}", outcome.render(out));
    Ok(Exit::Pass)
}
