//! chaos-harness: measured chaos drills for services on DC/OS on AWS.
//!
//! The pipeline: scenario files ([`scenario`]) → the runner ([`runner`]) driving a
//! [`cluster::Cluster`] backend → typed events appended to the journal ([`journal`]) →
//! measurements ([`measure`]) → reports ([`report`]). [`sim_server`] serves the simulated
//! cluster over the real AWS and DC/OS wire protocols, for the `aws` backend's end-to-end tests.

pub mod cli;
pub mod cluster;
pub mod fit;
pub mod journal;
pub mod measure;
pub mod progress;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sim_server;
pub mod time;
pub mod verify;
pub mod vocab;
