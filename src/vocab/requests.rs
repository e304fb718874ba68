//! Request counts per service: what a run cost the cluster's APIs.

use serde::{Deserialize, Serialize};

/// Requests sent, per service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    pub ec2: u64,
    pub autoscaling: u64,
    pub dcos: u64,
}

impl Requests {
    /// What was sent after `earlier` was read.
    pub(crate) fn since(self, earlier: Requests) -> Requests {
        Requests {
            ec2: self.ec2.saturating_sub(earlier.ec2),
            autoscaling: self.autoscaling.saturating_sub(earlier.autoscaling),
            dcos: self.dcos.saturating_sub(earlier.dcos),
        }
    }

    /// The larger count of each service.
    pub(crate) fn max(self, other: Requests) -> Requests {
        Requests {
            ec2: self.ec2.max(other.ec2),
            autoscaling: self.autoscaling.max(other.autoscaling),
            dcos: self.dcos.max(other.dcos),
        }
    }

    /// `(service, count)` in report order.
    pub fn by_service(self) -> [(&'static str, u64); 3] {
        [
            ("ec2", self.ec2),
            ("autoscaling", self.autoscaling),
            ("dcos", self.dcos),
        ]
    }
}
