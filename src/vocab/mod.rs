//! The shared vocabulary: the words every layer uses (DESIGN §2, §3) and that the journal and
//! reports carry — targets, phases, metrics and percentiles, fault kinds, request counts — and
//! the located diagnostics of the YAML inputs. Nothing here depends on any other module of the
//! crate but [`crate::time`].

mod fault;
mod phase;
mod requests;
pub(crate) mod yaml;

pub use fault::FaultKind;
pub use phase::Phase;
pub(crate) use phase::{Metric, Percentile};
pub use requests::Requests;

use serde::{Deserialize, Serialize};

/// Where faults go (DESIGN §2): the built-in simulated cluster or a real AWS + DC/OS one.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The built-in simulated cluster (virtual time, no AWS account needed).
    #[default]
    Sim,
    /// A real AWS + DC/OS cluster.
    Aws,
}

impl Target {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::Aws => "aws",
        }
    }

    /// Whether the figures measured on this target are simulated.
    pub(crate) fn simulated(self) -> bool {
        self == Self::Sim
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn targets_read_and_write_as_their_names() {
        for t in [Target::Sim, Target::Aws] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{t}\""));
            assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
        }
        assert!(serde_json::from_str::<Target>("\"gcp\"").is_err());
    }
}
