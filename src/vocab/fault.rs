//! The faults the harness can inject.

use serde::{Deserialize, Serialize};

/// What to do to the victim instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// EC2 `TerminateInstances`: the ASG replaces the instance.
    TerminateInstance,
    /// EC2 `StopInstances`: a stopped instance is unhealthy; the ASG replaces it.
    StopInstance,
    /// EC2 `RebootInstances`: the instance stays `running`; no replacement is expected.
    RebootInstance,
}

impl FaultKind {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::TerminateInstance => "terminate-instance",
            Self::StopInstance => "stop-instance",
            Self::RebootInstance => "reboot-instance",
        }
    }

    /// Whether the EC2 instance leaves `running` (and so the ASG replaces it).
    pub(crate) const fn leaves_running(self) -> bool {
        !matches!(self, Self::RebootInstance)
    }
}
