//! Arbitrary bytes as a scenario file: parsing and validation never panic or hang, every
//! diagnostic renders, and a scenario that is accepted survives the JSON round trip the
//! journal puts it through (so `run --resume` reads back exactly what was run).

#![no_main]

use std::path::Path;

use chaos_harness::scenario::{Scenario, parse_scenario};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_scenario(Path::new("fuzz.yaml"), data) {
        Ok(scenario) => {
            let json = serde_json::to_string(&scenario).expect("a scenario serialises");
            let back: Scenario = serde_json::from_str(&json).expect("and reads back");
            assert_eq!(back, scenario, "the JSON round trip changed the scenario: {json}");
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "a refusal names a problem");
            for d in diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "{d:?}");
                let text = d.to_string();
                assert!(text.starts_with("error: fuzz.yaml:"), "{text}");
            }
        }
    }
});
