//! The terminal summary: one table of the headline figures and the verdicts.

use comfy_table::{Cell, ContentArrangement, Table, presets};

use super::Report;
use crate::time::Dur;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            "scenario", "metric", "runs", "p50", "p90", "p99", "max", "verdict",
        ]);
    for s in &r.scenarios {
        let mut first = true;
        for (m, x) in &s.metrics {
            let slo = s
                .slos
                .iter()
                .filter(|slo| slo.metric == *m)
                .map(|slo| format!("{} {}", slo.percentile, slo.verdict))
                .collect::<Vec<_>>()
                .join(", ");
            table.add_row([
                Cell::new(if first { s.name.as_str() } else { "" }),
                Cell::new(m.as_str()),
                Cell::new(x.count),
                Cell::new(Dur::from_millis(x.p50).human()),
                Cell::new(Dur::from_millis(x.p90).human()),
                Cell::new(Dur::from_millis(x.p99).human()),
                Cell::new(Dur::from_millis(x.max).human()),
                Cell::new(slo),
            ]);
            first = false;
        }
        if first {
            table.add_row([
                Cell::new(s.name.as_str()),
                Cell::new("(no metric measured)"),
                Cell::new(0),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
            ]);
        }
    }
    out.push_str(&table.to_string());
    out.push('\n');
    for s in &r.scenarios {
        out.push_str(&format!(
            "{}: {} ({} of {} runs finished, {} failed)\n",
            s.name, s.verdict, s.runs_finished, s.runs_requested, s.runs_failed
        ));
        if let Some(line) = s.economy_line() {
            out.push_str(&format!("  {line}\n"));
        }
        for run in s.runs.iter().filter(|r| !r.failures.is_empty()).take(3) {
            out.push_str(&format!("  run {}: {}\n", run.run, run.failures.join("; ")));
        }
    }
    match &r.aborted {
        Some(why) => out.push_str(&format!("suite aborted: {why}\n")),
        None => out.push_str(&format!(
            "suite verdict: {} (target {}, seed {})\n",
            r.verdict, r.target, r.seed
        )),
    }
    out
}
