//! `completions` and `man`: generated from the clap definitions, so they never drift.

use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CliError, Exit};

pub(super) fn completions(shell: clap_complete::Shell) -> Result<Exit, CliError> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "chaos-harness", &mut std::io::stdout());
    Ok(Exit::Pass)
}

/// The man page of `chaos-harness` on stdout, or with `out`, one page per command written
/// there (`chaos-harness.1`, `chaos-harness-run.1`, …).
pub(super) fn man(out: Option<&Path>) -> Result<Exit, CliError> {
    let cmd = Cli::command();
    let Some(dir) = out else {
        render(cmd, &mut std::io::stdout().lock())?;
        return Ok(Exit::Pass);
    };
    let pages = std::iter::once(cmd.clone()).chain(
        cmd.get_subcommands()
            .map(|s| s.clone().name(format!("chaos-harness-{}", s.get_name()))),
    );
    for page in pages {
        let path = dir.join(format!("{}.1", page.get_name()));
        let mut f = std::fs::File::create(&path).map_err(|e| {
            CliError::Input(format!(
                "error: cannot write {}: {e}; hint: --out names an existing folder",
                path.display()
            ))
        })?;
        render(page, &mut f)?;
    }
    Ok(Exit::Pass)
}

fn render(cmd: clap::Command, out: &mut dyn std::io::Write) -> Result<(), CliError> {
    clap_mangen::Man::new(cmd)
        .render(out)
        .map_err(|e| CliError::Environment(format!("cannot write the man page: {e}")))
}
