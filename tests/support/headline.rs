//! The two headline metrics of every run, in ms from the fault, kept as the journal's events
//! stream by: shared by `tests/it` and the benches that judge a suite by them (`coverage`,
//! `fit_roundtrip`), included with `#[path]`.

use chaos_harness::journal::{Event, Sink};
use chaos_harness::time::Timestamp;
use chaos_harness::vocab::Phase;

/// Each headline metric's name and the phase that ends it (both start at the fault).
pub const METRICS: [(&str, Phase); 2] = [
    ("time_to_asg_replacement", Phase::ReplacementInService),
    ("time_to_cassandra_running", Phase::TaskRunning),
];

/// Keeps only each run's two headline metrics, in ms, in the order of [`METRICS`].
#[derive(Default)]
pub struct Headline {
    fault: Option<Timestamp>,
    pub values: [Vec<u64>; 2],
}

impl Sink for Headline {
    fn emit(&mut self, e: &Event) -> std::io::Result<()> {
        if let Event::PhaseObserved { phase, at, .. } = e {
            if *phase == Phase::FaultInjected {
                self.fault = Some(*at);
            }
            for (i, (_, p)) in METRICS.iter().enumerate() {
                if phase == p
                    && let Some(f) = self.fault
                {
                    self.values[i].push(at.since(f).as_millis());
                }
            }
        }
        Ok(())
    }
}
