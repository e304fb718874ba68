//! `report compare OLD NEW`: two reports side by side, per scenario, metric and percentile, with
//! the changes beyond a tolerance flagged. A slowdown beyond the tolerance is a regression
//! unless the two measurements' error bounds cover it; a metric that was measured before and is
//! not any more is a regression too (recovery stopped reaching that phase).
//!
//! Beside the percentiles, each metric's whole distribution is compared (the runs' values read
//! from the two journals): the two-sample Kolmogorov–Smirnov distance, flagged where it exceeds
//! what two samples of one distribution reach in 1 % of draws at these sample sizes. This is
//! how `report compare REAL SIM` shows where a fitted model and the real cluster disagree.

use std::fmt::{self, Write};
use std::str::FromStr;

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use serde::Serialize;

use super::Report;
use crate::journal::RunRecord;
use crate::measure::ks;
use crate::measure::stats::MetricSummary;
use crate::time::Dur;
use crate::vocab::Metric;

/// The statistics compared, in this order.
pub(crate) const STATS: [&str; 4] = ["p50", "p90", "p99", "max"];

fn stat(s: &MetricSummary, name: &str) -> u64 {
    match name {
        "p50" => s.p50,
        "p90" => s.p90,
        "p99" => s.p99,
        _ => s.max,
    }
}

/// How much slower still counts as the same, as a fraction (`10%` is 0.1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub(crate) struct Tolerance(pub f64);

impl Default for Tolerance {
    fn default() -> Self {
        Self(0.10)
    }
}

impl FromStr for Tolerance {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let num = s.trim().trim_end_matches('%').trim();
        match num.parse::<f64>() {
            Ok(p) if p.is_finite() && (0.0..=1000.0).contains(&p) => Ok(Self(p / 100.0)),
            _ => Err(format!(
                "`{s}` is not a tolerance; hint: write a percentage from 0 to 1000, e.g. `10%`"
            )),
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0 * 100.0;
        if p == p.trunc() {
            write!(f, "{}%", p as i64)
        } else {
            write!(f, "{p:.1}%")
        }
    }
}

/// What a change amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Change {
    /// Slower beyond the tolerance and the error bounds.
    Regression,
    /// Faster beyond the tolerance and the error bounds.
    Improvement,
    /// Within the tolerance, or within the error bounds.
    Same,
    /// Measured in OLD, not in NEW.
    Gone,
    /// Measured in NEW only.
    New,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Self::Regression => "REGRESSION",
            Self::Improvement => "improved",
            Self::Same => "",
            Self::Gone => "REGRESSION (no longer measured)",
            Self::New => "new",
        }
    }

    pub(crate) fn is_regression(self) -> bool {
        matches!(self, Self::Regression | Self::Gone)
    }
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) metric: Metric,
    pub(crate) stat: &'static str,
    pub(crate) old_ms: Option<u64>,
    pub(crate) new_ms: Option<u64>,
    /// `(new − old) / old`; `None` when a side is missing or OLD is zero.
    pub(crate) change: Option<f64>,
    /// The sum of both sides' largest error bounds: a change within it is not one.
    pub(crate) error_ms: u64,
    pub(crate) verdict: Change,
}

/// One metric's two distributions, whole.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Distance {
    pub(crate) metric: Metric,
    /// Runs with a value on each side.
    pub(crate) old_values: usize,
    pub(crate) new_values: usize,
    /// The two-sample Kolmogorov–Smirnov distance, 0 to 1.
    pub(crate) ks: f64,
    /// What two samples of one distribution of these sizes exceed in 1 % of draws.
    pub(crate) critical: f64,
    /// `ks > critical`: the sample sizes do not explain the difference.
    pub(crate) differs: bool,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct ScenarioComparison {
    pub(crate) name: String,
    pub(crate) old_runs: u32,
    pub(crate) new_runs: u32,
    pub(crate) rows: Vec<Row>,
    /// Labels of runs that are a model's prediction, not measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) old_prediction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) new_prediction: Option<String>,
    pub(crate) distributions: Vec<Distance>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Comparison {
    pub(crate) tolerance: Tolerance,
    pub(crate) scenarios: Vec<ScenarioComparison>,
    /// Scenarios in one report only (not compared).
    pub(crate) only_old: Vec<String>,
    pub(crate) only_new: Vec<String>,
    pub(crate) regressions: usize,
}

/// Compares every scenario the two reports share.
pub(crate) fn compare(old: &Report, new: &Report, tolerance: Tolerance) -> Comparison {
    let mut c = Comparison {
        tolerance,
        scenarios: Vec::new(),
        only_old: Vec::new(),
        only_new: Vec::new(),
        regressions: 0,
    };
    for o in &old.scenarios {
        let Some(n) = new.scenarios.iter().find(|n| n.name == o.name) else {
            c.only_old.push(o.name.clone());
            continue;
        };
        let mut sc = ScenarioComparison {
            name: o.name.clone(),
            old_runs: o.runs_finished,
            new_runs: n.runs_finished,
            rows: Vec::new(),
            old_prediction: o.prediction.clone(),
            new_prediction: n.prediction.clone(),
            distributions: Vec::new(),
        };
        for m in Metric::ALL {
            let get = |r: &super::ScenarioReport| {
                r.metrics
                    .iter()
                    .find(|(x, s)| *x == m && s.count > 0)
                    .map(|(_, s)| s.clone())
            };
            let (os, ns) = (get(o), get(n));
            if os.is_none() && ns.is_none() {
                continue;
            }
            let error_ms = os.as_ref().map_or(0, |s| s.max_error_ms)
                + ns.as_ref().map_or(0, |s| s.max_error_ms);
            for name in STATS {
                let (ov, nv) = (
                    os.as_ref().map(|s| stat(s, name)),
                    ns.as_ref().map(|s| stat(s, name)),
                );
                let (change, verdict) = match (ov, nv) {
                    (Some(a), Some(b)) => judge(a, b, error_ms, tolerance),
                    (Some(_), None) => (None, Change::Gone),
                    _ => (None, Change::New),
                };
                c.regressions += usize::from(verdict.is_regression());
                sc.rows.push(Row {
                    metric: m,
                    stat: name,
                    old_ms: ov,
                    new_ms: nv,
                    change,
                    error_ms,
                    verdict,
                });
            }
        }
        c.scenarios.push(sc);
    }
    c.only_new = new
        .scenarios
        .iter()
        .filter(|n| !old.scenarios.iter().any(|o| o.name == n.name))
        .map(|n| n.name.clone())
        .collect();
    c
}

/// A metric's value in each finished run of `scenario`, as the journal's phases give it.
fn values(runs: &[RunRecord], scenario: &str, m: Metric) -> Vec<u64> {
    let (from, to) = m.span();
    runs.iter()
        .filter(|r| r.scenario == scenario && r.ended.is_some() && !r.aborted)
        .filter_map(|r| {
            let d = r.phases.get(&to)?.at.as_millis() - r.phases.get(&from)?.at.as_millis();
            u64::try_from(d).ok()
        })
        .collect()
}

/// Adds the whole-distribution comparison of every metric both sides measured, from the two
/// journals' runs.
pub(crate) fn add_distances(c: &mut Comparison, old: &[RunRecord], new: &[RunRecord]) {
    for s in &mut c.scenarios {
        for m in Metric::ALL {
            let (a, b) = (values(old, &s.name, m), values(new, &s.name, m));
            if a.is_empty() || b.is_empty() {
                continue;
            }
            let (d, critical) = (ks::two_sample(&a, &b), ks::critical(a.len(), b.len()));
            s.distributions.push(Distance {
                metric: m,
                old_values: a.len(),
                new_values: b.len(),
                ks: d,
                critical,
                differs: d > critical,
            });
        }
    }
}

fn distance_word(d: &Distance) -> &'static str {
    if d.differs {
        "DIFFERS beyond the sample sizes"
    } else {
        "consistent"
    }
}

fn judge(old: u64, new: u64, error_ms: u64, tol: Tolerance) -> (Option<f64>, Change) {
    let change = (old > 0).then(|| (new as f64 - old as f64) / old as f64);
    let diff = new.abs_diff(old);
    let beyond_tol = diff as f64 > old as f64 * tol.0;
    let verdict = if diff <= error_ms || !beyond_tol {
        Change::Same
    } else if new > old {
        Change::Regression
    } else {
        Change::Improvement
    };
    (change, verdict)
}

fn pct(change: Option<f64>) -> String {
    match change {
        Some(c) if c.abs() < 0.0005 => "±0.0%".into(),
        Some(c) if c > 0.0 => format!("+{:.1}%", c * 100.0),
        Some(c) => format!("−{:.1}%", -c * 100.0),
        None => "—".into(),
    }
}

fn val(v: Option<u64>) -> String {
    v.map_or("—".into(), |v| Dur::from_millis(v).human())
}

fn summary_line(c: &Comparison) -> String {
    match c.regressions {
        0 => format!("no regression beyond {}", c.tolerance),
        1 => format!("1 regression beyond {}", c.tolerance),
        k => format!("{k} regressions beyond {}", c.tolerance),
    }
}

/// The terminal form: one table per scenario, then the verdict line.
pub(crate) fn render_text(c: &Comparison) -> String {
    let mut out = String::new();
    for s in &c.scenarios {
        let _ = writeln!(
            out,
            "{} (old: {} runs, new: {} runs)",
            s.name, s.old_runs, s.new_runs
        );
        let mut t = Table::new();
        t.load_style(presets::UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(["metric", "stat", "old", "new", "change", ""]);
        let mut last = None;
        for r in &s.rows {
            let first = last != Some(r.metric);
            last = Some(r.metric);
            t.add_row([
                Cell::new(if first { r.metric.as_str() } else { "" }),
                Cell::new(r.stat),
                Cell::new(val(r.old_ms)).set_alignment(CellAlignment::Right),
                Cell::new(val(r.new_ms)).set_alignment(CellAlignment::Right),
                Cell::new(pct(r.change)).set_alignment(CellAlignment::Right),
                Cell::new(r.verdict.word()),
            ]);
        }
        let _ = writeln!(out, "{t}");
        for (side, label) in [("old", &s.old_prediction), ("new", &s.new_prediction)] {
            if let Some(l) = label {
                let _ = writeln!(out, "{side}: {l}");
            }
        }
        if !s.distributions.is_empty() {
            let mut t = Table::new();
            t.load_style(presets::UTF8_BORDERS_ONLY)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(["metric", "values old", "values new", "KS", "1% crit", ""]);
            for d in &s.distributions {
                t.add_row([
                    Cell::new(d.metric.as_str()),
                    Cell::new(d.old_values).set_alignment(CellAlignment::Right),
                    Cell::new(d.new_values).set_alignment(CellAlignment::Right),
                    Cell::new(format!("{:.3}", d.ks)).set_alignment(CellAlignment::Right),
                    Cell::new(format!("{:.3}", d.critical)).set_alignment(CellAlignment::Right),
                    Cell::new(distance_word(d)),
                ]);
            }
            let _ = writeln!(
                out,
                "whole distributions (two-sample Kolmogorov–Smirnov):\n{t}"
            );
        }
    }
    for n in &c.only_old {
        let _ = writeln!(out, "{n}: only in OLD; not compared");
    }
    for n in &c.only_new {
        let _ = writeln!(out, "{n}: only in NEW; not compared");
    }
    let _ = writeln!(
        out,
        "{} (changes within the runs' error bounds do not count)",
        summary_line(c)
    );
    out
}

/// The Markdown form, for a pull request or a CI job summary.
pub(crate) fn render_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# chaos-harness comparison\n");
    let _ = writeln!(
        out,
        "**{}** {}\n",
        if c.regressions == 0 { "✅" } else { "❌" },
        summary_line(c)
    );
    for s in &c.scenarios {
        let _ = writeln!(
            out,
            "## {}\n\nold: {} runs · new: {} runs\n",
            s.name, s.old_runs, s.new_runs
        );
        let _ = writeln!(out, "| metric | stat | old | new | change | |");
        let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | --- |");
        for r in &s.rows {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                r.metric,
                r.stat,
                val(r.old_ms),
                val(r.new_ms),
                pct(r.change),
                match r.verdict {
                    Change::Regression | Change::Gone => format!("❌ {}", r.verdict.word()),
                    v => v.word().to_string(),
                }
            );
        }
        let _ = writeln!(out);
        for (side, label) in [("old", &s.old_prediction), ("new", &s.new_prediction)] {
            if let Some(l) = label {
                let _ = writeln!(out, "> {side}: **{l}**\n");
            }
        }
        if !s.distributions.is_empty() {
            let _ = writeln!(
                out,
                "Whole distributions (two-sample Kolmogorov–Smirnov; flagged beyond the 1 % critical value):\n"
            );
            let _ = writeln!(out, "| metric | values old | values new | KS | 1% crit | |");
            let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | --- |");
            for d in &s.distributions {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {:.3} | {:.3} | {} |",
                    d.metric,
                    d.old_values,
                    d.new_values,
                    d.ks,
                    d.critical,
                    if d.differs {
                        format!("⚠️ {}", distance_word(d))
                    } else {
                        distance_word(d).to_string()
                    }
                );
            }
            let _ = writeln!(out);
        }
    }
    for n in &c.only_old {
        let _ = writeln!(out, "- `{n}`: only in OLD; not compared");
    }
    for n in &c.only_new {
        let _ = writeln!(out, "- `{n}`: only in NEW; not compared");
    }
    out
}

pub(crate) fn render_json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("a comparison always serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{Run, journal};
    use crate::vocab::Phase;

    const SPEC: &str = "\
name: s
service: {name: cassandra}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
";

    fn report(running_ms: &[u64], err: u64) -> Report {
        let phases: Vec<[(Phase, u64, u64); 1]> = running_ms
            .iter()
            .map(|ms| [(Phase::TaskRunning, *ms, err)])
            .collect();
        let runs: Vec<Run> = phases
            .iter()
            .enumerate()
            .map(|(i, p)| Run {
                run: i as u32 + 1,
                phases: p,
                failures: &[],
            })
            .collect();
        crate::report::build(&journal(SPEC, &runs), false)
    }

    #[test]
    fn tolerances_parse_as_percentages() {
        assert_eq!("10%".parse::<Tolerance>().unwrap(), Tolerance(0.10));
        assert_eq!("5".parse::<Tolerance>().unwrap(), Tolerance(0.05));
        assert_eq!("2.5 %".parse::<Tolerance>().unwrap().to_string(), "2.5%");
        for bad in ["", "x", "-1%", "NaN", "inf"] {
            assert!(bad.parse::<Tolerance>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slower_beyond_tolerance_is_a_regression() {
        let old = report(&[600_000; 10], 1);
        let new = report(&[700_000; 10], 1);
        let c = compare(&old, &new, Tolerance::default());
        let row = &c.scenarios[0].rows[0];
        assert_eq!(row.metric, Metric::TimeToCassandraRunning);
        assert_eq!(row.verdict, Change::Regression);
        assert_eq!(c.regressions, 4);
        assert!(c.regressions > 0);
        // the other way round it is an improvement, and no regression
        let c = compare(&new, &old, Tolerance::default());
        assert_eq!(c.scenarios[0].rows[0].verdict, Change::Improvement);
        assert_eq!(c.regressions, 0);
        // a wide tolerance accepts it
        let c = compare(&old, &new, "20%".parse().unwrap());
        assert_eq!(c.regressions, 0);
    }

    #[test]
    fn a_change_within_the_error_bounds_is_not_one() {
        let old = report(&[10_000; 10], 2_500);
        let new = report(&[14_000; 10], 2_500);
        let c = compare(&old, &new, Tolerance::default());
        assert_eq!(c.scenarios[0].rows[0].verdict, Change::Same);
        assert_eq!(c.regressions, 0);
    }

    #[test]
    fn a_metric_no_longer_measured_is_a_regression() {
        let old = report(&[600_000; 3], 1);
        let spec_new = journal(
            SPEC,
            &[Run {
                run: 1,
                phases: &[(Phase::TaskLost, 1_000, 1)],
                failures: &[],
            }],
        );
        let new = crate::report::build(&spec_new, false);
        let c = compare(&old, &new, Tolerance::default());
        let gone: Vec<_> = c.scenarios[0]
            .rows
            .iter()
            .filter(|r| r.verdict == Change::Gone)
            .collect();
        assert_eq!(gone.len(), 4);
        assert!(render_text(&c).contains("REGRESSION (no longer measured)"));
    }
}
