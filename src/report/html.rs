//! `report.html`: one self-contained page (inline CSS and SVG; no script, no network) that
//! shows the recovery as a picture: per scenario the verdicts, each metric's histogram and CDF
//! with its SLO thresholds, a per-run timeline and where the time goes.

use std::fmt::Write;

use super::svg::{self, Deadline, StageBar, Threshold, TimelineRow, esc};
use super::{Report, RunVerdict, ScenarioReport};
use crate::measure::Verdict;
use crate::measure::stats::Ranked;
use crate::time::Dur;
use crate::vocab::{Metric, Phase};

/// Runs drawn on a timeline; beyond it the failed ones come first and the page says so.
pub(crate) const TIMELINE_ROWS: usize = 50;

/// Runs named one by one in a verdict's note; the rest are counted.
const RUNS_NAMED: usize = 20;

/// Stages of a recovery, each between two phases of one run.
struct Stage {
    name: &'static str,
    from: Phase,
    to: Phase,
    /// Counted only in runs without this phase (a restart in place has no pod replace).
    unless: Option<Phase>,
    what: &'static str,
}

const STAGES: [Stage; 10] = [
    Stage {
        name: "termination",
        from: Phase::FaultInjected,
        to: Phase::InstanceTerminated,
        unless: None,
        what: "EC2 shuts the victim down",
    },
    Stage {
        name: "ASG reaction",
        from: Phase::FaultInjected,
        to: Phase::ReplacementLaunched,
        unless: None,
        what: "the Auto Scaling group notices and starts a replacement",
    },
    Stage {
        name: "launch",
        from: Phase::ReplacementLaunched,
        to: Phase::ReplacementInService,
        unless: None,
        what: "the replacement instance boots and goes InService",
    },
    Stage {
        name: "agent registration",
        from: Phase::ReplacementInService,
        to: Phase::AgentRegistered,
        unless: None,
        what: "DC/OS starts on the replacement and its Mesos agent registers",
    },
    Stage {
        name: "agent re-registration",
        from: Phase::FaultInjected,
        to: Phase::AgentRegistered,
        unless: Some(Phase::ReplacementInService),
        what: "the victim's own agent comes back (reboot, stop/start) and registers again",
    },
    Stage {
        name: "agent loss detection",
        from: Phase::FaultInjected,
        to: Phase::AgentLost,
        unless: None,
        what: "Mesos marks the victim's agent gone",
    },
    Stage {
        name: "detection",
        from: Phase::FaultInjected,
        to: Phase::TaskLost,
        unless: None,
        what: "the pod's server task leaves RUNNING",
    },
    Stage {
        name: "replace",
        from: Phase::TaskLost,
        to: Phase::PodReplaceIssued,
        unless: None,
        what: "the heal policy issues `pod replace`",
    },
    Stage {
        name: "start",
        from: Phase::PodReplaceIssued,
        to: Phase::TaskRunning,
        unless: None,
        what: "the scheduler places the pod (waiting for a free agent) and it starts",
    },
    Stage {
        name: "restart",
        from: Phase::TaskLost,
        to: Phase::TaskRunning,
        unless: Some(Phase::PodReplaceIssued),
        what: "the task comes back on its own agent, without a replace",
    },
];

/// Each stage of the breakdown as `(from, to, unless)`, in its order: what the report's
/// tally measures over every run.
pub(super) fn stage_spans() -> impl Iterator<Item = (Phase, Phase, Option<Phase>)> {
    STAGES
        .iter()
        .chain(RECOVERY.iter())
        .map(|st| (st.from, st.to, st.unless))
}

const RECOVERY: [Stage; 2] = [
    Stage {
        name: "rejoin",
        from: Phase::TaskRunning,
        to: Phase::RecoveryComplete,
        unless: None,
        what: "the recovery plan completes (the node is Up/Normal in the ring)",
    },
    Stage {
        name: "ring restart",
        from: Phase::RecoveryComplete,
        to: Phase::RingRestarted,
        unless: None,
        what: "a seed was replaced: every other node restarts in place, one at a time",
    },
];

const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--card:#fff;--pass:#1a7f37;--fail:#cf222e;--inc:#9a6700}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
header.top{display:flex;flex-wrap:wrap;align-items:baseline;gap:8px 16px;margin-bottom:4px}
h1{font-size:24px;margin:0}
h2{font-size:20px;margin:0;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h3{font-size:15px;margin:22px 0 8px}
p{margin:6px 0}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eff2f5;border-radius:4px;padding:1px 5px}
.muted{color:var(--muted)}
.badge{display:inline-block;font-size:12px;font-weight:600;letter-spacing:.02em;text-transform:uppercase;border-radius:999px;padding:2px 10px;color:#fff;vertical-align:middle}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.inconclusive{background:var(--inc)}.badge.aborted{background:#6e7781}
.alert{border-left:4px solid var(--fail);background:#ffebe9;padding:8px 12px;border-radius:4px;margin:10px 0}
nav.toc{display:flex;flex-wrap:wrap;gap:8px;margin:14px 0 18px}
nav.toc a{display:flex;align-items:center;gap:8px;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:6px 10px;color:var(--fg);text-decoration:none}
nav.toc a:hover{border-color:#8c959f}
section.scenario{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:18px 20px;margin:18px 0}
table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px;background:#f6f8fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.why{color:var(--muted);font-size:12px}
.v{font-weight:600}.v.pass{color:var(--pass)}.v.fail{color:var(--fail)}.v.inconclusive{color:var(--inc)}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:8px 24px}
figure{margin:10px 0 18px}
figure.metric{border-top:1px solid var(--line);padding-top:10px}
figure.metric h4{margin:0;font-size:14px}
figure.metric .stats{color:var(--muted);font-size:12.5px;margin:2px 0 4px}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:8px 20px}
figcaption{color:var(--muted);font-size:12.5px;margin-top:4px}
details{margin:6px 0}
summary{cursor:pointer;color:var(--muted);font-weight:600;margin:8px 0}
svg.chart{display:block;width:100%;height:auto;font-size:11px;fill:var(--fg)}
svg .axis text{fill:var(--muted)}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .base{stroke:#8c959f;stroke-width:1}
svg .bars rect{fill:#4e79a7;fill-opacity:.85}
svg .bars rect:hover{fill-opacity:1}
svg path.cdf{fill:none;stroke:#4e79a7;stroke-width:2}
svg line.thr{stroke-width:1.5;stroke-dasharray:5 3}
svg text.thr{font-weight:600}
svg .obs line{stroke-width:2}
svg .obs line.guide{stroke-width:1;stroke-dasharray:1 2}
svg .axis-title{fill:var(--muted);font-size:11px}
svg rect.band{fill:#f6f8fa}
svg rect.seg{fill-opacity:.45}
svg .ph line.err{stroke:#24292f;stroke-width:1.2}
svg .run text.label{fill:var(--fg)}
svg .run.failed text.label{fill:var(--fail);font-weight:600}
svg line.deadline{stroke:#cf222e;stroke-width:1.2;stroke-dasharray:3 3}
svg text.deadline{fill:#cf222e;font-size:10.5px}
svg .legend text{fill:var(--fg)}
svg .stage text.label{font-weight:600;font-size:12px}
svg .stage .sub{fill:var(--muted);font-size:10.5px}
svg .stage text.value{font-size:12px}
svg .stage line.whisker{stroke:#57606a;stroke-width:1.2}
footer{color:var(--muted);font-size:12px;margin-top:28px}
"#;

fn ms(v: u64) -> String {
    Dur::from_millis(v).human()
}

fn badge(v: Verdict) -> String {
    format!(r#"<span class="badge {v}">{v}</span>"#)
}

fn verdict_cell(v: Verdict) -> String {
    format!(r#"<span class="v {v}">{v}</span>"#)
}

pub(crate) fn render(r: &Report) -> String {
    let mut o = String::new();
    let runs: u32 = r.scenarios.iter().map(ScenarioReport::runs_total).sum();
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chaos-harness report: {}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header class="top"><h1>chaos-harness report</h1>{}</header>
<p class="muted">target <code>{}</code> ({}) · seed <code>{}</code> · {} scenario{} · {} run{}</p>
"#,
        r.verdict,
        badge(r.verdict),
        esc(r.target.as_str()),
        if r.simulated {
            "simulated figures"
        } else {
            "real cluster"
        },
        r.seed,
        r.scenarios.len(),
        if r.scenarios.len() == 1 { "" } else { "s" },
        runs,
        if runs == 1 { "" } else { "s" },
    );
    if let Some(why) = &r.aborted {
        let _ = writeln!(
            o,
            r#"<div class="alert"><strong>Aborted:</strong> {}</div>"#,
            esc(why)
        );
    }
    if r.journal_torn_tail {
        let _ = writeln!(
            o,
            r#"<div class="alert">A torn last line of the journal was ignored.</div>"#
        );
    }
    if r.scenarios.len() > 1 {
        o.push_str(r#"<nav class="toc">"#);
        for s in &r.scenarios {
            let _ = write!(
                o,
                r##"<a href="#{}">{} {}</a>"##,
                anchor(&s.name),
                esc(&s.name),
                badge(s.verdict)
            );
        }
        o.push_str("</nav>\n");
    }
    for s in &r.scenarios {
        scenario(&mut o, s);
    }
    o.push_str(
        r#"<footer>Rendered by chaos-harness from <code>journal.jsonl</code> alone; every run and phase is in <code>report.json</code>. This page fetches nothing: charts are inline SVG, hover them for values.</footer>
</main>
</body>
</html>
"#,
    );
    o
}

fn anchor(name: &str) -> String {
    let a: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("scenario-{a}")
}

fn scenario(o: &mut String, s: &ScenarioReport) {
    let _ = write!(
        o,
        r#"<section class="scenario" id="{}">
<h2>{} {}</h2>
"#,
        anchor(&s.name),
        esc(&s.name),
        badge(s.verdict)
    );
    if !s.description.is_empty() {
        let _ = writeln!(o, "<p>{}</p>", esc(s.description.trim()));
    }
    if let Some(label) = &s.prediction {
        let _ = writeln!(
            o,
            "<p class=\"prediction\"><strong>{}</strong>: {}</p>",
            esc(label),
            esc(super::PREDICTION_NOTE)
        );
    }
    let _ = writeln!(
        o,
        r#"<p class="muted"><code>{}</code> · fault <code>{}</code> · heal <code>{}</code> · {}</p>"#,
        esc(&s.file),
        s.fault,
        s.heal,
        esc(&s.runs_words())
    );
    if let Some(why) = &s.aborted {
        let _ = writeln!(
            o,
            r#"<div class="alert"><strong>Aborted:</strong> {}</div>"#,
            esc(why)
        );
    }
    if let Some(line) = s.scheduler_line() {
        let _ = writeln!(o, r#"<p class="muted">{}</p>"#, esc(&line));
    }
    verdicts(o, s);
    metrics_table(o, s);
    distributions(o, s);
    timeline(o, s);
    breakdown(o, s);
    failed_runs(o, s);
    o.push_str("</section>\n");
}

fn verdicts(o: &mut String, s: &ScenarioReport) {
    if s.slos.is_empty() && s.expectations.is_empty() {
        return;
    }
    o.push_str(r#"<div class="cols">"#);
    if !s.slos.is_empty() {
        o.push_str(
            r#"<div><h3>SLOs</h3><table><tr><th>objective</th><th class="num">observed</th><th class="num">true value within</th><th>verdict</th></tr>"#,
        );
        for slo in &s.slos {
            let bounds = esc(&slo.interval_words());
            // A pass says nothing the numbers do not; anything else says why.
            let why = if slo.verdict == Verdict::Pass {
                String::new()
            } else {
                format!(r#"<div class="why">{}</div>"#, esc(&slo.reason))
            };
            let _ = write!(
                o,
                r#"<tr><td><code>{}</code> {} ≤ {}{why}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                slo.metric,
                slo.percentile,
                Dur::from_millis(slo.threshold_ms),
                slo.observed_ms.map_or("—".into(), ms),
                bounds,
                verdict_cell(slo.verdict),
            );
        }
        o.push_str("</table></div>");
    }
    if !s.expectations.is_empty() {
        o.push_str(
            r#"<div><h3>Expectations</h3><table><tr><th>expectation</th><th class="num">runs</th><th>verdict</th></tr>"#,
        );
        for e in &s.expectations {
            let note = e.note(RUNS_NAMED);
            let _ = write!(
                o,
                r#"<tr><td><code>{}</code><div class="why">{}</div></td><td class="num">{}</td><td>{}</td></tr>"#,
                esc(&e.label()),
                note,
                e.runs,
                verdict_cell(e.verdict),
            );
        }
        o.push_str("</table></div>");
    }
    o.push_str("</div>\n");
}

fn metrics_table(o: &mut String, s: &ScenarioReport) {
    if s.metrics.is_empty() {
        o.push_str(r#"<p class="muted">No run produced a metric.</p>"#);
        return;
    }
    o.push_str(
        r#"<h3>Metrics</h3><table><tr><th>metric</th><th class="num">runs</th><th class="num">min</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th><th class="num">mean</th><th class="num">± max error</th></tr>"#,
    );
    for (m, x) in &s.metrics {
        let _ = write!(
            o,
            r#"<tr><td><code>{m}</code></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            x.count,
            ms(x.min),
            ms(x.p50),
            ms(x.p90),
            ms(x.p99),
            ms(x.max),
            ms(x.mean),
            ms(x.max_error_ms)
        );
    }
    o.push_str("</table>\n");
}

fn thresholds(s: &ScenarioReport, m: Metric) -> Vec<Threshold> {
    s.slos
        .iter()
        .filter(|slo| slo.metric == m)
        .map(|slo| Threshold {
            label: format!(
                "{} ≤ {}",
                slo.percentile,
                Dur::from_millis(slo.threshold_ms)
            ),
            quantile: slo.percentile.quantile(),
            threshold_ms: slo.threshold_ms,
            observed: match (slo.observed_ms, slo.interval_ms) {
                (Some(o), Some(i)) => Some((o, i)),
                _ => None,
            },
            verdict: slo.verdict,
        })
        .collect()
}

fn distributions(o: &mut String, s: &ScenarioReport) {
    let (judged, others): (Vec<Metric>, Vec<Metric>) = s
        .metrics
        .iter()
        .map(|(m, _)| *m)
        .partition(|m| s.slos.iter().any(|slo| slo.metric == *m));
    if judged.is_empty() && others.is_empty() {
        return;
    }
    o.push_str("<h3>Distributions</h3>\n");
    for m in &judged {
        metric_figure(o, s, *m);
    }
    if !others.is_empty() {
        let _ = writeln!(
            o,
            "<details{}><summary>{} metric{} without an SLO</summary>",
            if judged.is_empty() { " open" } else { "" },
            others.len(),
            if others.len() == 1 { "" } else { "s" }
        );
        for m in &others {
            metric_figure(o, s, *m);
        }
        o.push_str("</details>\n");
    }
}

fn metric_figure(o: &mut String, s: &ScenarioReport, m: Metric) {
    let (Some((_, x)), Some((_, h))) = (
        s.metrics.iter().find(|(mm, _)| *mm == m),
        s.histograms.iter().find(|(mm, _)| *mm == m),
    ) else {
        return;
    };
    let values = h.values().weighted();
    let th = thresholds(s, m);
    let (from, to) = m.span();
    let _ = writeln!(
        o,
        r#"<figure class="metric" id="{}-{m}"><h4><code>{m}</code> <span class="muted">= {to} − {from}</span></h4><div class="stats">{} runs · p50 {} · p90 {} · p99 {} · max {} · each value ± at most {}</div><div class="pair">{}{}</div><figcaption>Left: how many runs took how long. Right: the share of runs done by each time; {}.</figcaption></figure>"#,
        anchor(&s.name),
        x.count,
        ms(x.p50),
        ms(x.p90),
        ms(x.p99),
        ms(x.max),
        ms(x.max_error_ms),
        svg::histogram(&format!("{}: {m}, histogram", s.name), &values, &th),
        svg::cdf(&format!("{}: {m}, cumulative", s.name), &values, &th),
        if th.is_empty() {
            "no SLO on this metric".to_string()
        } else {
            "dashed lines are the SLO thresholds; a dot is the observed percentile, its bar the interval the true percentile lies in (at the scenario's confidence, widened by the error bounds)".to_string()
        }
    );
}

fn timeline(o: &mut String, s: &ScenarioReport) {
    let with_fault: Vec<_> = s
        .runs
        .iter()
        .filter(|r| r.phase(Phase::FaultInjected).is_some())
        .collect();
    if with_fault.is_empty() {
        return;
    }
    let shown: Vec<_> = if with_fault.len() <= TIMELINE_ROWS {
        with_fault.clone()
    } else {
        let mut pick: Vec<_> = with_fault
            .iter()
            .filter(|r| r.verdict != RunVerdict::Pass)
            .take(TIMELINE_ROWS)
            .copied()
            .collect();
        let room = TIMELINE_ROWS - pick.len();
        pick.extend(
            with_fault
                .iter()
                .filter(|r| r.verdict == RunVerdict::Pass)
                .take(room)
                .copied(),
        );
        pick.sort_by_key(|r| r.run);
        pick
    };
    let rows: Vec<TimelineRow> = shown
        .iter()
        .map(|r| TimelineRow {
            run: r.run,
            failed: r.verdict != RunVerdict::Pass,
            phases: r
                .phases
                .iter()
                .filter(|p| p.phase != Phase::SteadyStateVerified)
                .map(|p| (p.phase, p.since_fault_ms, p.error_ms, p.source.as_str()))
                .collect(),
            note: r.failures.join("; "),
        })
        .collect();
    let deadlines: Vec<Deadline> = s
        .expectations
        .iter()
        .map(|e| Deadline {
            label: e.label(),
            at_ms: e.limit_ms,
        })
        .collect();
    let max_err = shown
        .iter()
        .flat_map(|r| r.phases.iter().map(|p| p.error_ms))
        .max()
        .unwrap_or(0);
    let _ = write!(
        o,
        r#"<h3>Timeline</h3><figure>{}<figcaption>One row per run from the fault on: each dot a phase, the segment before it in the same color the time it took to get there. Error bounds are drawn at scale as bars around the dots (the largest is ±{}); hover a dot for its time, bound and source. Red dashed lines are the expectations' deadlines."#,
        svg::timeline(
            &format!("{}: timeline of each run", s.name),
            &rows,
            &deadlines
        ),
        ms(max_err)
    );
    if shown.len() < with_fault.len() || s.runs_kept.is_some() {
        o.push_str(&shown_note(s, shown.len(), with_fault.len()));
    }
    o.push_str("</figcaption></figure>\n");
}

/// `N of M runs shown (…); … in report.json.`
fn shown_note(s: &ScenarioReport, shown: usize, with_fault: usize) -> String {
    let of = match s.runs_kept {
        Some(_) => s.runs_total() as usize,
        None => with_fault,
    };
    format!(
        " {shown} of {of} runs shown (failed runs first, then the earliest); {} in <code>report.json</code>.",
        kept_words(s)
    )
}

/// Every run is in `report.json`, or which ones are.
fn kept_words(s: &ScenarioReport) -> String {
    match &s.runs_kept {
        None => "every run is".to_string(),
        Some(k) => format!("{} runs are (<code>runs_kept</code> says which)", k.kept),
    }
}

/// `(median start since the fault, durations)` of a stage over the counted runs.
fn stage_stats(s: &ScenarioReport, i: usize, st: &Stage) -> Option<StageBar> {
    let t = s.tally.stages.get(i)?;
    let runs = t.durations.len();
    if runs == 0 {
        return None;
    }
    // The ⌈n·q⌉-th smallest (the lower value's bucket when there are too many to keep).
    let q =
        |v: &Ranked, q: f64| v.at_rank(((runs as f64 * q).ceil() as usize).clamp(1, runs), false);
    Some(StageBar {
        name: st.name,
        from: st.from,
        to: st.to,
        start_ms: q(&t.starts, 0.5),
        median_ms: q(&t.durations, 0.5),
        p90_ms: q(&t.durations, 0.9),
        runs,
    })
}

fn breakdown(o: &mut String, s: &ScenarioReport) {
    let stages: Vec<(&Stage, StageBar)> = STAGES
        .iter()
        .chain(RECOVERY.iter())
        .enumerate()
        .filter_map(|(i, st)| stage_stats(s, i, st).map(|b| (st, b)))
        .collect();
    if stages.is_empty() {
        return;
    }
    let bars: Vec<StageBar> = stages
        .iter()
        .map(|(_, b)| StageBar {
            name: b.name,
            from: b.from,
            to: b.to,
            start_ms: b.start_ms,
            median_ms: b.median_ms,
            p90_ms: b.p90_ms,
            runs: b.runs,
        })
        .collect();
    let _ = write!(
        o,
        r#"<h3>Where the time goes</h3><figure>{}<figcaption>Each stage of the recovery between two phases of the same run: the bar starts at the stage's median start after the fault and lasts its median duration; the whisker reaches its p90. Stages overlap where the cluster works in parallel; the longest chain is the critical path.</figcaption></figure>"#,
        svg::breakdown(&format!("{}: where the time goes", s.name), &bars)
    );
    o.push_str(
        r#"<details><summary>Stage table</summary><table><tr><th>stage</th><th>from → to</th><th>what happens</th><th class="num">runs</th><th class="num">median</th><th class="num">p90</th></tr>"#,
    );
    for (st, b) in &stages {
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td><code>{}</code> → <code>{}</code></td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            st.name,
            st.from,
            st.to,
            esc(st.what),
            b.runs,
            ms(b.median_ms),
            ms(b.p90_ms)
        );
    }
    o.push_str("</table></details>\n");
}

fn failed_runs(o: &mut String, s: &ScenarioReport) {
    let failed: Vec<_> = s.runs.iter().filter(|r| !r.failures.is_empty()).collect();
    let count = s.tally.with_failures as usize;
    if failed.is_empty() {
        return;
    }
    let _ = write!(
        o,
        r#"<h3>Failed runs</h3><details{}><summary>{} of {} runs failed</summary><table><tr><th class="num">run</th><th>victim</th><th>why</th></tr>"#,
        if count <= 10 { " open" } else { "" },
        count,
        s.runs_total()
    );
    for r in failed.iter().take(TIMELINE_ROWS) {
        let victim = r.victim_label();
        let _ = write!(
            o,
            r#"<tr><td class="num">{}</td><td><code>{}</code></td><td>{}</td></tr>"#,
            r.run,
            esc(&victim),
            esc(&r.failures.join("; "))
        );
    }
    o.push_str("</table></details>\n");
    if count > TIMELINE_ROWS {
        let kept = if failed.len() < count {
            format!("the first {} are", failed.len())
        } else {
            "every one is".to_string()
        };
        let _ = writeln!(
            o,
            r#"<p class="muted">{count} failed runs in all; {kept} in <code>report.json</code>.</p>"#
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::report::fixture::{Run, journal};
    use crate::report::{build, compare, hlog, json, junit, markdown, text};
    use crate::vocab::Phase;

    const SPEC: &str = "\
name: s
description: <b>escaped</b> & \"quoted\"
service: {name: cassandra}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
heal: replace-on-task-lost
expect:
  - {phase: task_running, within: 20m}
  - {phase: replacement_in_service, within: 5m}
slos:
  time_to_cassandra_running: {p50: 15m, p99: 20m, min_runs: 2}
  time_to_asg_replacement: {p50: 4m, min_runs: 1}
runs: 3
";

    fn events() -> Vec<crate::journal::Event> {
        journal(
            SPEC,
            &[
                Run {
                    run: 1,
                    phases: &[
                        (Phase::ReplacementInService, 180_000, 500),
                        (Phase::TaskLost, 300_000, 1),
                        (Phase::PodReplaceIssued, 302_000, 0),
                        (Phase::TaskRunning, 840_000, 2_500),
                    ],
                    failures: &[],
                },
                Run {
                    run: 2,
                    phases: &[
                        (Phase::ReplacementInService, 400_000, 500),
                        (Phase::TaskLost, 310_000, 1),
                    ],
                    failures: &[
                        "replacement_in_service took 6m 40.0s, expected within 5m",
                        "task_running was not observed within 20m",
                    ],
                },
                Run {
                    run: 3,
                    phases: &[(Phase::TaskRunning, 1_500_000, 1)],
                    failures: &["agent_registered was not observed within 45m <x>"],
                },
            ],
        )
    }

    /// A journal cut anywhere (a crash, a kill) still renders in every format.
    #[test]
    fn every_prefix_of_a_journal_renders() {
        let events = events();
        for cut in 0..=events.len() {
            let r = build(&events[..cut], cut < events.len());
            let html = super::render(&r);
            assert!(html.ends_with("</html>\n"), "cut at {cut}");
            let _ = (json::render(&r), markdown::render(&r), text::render(&r));
            let xml = junit::render(&r);
            assert!(xml.starts_with("<?xml"), "cut at {cut}");
            for s in &r.scenarios {
                let _ = hlog::render(s);
            }
            let full = build(&events, false);
            let _ = compare::render_text(&compare::compare(&full, &r, Default::default()));
        }
    }

    #[test]
    fn failures_and_text_show_escaped() {
        let html = super::render(&build(&events(), false));
        assert!(html.contains("&lt;b&gt;escaped&lt;/b&gt; &amp; &quot;quoted&quot;"));
        assert!(html.contains("45m &lt;x&gt;"));
        assert!(!html.contains("<x>"));
        assert!(
            html.contains(r#"<g class="run failed"><title>run 2: replacement_in_service took"#)
        );
        // the expectations' deadlines are drawn on the timeline
        assert!(html.contains(r#"<text class="deadline""#));
        assert!(html.contains("task_running within 20m"));
    }
}
