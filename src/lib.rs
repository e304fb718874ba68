//! chaos-harness: measured chaos drills for services on DC/OS on AWS.
//!
//! The pipeline: scenario files ([`scenario`]) → the runner ([`runner`]) driving a
//! [`cluster::Cluster`] backend → typed events appended to the journal ([`journal`]) →
//! measurements ([`measure`]) → reports ([`report`]).

pub mod cli;
pub mod cluster;
pub mod journal;
pub mod measure;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod time;
