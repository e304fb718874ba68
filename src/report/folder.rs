//! The report folder: its journal read back into a [`Report`], and every report file rendered
//! from it (`report.json`, `report.md`, `junit.xml`, `report.html`, `histograms/*.hlog`).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Builder, Report, hlog, html, json, junit, markdown};
use crate::journal::{self, ReadError};

/// A report folder that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The journal is missing or unreadable: the folder is not a report folder (bad input).
    #[error(transparent)]
    Journal(#[from] ReadError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The report of the folder `dir`, built from its journal alone, one event at a time. A torn
/// last line is left out and flagged in [`Report::journal_torn_tail`].
pub(crate) fn read(dir: &Path) -> Result<Report, FolderError> {
    let mut b = Builder::new(false);
    let mut events = journal::Events::open(dir)?;
    for e in events.by_ref() {
        b.on(&e?);
    }
    b.report.journal_torn_tail = events.torn_tail;
    Ok(b.finish())
}

/// Renders every report file of `dir` from its journal; returns the report.
pub fn write_all(dir: &Path) -> Result<Report, FolderError> {
    let r = read(dir)?;
    write(dir, &r)?;
    Ok(r)
}

/// Renders every report file of `r` into `dir`.
pub(crate) fn write(dir: &Path, r: &Report) -> Result<(), FolderError> {
    let write = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(body.as_bytes()))
            .map_err(|source| FolderError::Write { path, source })
    };
    write("report.json", &json::render(r))?;
    write("report.md", &markdown::render(r))?;
    write("junit.xml", &junit::render(r))?;
    write("report.html", &html::render(r))?;
    let logs: Vec<(String, String)> = r
        .scenarios
        .iter()
        .filter_map(|s| hlog::render(s).map(|log| (hlog::file_name(s), log)))
        .collect();
    if !logs.is_empty() {
        let hist = dir.join(hlog::DIR);
        std::fs::create_dir_all(&hist).map_err(|source| FolderError::Write {
            path: hist.clone(),
            source,
        })?;
        for (name, log) in logs {
            write(&format!("{}/{name}", hlog::DIR), &log)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_a_journal_is_a_journal_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read(dir.path()), Err(FolderError::Journal(_))));
    }

    #[test]
    fn every_report_file_is_written_from_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/example/journal.jsonl"),
            dir.path().join(journal::JOURNAL_FILE),
        )
        .unwrap();
        let r = write_all(dir.path()).unwrap();
        for f in ["report.json", "report.md", "junit.xml", "report.html"] {
            assert!(dir.path().join(f).is_file(), "{f} missing");
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("report.json")).unwrap(),
            json::render(&r)
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join(hlog::DIR))
                .unwrap()
                .count(),
            r.scenarios.iter().filter_map(hlog::render).count()
        );
    }
}
