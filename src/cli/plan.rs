//! `plan`: each scenario's victim chain and heal, resolved against the target; injects nothing.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::backend::Backend;
use super::{CliError, Exit};
use crate::scenario::load_paths;
use crate::vocab::Target;

pub(super) fn plan(
    paths: &[PathBuf],
    target: Target,
    seed: u64,
    profile: Option<&str>,
    dcos_url: Option<String>,
) -> Result<Exit, CliError> {
    let loaded = load_paths(paths)?;
    let backend = Backend::new(target, &loaded, profile, dcos_url)?;
    let sep = if std::io::stdout().is_terminal() {
        " → "
    } else {
        " -> "
    };
    for (i, l) in loaded.iter().enumerate() {
        let victims = backend.victims(i, l, seed)?;
        println!("{} ({}):", l.scenario.name, l.path.display());
        for v in &victims {
            println!("  would {} {}", l.scenario.fault.as_str(), v.chain(sep));
            if let Some(pod) = &v.pod
                && let Some(action) = l.scenario.heal_action(pod.as_str())
            {
                println!("  then heal with `{action}` ({})", l.scenario.heal.as_str());
            }
        }
    }
    println!("nothing was injected");
    Ok(Exit::Pass)
}
