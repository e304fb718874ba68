//! Small hand-made journals for the renderers' unit tests.

use serde_json::json;

use crate::journal::{Event, RunFailure};
use crate::measure::Source;
use crate::scenario::parse_scenario;
use crate::time::{Dur, Timestamp};
use crate::vocab::Phase;

/// A run: its number, its phases as `(phase, ms since the fault, error ms)`, its failures.
pub(crate) struct Run<'a> {
    pub(crate) run: u32,
    pub(crate) phases: &'a [(Phase, u64, u64)],
    pub(crate) failures: &'a [&'a str],
}

/// A finished suite of one scenario (`spec` is its YAML) with the given runs, an hour apart.
pub(crate) fn journal(spec: &str, runs: &[Run<'_>]) -> Vec<Event> {
    let scenario = parse_scenario(std::path::Path::new("s.yaml"), spec.as_bytes())
        .expect("fixture scenarios are valid");
    let name = scenario.name.clone();
    let ev = |v: serde_json::Value| -> Event {
        serde_json::from_value(v).expect("fixture events are valid")
    };
    let mut out = vec![
        ev(json!({
            "event": "suite_started",
            "schema_version": 1,
            "tool_version": "0",
            "target": "sim",
            "simulated": true,
            "seed": 1,
            "wall_clock": "2026-01-01T00:00:00.000Z",
        })),
        ev(json!({
            "event": "scenario_started",
            "scenario": scenario,
            "file": "s.yaml",
            "runs": runs.len(),
        })),
    ];
    for r in runs {
        let t0 = Timestamp::from_millis(
            crate::cluster::sim::EPOCH.as_millis() + i64::from(r.run) * 3_600_000,
        );
        let at = |ms: u64| t0.saturating_add(Dur::from_millis(ms));
        out.push(Event::RunStarted {
            scenario: name.clone(),
            run: r.run,
            at: t0,
        });
        out.push(Event::PhaseObserved {
            scenario: name.clone(),
            run: r.run,
            phase: Phase::FaultInjected,
            at: t0,
            error_ms: 0,
            source: Source::Harness,
        });
        let mut end = 0;
        for &(phase, ms, error_ms) in r.phases {
            end = end.max(ms);
            out.push(Event::PhaseObserved {
                scenario: name.clone(),
                run: r.run,
                phase,
                at: at(ms),
                error_ms,
                source: if error_ms > 1 {
                    Source::PollMesos
                } else {
                    Source::MesosTaskStatus
                },
            });
        }
        out.push(Event::RunFinished {
            scenario: name.clone(),
            run: r.run,
            at: at(end),
            failures: r
                .failures
                .iter()
                .map(|f| RunFailure::from_sentence(f).expect("fixture failures name a phase"))
                .collect(),
            replacements: vec![],
            requests: Default::default(),
        });
    }
    out.push(Event::SuiteFinished {
        wall_clock: Timestamp::from_millis(0),
    });
    out
}
