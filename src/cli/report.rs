//! `report`: re-render a report folder from its journal (print one format, or rewrite them
//! all), or compare two folders.

use std::path::{Path, PathBuf};

use super::{CliError, CompareFormat, Exit, Format, ReportCommand};
use crate::journal::{self, RunRecord};
use crate::report::folder::{self, FolderError};
use crate::report::{self, Report, compare};

pub(super) fn report(
    dir: Option<PathBuf>,
    format: Format,
    write: bool,
    command: Option<ReportCommand>,
) -> Result<Exit, CliError> {
    if let Some(ReportCommand::Compare {
        old,
        new,
        tolerance,
        format,
    }) = command
    {
        return compare_folders(&old, &new, tolerance, format);
    }
    let dir = dir.expect("clap requires DIR without a subcommand");
    if write {
        let r = folder::write_all(&dir).map_err(invalid_journal)?;
        println!("rewrote the reports in {}", dir.display());
        return Ok(Exit::of_report(&r));
    }
    let r = read(&dir)?;
    print!("{}", render(&r, format));
    Ok(Exit::of_report(&r))
}

fn compare_folders(
    old: &Path,
    new: &Path,
    tolerance: compare::Tolerance,
    format: CompareFormat,
) -> Result<Exit, CliError> {
    let (old_runs, new_runs) = (runs(old)?, runs(new)?);
    let (old, new) = (read(old)?, read(new)?);
    let mut c = compare::compare(&old, &new, tolerance);
    compare::add_distances(&mut c, &old_runs, &new_runs);
    if c.scenarios.is_empty() {
        return Err(CliError::Input(
            "the two reports have no scenario in common; hint: compare runs of the same scenarios"
                .into(),
        ));
    }
    print!(
        "{}",
        match format {
            CompareFormat::Text => compare::render_text(&c),
            CompareFormat::Md => compare::render_markdown(&c),
            CompareFormat::Json => compare::render_json(&c),
        }
    );
    Ok(Exit::of_comparison(&c))
}

/// Every run of a report folder's journal, with all its phases.
fn runs(dir: &Path) -> Result<Vec<RunRecord>, CliError> {
    Ok(journal::runs(&journal::read(dir)?.events))
}

/// Reading a folder the user named: a missing or unreadable journal is bad input.
fn invalid_journal(e: FolderError) -> CliError {
    match e {
        FolderError::Journal(e) => CliError::Journal(e),
        e => CliError::Report(e),
    }
}

/// The report of a report folder, built from its journal (a torn last line is warned of).
pub(super) fn read(dir: &Path) -> Result<Report, CliError> {
    let r = folder::read(dir).map_err(invalid_journal)?;
    if r.journal_torn_tail {
        eprintln!(
            "warning: the journal's last line in {} is torn (the writer was cut off); it was ignored",
            dir.display()
        );
    }
    Ok(r)
}

fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Text => super::run::summary(r),
        Format::Json => report::json::render(r),
        Format::Md => report::markdown::render(r),
        Format::Junit => report::junit::render(r),
        Format::Html => report::html::render(r),
    }
}
