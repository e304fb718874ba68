//! Integration tests, one binary (one link): the CLI end to end, and the engine in-process.

mod agent_loss;
mod aws_e2e;
mod catalogue;
mod cli;
mod dcos_client;
mod economy;
mod exit_codes;
mod fit;
#[path = "../support/headline.rs"]
mod headline;
mod house;
mod layers;
mod progress;
mod reports;
mod resume;
mod safety;
mod scheduler_outage;
mod seeds;
mod snapshots;
mod truth;
mod validation;
mod verify_truth;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("chaos-harness").expect("binary is built");
    cmd.current_dir(root());
    cmd
}

/// Writes a scenario file into `dir` and returns its path.
pub fn scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, body).unwrap();
    p
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
