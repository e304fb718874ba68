//! Every exit code of the binary, decided here (DESIGN §5), and the one error type of the
//! command line with its typed causes.

use crate::cluster::aws::dcos::ConfigError;
use crate::cluster::sim::ProfileError;
use crate::journal::ReadError;
use crate::measure::Verdict;
use crate::report::Report;
use crate::report::compare::Comparison;
use crate::report::folder::FolderError;
use crate::runner::RunError;
use crate::scenario::LoadError;

/// The documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every SLO and expectation met (or the command did what it was asked).
    Pass = 0,
    /// An SLO or expectation failed, a comparison found a regression, a truth lay outside
    /// its bound.
    Fail = 1,
    /// Invalid input (scenario, profile, flag, folder): nothing was touched.
    Invalid = 2,
    /// Too few runs, or error bounds straddle a threshold.
    Inconclusive = 3,
    /// Preflight refused, a safety guard, interrupted, an unrecoverable API error.
    Aborted = 4,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The exit of a suite's report: aborted, else its verdict.
    pub(crate) fn of_report(r: &Report) -> Self {
        if r.aborted.is_some() {
            return Self::Aborted;
        }
        match r.verdict {
            Verdict::Pass => Self::Pass,
            Verdict::Fail => Self::Fail,
            Verdict::Inconclusive => Self::Inconclusive,
        }
    }

    /// `report compare`: a regression fails.
    pub(crate) fn of_comparison(c: &Comparison) -> Self {
        Self::pass_if(c.regressions == 0)
    }

    /// Pass when `ok`, else fail.
    pub(crate) fn pass_if(ok: bool) -> Self {
        if ok { Self::Pass } else { Self::Fail }
    }
}

/// A command that could not do its job, by cause.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A scenario that does not parse or validate (located diagnostics).
    #[error(transparent)]
    Scenario(#[from] LoadError),
    /// A simulated-cluster profile that cannot be read or is invalid.
    #[error("{}", .0.render())]
    Profile(ProfileError),
    /// A report folder whose journal cannot be read.
    #[error(transparent)]
    Journal(#[from] ReadError),
    /// The DC/OS configuration for `--target aws` is missing or wrong.
    #[error("error: {0}")]
    Dcos(#[from] ConfigError),
    /// Any other bad input: a flag, a folder, a file; the message carries its hint.
    #[error("{0}")]
    Input(String),
    /// Nothing was injected because it was not confirmed (or could not be).
    #[error("{0}")]
    Refused(String),
    /// A scenario's victims could not be resolved before anything was injected.
    #[error("{scenario}: {source}; nothing was touched")]
    Unresolved { scenario: String, source: RunError },
    /// The report folder could not be written after the suite.
    #[error(transparent)]
    Report(#[from] FolderError),
    /// The machine would not let the tool work (no runtime, no socket, no terminal read).
    #[error("error: {0}")]
    Environment(String),
}

impl CliError {
    /// The exit code of this failure.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Scenario(_)
            | Self::Profile(_)
            | Self::Journal(_)
            | Self::Dcos(_)
            | Self::Input(_) => Exit::Invalid,
            Self::Refused(_) | Self::Unresolved { .. } | Self::Report(_) | Self::Environment(_) => {
                Exit::Aborted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_two_and_a_refusal_four() {
        let input = CliError::Input("no".into());
        assert_eq!(input.exit().code(), 2);
        assert_eq!(CliError::Refused("no".into()).exit().code(), 4);
        let unresolved = CliError::Unresolved {
            scenario: "s".into(),
            source: RunError::Interrupted,
        };
        assert_eq!(unresolved.exit().code(), 4);
        assert_eq!(Exit::pass_if(false).code(), 1);
        assert_eq!(Exit::Inconclusive.code(), 3);
    }
}
