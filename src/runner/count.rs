//! The runs of a scenario counted from the events they emit, for `until: decided`: the same
//! fold reads the journal of an interrupted suite (what its finished runs showed) and the
//! events of the runs as they are made, so a resumed scenario stops where an uninterrupted
//! one would.

use crate::journal::{Event, Sink};
use crate::measure::Observed;
use crate::measure::decided::Tally;
use crate::vocab::Phase;

/// One scenario's finished runs, folded from its events.
#[derive(Clone, Debug)]
pub(crate) struct Counter {
    scenario: String,
    /// The phases of the run in progress.
    open: Vec<(Phase, Observed)>,
    pub(crate) tally: Tally,
}

impl Counter {
    pub(crate) fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_string(),
            open: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Folds one event in: a finished run's phases are counted; a run cut short never is.
    pub(crate) fn see(&mut self, e: &Event) {
        match e {
            Event::RunStarted { scenario, .. } if *scenario == self.scenario => self.open.clear(),
            Event::PhaseObserved {
                scenario,
                phase,
                at,
                error_ms,
                source,
                ..
            } if *scenario == self.scenario => self.open.push((
                *phase,
                Observed {
                    at: *at,
                    error_ms: *error_ms,
                    source: *source,
                },
            )),
            Event::RunFinished { scenario, .. } if *scenario == self.scenario => {
                let open = std::mem::take(&mut self.open);
                self.tally
                    .record(|p| open.iter().find(|(q, _)| *q == p).map(|(_, o)| *o));
            }
            _ => {}
        }
    }
}

/// Passes every event on to `inner`, counting the scenario's runs on the way.
pub(crate) struct Counting<'a> {
    pub(crate) counter: Counter,
    pub(crate) inner: &'a mut dyn Sink,
}

impl Sink for Counting<'_> {
    fn emit(&mut self, e: &Event) -> std::io::Result<()> {
        self.counter.see(e);
        self.inner.emit(e)
    }
}
