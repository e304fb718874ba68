//! The terminal summary: one table of the headline figures and the verdicts, fitted to the
//! width of the terminal it is printed on.
//!
//! The full table is 130-odd columns wide. A narrower terminal would wrap every row and break
//! the box, so under a given width the table sheds detail, step by step, before anything
//! wraps: shorter durations, scenario names as heading rows instead of a column, metric names
//! without `time_to_`, shorter verdicts, then the p90, max and runs columns. Only if even the
//! barest table is too wide do cells wrap (inside an intact box).

use comfy_table::{Cell, ContentArrangement, Table, presets};

use super::{Report, ScenarioReport};
use crate::measure::Verdict;
use crate::measure::stats::SloResult;
use crate::time::Dur;
use crate::vocab::Metric;

/// The summary at full width: what reports, pipes and CI logs get.
pub fn render(r: &Report) -> String {
    render_width(r, None)
}

/// The summary fitted to `width` columns (`None`: no limit, the same as [`render`]). The
/// table keeps as much detail as fits; the lines under it wrap with an indent.
pub fn render_width(r: &Report, width: Option<u16>) -> String {
    let mut out = match width {
        None => table(r, FULL, None).to_string(),
        Some(w) => fitted_table(r, usize::from(w)),
    };
    out.push('\n');
    let limit = width.map(usize::from);
    let mut line = |text: String| {
        for l in wrap(&text, limit) {
            out.push_str(&l);
            out.push('\n');
        }
    };
    for s in &r.scenarios {
        line(format!("{}: {} ({})", s.name, s.verdict, s.runs_words()));
        if let Some(label) = &s.prediction {
            line(format!("  {label}: {}", super::PREDICTION_NOTE));
        }
        for slo in &s.slos {
            line(format!("  {}", slo_line(slo)));
        }
        if let Some(economy) = s.economy_line() {
            line(format!("  {economy}"));
        }
        if let Some(outage) = s.scheduler_line() {
            line(format!("  {outage}"));
        }
        for run in s.runs.iter().filter(|r| !r.failures.is_empty()).take(3) {
            line(format!("  run {}: {}", run.run, run.failures.join("; ")));
        }
    }
    line(match &r.aborted {
        Some(why) => format!("suite aborted: {why}"),
        None => format!(
            "suite verdict: {} (target {}, seed {})",
            r.verdict, r.target, r.seed
        ),
    });
    out
}

/// What the table shows. [`LAYOUTS`] lists them from the full table to the barest.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// `13m54s` rather than `13m 54.0s`.
    short_durations: bool,
    /// Each scenario's name on a row of its own above its metrics, instead of in a column.
    scenario_rows: bool,
    /// `cassandra_running` rather than `time_to_cassandra_running`.
    short_metrics: bool,
    /// `p50,p99 pass` rather than `p50 pass, p99 pass`.
    short_verdicts: bool,
    p90: bool,
    max: bool,
    runs: bool,
}

const FULL: Layout = Layout {
    short_durations: false,
    scenario_rows: false,
    short_metrics: false,
    short_verdicts: false,
    p90: true,
    max: true,
    runs: true,
};

/// From the full table to the barest; the first that fits is shown. Presentation gets more
/// compact before any figure is dropped.
const LAYOUTS: [Layout; 8] = [
    FULL,
    Layout {
        short_durations: true,
        ..FULL
    },
    Layout {
        short_durations: true,
        scenario_rows: true,
        ..FULL
    },
    Layout {
        short_durations: true,
        scenario_rows: true,
        short_metrics: true,
        ..FULL
    },
    Layout {
        short_durations: true,
        scenario_rows: true,
        short_metrics: true,
        short_verdicts: true,
        ..FULL
    },
    Layout {
        short_durations: true,
        scenario_rows: true,
        short_metrics: true,
        short_verdicts: true,
        p90: false,
        ..FULL
    },
    Layout {
        short_durations: true,
        scenario_rows: true,
        short_metrics: true,
        short_verdicts: true,
        p90: false,
        max: false,
        runs: true,
    },
    Layout {
        short_durations: true,
        scenario_rows: true,
        short_metrics: true,
        short_verdicts: true,
        p90: false,
        max: false,
        runs: false,
    },
];

/// The most detailed table that fits in `width` columns; if none does, the barest one with its
/// cells wrapped to fit. Under scenario rows a long scenario name may be cut to the width of the
/// metric names (the verdict lines below the table name it in full) before figures are dropped.
fn fitted_table(r: &Report, width: usize) -> String {
    for layout in LAYOUTS {
        let mut cuts = vec![None];
        if layout.scenario_rows {
            cuts.push(Some(label_width(r, layout)));
        }
        for cut in cuts {
            let rendered = table(r, layout, cut).to_string();
            if widest_line(&rendered) <= width {
                return rendered;
            }
        }
    }
    let barest = LAYOUTS[LAYOUTS.len() - 1];
    let mut table = table(r, barest, Some(label_width(r, barest)));
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX));
    table.to_string()
}

/// The widest cell of the metric column under scenario rows, scenario names aside.
fn label_width(r: &Report, layout: Layout) -> usize {
    r.scenarios
        .iter()
        .flat_map(|s| {
            let names: Vec<&str> = if s.metrics.is_empty() {
                vec![NO_METRIC]
            } else {
                s.metrics
                    .iter()
                    .map(|(m, _)| metric_name(*m, layout))
                    .collect()
            };
            names
        })
        .map(|n| n.chars().count() + INDENT.len())
        .max()
        .unwrap_or(0)
}

/// `name` in at most `width` characters, cut with an ellipsis.
fn cut(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        return name.to_string();
    }
    let mut short: String = name.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

const NO_METRIC: &str = "(no metric measured)";
/// Metric names under their scenario's row.
const INDENT: &str = "  ";

fn metric_name(m: Metric, layout: Layout) -> &'static str {
    let name = m.as_str();
    if layout.short_metrics {
        name.strip_prefix("time_to_").unwrap_or(name)
    } else {
        name
    }
}

fn widest_line(s: &str) -> usize {
    s.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// The table under `layout`; under scenario rows, names longer than `cut` are cut.
fn table(r: &Report, layout: Layout, cut_names: Option<usize>) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled);
    let header = header(layout);
    let columns = header.len();
    table.set_header(header);
    for s in &r.scenarios {
        add_scenario(&mut table, s, layout, cut_names, columns);
    }
    table
}

/// The column titles under `layout`.
fn header(layout: Layout) -> Vec<&'static str> {
    let mut header = Vec::new();
    if !layout.scenario_rows {
        header.push("scenario");
    }
    header.push("metric");
    if layout.runs {
        header.push("runs");
    }
    header.push("p50");
    if layout.p90 {
        header.push("p90");
    }
    header.push("p99");
    if layout.max {
        header.push("max");
    }
    header.push("verdict");
    header
}

fn duration(ms: u64, layout: Layout) -> String {
    if layout.short_durations {
        short_duration(ms)
    } else {
        Dur::from_millis(ms).human()
    }
}

/// A scenario's rows: its name (under scenario rows), one row per metric, or a row saying
/// it has none.
fn add_scenario(
    table: &mut Table,
    s: &ScenarioReport,
    layout: Layout,
    cut_names: Option<usize>,
    columns: usize,
) {
    let duration = |ms: u64| duration(ms, layout);
    if layout.scenario_rows {
        let name = match cut_names {
            Some(width) => cut(&s.name, width),
            None => s.name.clone(),
        };
        let mut row = vec![Cell::new(name)];
        row.resize_with(columns, || Cell::new(""));
        table.add_row(row);
    }
    // The metric column's cell; under scenario rows, indented below the scenario's name.
    let label = |text: &str| {
        if layout.scenario_rows {
            format!("{INDENT}{text}")
        } else {
            text.to_string()
        }
    };
    let mut first = true;
    for (m, x) in &s.metrics {
        let slos: Vec<&SloResult> = s.slos.iter().filter(|slo| slo.metric == *m).collect();
        let mut row = Vec::with_capacity(columns);
        if !layout.scenario_rows {
            row.push(Cell::new(if first { s.name.as_str() } else { "" }));
        }
        row.push(Cell::new(label(metric_name(*m, layout))));
        if layout.runs {
            row.push(Cell::new(x.count));
        }
        row.push(Cell::new(duration(x.p50)));
        if layout.p90 {
            row.push(Cell::new(duration(x.p90)));
        }
        row.push(Cell::new(duration(x.p99)));
        if layout.max {
            row.push(Cell::new(duration(x.max)));
        }
        row.push(Cell::new(if layout.short_verdicts {
            short_verdicts(&slos)
        } else {
            full_verdicts(&slos)
        }));
        table.add_row(row);
        first = false;
    }
    if first {
        let mut row = Vec::with_capacity(columns);
        if !layout.scenario_rows {
            row.push(Cell::new(s.name.as_str()));
        }
        row.push(Cell::new(label(NO_METRIC)));
        if layout.runs {
            row.push(Cell::new(0));
        }
        row.resize_with(columns, || Cell::new(""));
        table.add_row(row);
    }
}

/// `time_to_cassandra_running p99 ≤ 25m: inconclusive, true p99 within [15m 43.4s, ∞) at
/// 95 %; needs at least 299 runs with none above 25m (12 so far)`: the verdict, the interval
/// the true value lies in and, unless it passed, why.
fn slo_line(slo: &SloResult) -> String {
    let objective = format!(
        "{} ≤ {}",
        slo.percentile,
        Dur::from_millis(slo.threshold_ms)
    );
    let mut out = format!("{} {objective}: {}", slo.metric, slo.verdict);
    if slo.interval_ms.is_some() {
        let what = if slo.confidence.is_some() {
            format!("true {}", slo.percentile)
        } else {
            "slowest run".to_string()
        };
        out.push_str(&format!(", {what} within {}", slo.interval_words()));
    }
    if slo.verdict != Verdict::Pass {
        let reason = slo
            .reason
            .strip_prefix(&format!("{objective} "))
            .unwrap_or(&slo.reason);
        out.push_str(&format!("; {reason}"));
    }
    out
}

/// `p50 pass, p99 pass`.
fn full_verdicts(slos: &[&SloResult]) -> String {
    slos.iter()
        .map(|slo| format!("{} {}", slo.percentile, slo.verdict))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `p50,p99 pass`; `p50 pass,p99 fail`; `p99 incon.` — neighbouring percentiles with the same
/// verdict share it.
fn short_verdicts(slos: &[&SloResult]) -> String {
    let mut groups: Vec<(Vec<String>, Verdict)> = Vec::new();
    for slo in slos {
        match groups.last_mut() {
            Some((percentiles, v)) if *v == slo.verdict => {
                percentiles.push(slo.percentile.to_string());
            }
            _ => groups.push((vec![slo.percentile.to_string()], slo.verdict)),
        }
    }
    groups
        .iter()
        .map(|(percentiles, v)| {
            let v = match v {
                Verdict::Inconclusive => "incon.",
                v => v.as_str(),
            };
            format!("{} {v}", percentiles.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Six characters at most under 100 hours, rounded: `850ms`, `42.3s`, `13m54s`, `1h02m`.
fn short_duration(ms: u64) -> String {
    let tenths = ms.saturating_add(50) / 100;
    let secs = ms.saturating_add(500) / 1000;
    let mins = ms.saturating_add(30_000) / 60_000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if tenths < 600 {
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", mins / 60, mins % 60)
    }
}

/// `text` as lines of at most `width` columns (no limit: one line), broken at spaces but
/// preferably not inside parentheses; continuation lines are indented two more than the first.
/// A word longer than a line is cut.
fn wrap(text: &str, width: Option<usize>) -> Vec<String> {
    let Some(width) = width else {
        return vec![text.to_string()];
    };
    if text.chars().count() <= width {
        return vec![text.to_string()];
    }
    let indent = text.len() - text.trim_start().len();
    let next_indent = " ".repeat((indent + 2).min(width / 2));
    let mut lines = Vec::new();
    let mut current = " ".repeat(indent.min(width / 2));
    let mut empty = true;
    let room = width.saturating_sub(next_indent.len());
    let words = groups(text.trim_start()).into_iter().flat_map(|g| {
        if g.chars().count() <= room {
            vec![g]
        } else {
            g.split(' ').filter(|w| !w.is_empty()).collect()
        }
    });
    for word in words {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            let needed = word.len() + usize::from(!empty);
            if used + needed <= width {
                if !empty {
                    current.push(' ');
                }
                current.extend(word.iter());
                empty = false;
                break;
            }
            if !empty {
                lines.push(std::mem::replace(&mut current, next_indent.clone()));
                empty = true;
                continue;
            }
            // A word longer than a whole line: cut it.
            let room = width.saturating_sub(used).max(1);
            let rest = word.split_off(room.min(word.len()));
            current.extend(word.iter());
            lines.push(std::mem::replace(&mut current, next_indent.clone()));
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !empty {
        lines.push(current);
    }
    lines
}

/// `text` split at the spaces outside parentheses and brackets.
fn groups(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0_usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            // An interval is `[a, b]` or `[a, ∞)`.
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 => {
                if i > start {
                    out.push(&text[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if text.len() > start {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{Run, journal};
    use crate::vocab::Phase;

    const SPEC: &str = "\
name: a-scenario-with-a-rather-long-name
service: {name: cassandra, task: server}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
heal: replace-on-task-lost
slos:
  time_to_cassandra_running: {p50: 18m, p90: 30m, p99: 14m, min_runs: 1}
runs: 2
";

    fn report() -> Report {
        let phases = |k: u64| {
            vec![
                (Phase::ReplacementLaunched, 30_000 * k, 1),
                (Phase::ReplacementInService, 190_000 * k, 500),
                (Phase::AgentRegistered, 745_000 * k, 2_500),
                (Phase::TaskLost, 302_600 * k, 1),
                (Phase::PodReplaceIssued, 302_700 * k, 0),
                (Phase::TaskRunning, 850_900 * k, 1),
                (Phase::RecoveryComplete, 1_068_000 * k, 2_500),
            ]
        };
        let (one, two) = (phases(1), phases(2));
        let long = "recovery_complete was not observed within 45m (the recovery plan stayed \
                    IN_PROGRESS; the journal has the last status the scheduler reported)";
        let events = journal(
            SPEC,
            &[
                Run {
                    run: 1,
                    phases: &one,
                    failures: &[],
                },
                Run {
                    run: 2,
                    phases: &two,
                    failures: &[long],
                },
            ],
        );
        crate::report::build(&events, false)
    }

    #[test]
    fn without_a_width_or_a_wide_one_the_table_is_whole() {
        let r = report();
        let full = render(&r);
        let widest = widest_line(&full);
        assert!(full.contains("time_to_cassandra_running"));
        assert_eq!(render_width(&r, None), full);
        assert_eq!(render_width(&r, Some(u16::try_from(widest).unwrap())), full);
        assert_eq!(render_width(&r, Some(300)), full);
    }

    #[test]
    fn no_line_is_wider_than_the_width_and_the_box_holds() {
        let r = report();
        for width in [40, 50, 60, 72, 80, 90, 100, 120] {
            let out = render_width(&r, Some(width));
            for l in out.lines() {
                assert!(
                    l.chars().count() <= usize::from(width),
                    "width {width}: {l:?} is {} wide\n{out}",
                    l.chars().count()
                );
            }
            // Every table line starts and ends on the box.
            let rows: Vec<&str> = out.lines().take_while(|l| !l.starts_with('└')).collect();
            assert!(rows[0].starts_with('┌') && rows[0].ends_with('┐'), "{out}");
            for l in &rows[1..] {
                assert!(
                    (l.starts_with('│') && l.ends_with('│'))
                        || (l.starts_with('╞') && l.ends_with('╡')),
                    "width {width}: {l:?}\n{out}"
                );
            }
        }
    }

    #[test]
    fn detail_goes_before_figures() {
        let r = report();
        let at_100 = render_width(&r, Some(100));
        let header = |t: &str| t.lines().nth(1).unwrap_or_default().to_string();
        assert!(header(&at_100).contains("p90"), "{at_100}");
        assert!(at_100.contains("14m11s"), "{at_100}");
        let at_80 = render_width(&r, Some(80));
        assert!(!header(&at_80).contains("p90"), "{at_80}");
        assert!(at_80.contains("  cassandra_running"), "{at_80}");
        // The long name is cut in the table, not in the verdict line.
        assert!(at_80.contains("│ a-scenario-with-a-rat… "), "{at_80}");
        assert!(
            at_80.contains("\na-scenario-with-a-rather-long-name: fail"),
            "{at_80}"
        );
    }

    #[test]
    fn short_durations_fit_six_characters() {
        let cases = [
            (0, "0ms"),
            (999, "999ms"),
            (1000, "1.0s"),
            (42_349, "42.3s"),
            (59_949, "59.9s"),
            (59_950, "1m00s"),
            (185_600, "3m06s"),
            (834_000, "13m54s"),
            (3_599_499, "59m59s"),
            (3_599_500, "1h00m"),
            (3_720_000, "1h02m"),
            (1_095_720_000, "304h22m"),
        ];
        for (ms, want) in cases {
            assert_eq!(short_duration(ms), want, "{ms} ms");
        }
    }

    #[test]
    fn short_verdicts_share_a_verdict() {
        let r = report();
        let slos: Vec<&SloResult> = r.scenarios[0].slos.iter().collect();
        assert_eq!(
            full_verdicts(&slos),
            "p50 inconclusive, p90 inconclusive, p99 fail",
            "the fixture's SLOs (two runs decide no p50 or p90)"
        );
        assert_eq!(short_verdicts(&slos), "p50,p90 incon.,p99 fail");
    }

    #[test]
    fn wrapped_lines_are_indented() {
        let lines = wrap("  aaa bbb ccc ddd", Some(9));
        assert_eq!(lines, ["  aaa bbb", "    ccc", "    ddd"]);
        let lines = wrap("abcdefghij", Some(4));
        assert_eq!(lines, ["abcd", "  ef", "  gh", "  ij"]);
        assert_eq!(wrap("a b", None), ["a b"]);
        // Not inside parentheses, unless they do not fit on a line.
        assert_eq!(
            wrap("x: y (p: 1 / 2); z", Some(14)),
            ["x: y", "  (p: 1 / 2);", "  z"]
        );
        assert_eq!(wrap("a (b c d e f)", Some(8)), ["a (b c d", "  e f)"]);
        // Nor inside an interval.
        assert_eq!(
            wrap("x within [1m 02.0s, ∞) at 95 %", Some(20)),
            ["x within", "  [1m 02.0s, ∞) at", "  95 %"]
        );
    }
}
