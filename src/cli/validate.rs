//! `validate`: parse and check scenario files (and the profiles they name); no cluster call.

use std::path::PathBuf;

use super::backend::sim_profile;
use super::{CliError, Exit};
use crate::scenario::load_paths;

pub(super) fn validate(paths: &[PathBuf]) -> Result<Exit, CliError> {
    let loaded = load_paths(paths)?;
    for l in &loaded {
        sim_profile(l, None)?;
    }
    println!(
        "{} scenario{} valid",
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" }
    );
    Ok(Exit::Pass)
}
