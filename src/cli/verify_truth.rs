//! `verify-truth`: a suite's measurements against the simulator's ground truth.

use std::path::Path;

use super::{CliError, Exit};
use crate::journal;
use crate::verify;

pub(super) fn verify_truth(
    report_dir: &Path,
    truth_log: &Path,
    json: bool,
) -> Result<Exit, CliError> {
    let journal = journal::read(report_dir)?;
    let truth = verify::read_truth(truth_log).map_err(CliError::Input)?;
    let acc = verify::check(&journal.events, &truth);
    if acc.checks.is_empty() {
        return Err(CliError::Input(format!(
            "no reported phase of {} matches an event of {}; hint: pass the truth log of the `sim serve` the suite ran against",
            report_dir.display(),
            truth_log.display()
        )));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&acc).expect("checks serialize")
        );
    } else {
        print!("{}", acc.render());
    }
    Ok(Exit::pass_if(acc.all_inside()))
}
