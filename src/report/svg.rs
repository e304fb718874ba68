//! Hand-written inline SVG charts for `report.html`: a metric's histogram and CDF with its SLO
//! thresholds, the per-run timeline, and the stage breakdown. Pure functions from data to
//! markup: no scripts, no fonts of their own (text inherits the page's), coordinates rounded to
//! a tenth of a pixel so that the same report gives the same bytes.

use std::fmt::Write;

use crate::measure::Verdict;
use crate::measure::stats::IntervalMs;
use crate::time::Dur;
use crate::vocab::Phase;

/// Escapes text for HTML and SVG, in content and in attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate: one decimal, no trailing `.0`.
fn n(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

pub(crate) fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "#1a7f37",
        Verdict::Fail => "#cf222e",
        Verdict::Inconclusive => "#9a6700",
    }
}

/// One color per phase, the same in every chart and legend.
pub(crate) fn phase_color(p: Phase) -> &'static str {
    match p {
        Phase::SteadyStateVerified => "#8c959f",
        Phase::FaultInjected => "#24292f",
        Phase::InstanceTerminated => "#9c755f",
        Phase::ReplacementLaunched => "#f28e2b",
        Phase::ReplacementInService => "#e0b31a",
        Phase::AgentDisconnected => "#c9ced4",
        Phase::AgentLost => "#a0a7b0",
        Phase::AgentRegistered => "#3fa39b",
        Phase::TaskLost => "#e15759",
        Phase::PodReplaceIssued => "#b07aa1",
        Phase::TaskRunning => "#4e79a7",
        Phase::RecoveryComplete => "#59a14f",
        Phase::RingRestarted => "#2f6b3a",
    }
}

/// Tick steps for a time axis, in ms.
const STEPS: [u64; 27] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
    120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000,
    43_200_000, 86_400_000,
];

/// The smallest step that cuts `span` ms into at most `parts` pieces.
fn nice_step(span: u64, parts: u64) -> u64 {
    STEPS
        .into_iter()
        .find(|s| span.div_ceil(*s) <= parts)
        .unwrap_or(STEPS[STEPS.len() - 1])
}

/// A tick label: `0`, `30s`, `2m`, `1m30s`, `1h`.
fn tick_label(ms: u64) -> String {
    if ms == 0 {
        "0".into()
    } else {
        Dur::from_millis(ms).to_string()
    }
}

/// A linear map from a value range onto a pixel range.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    px0: f64,
    px1: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, px0: f64, px1: f64) -> Self {
        let hi = if hi > lo { hi } else { lo + 1.0 };
        Self { lo, hi, px0, px1 }
    }

    fn at(&self, v: f64) -> f64 {
        self.px0 + (v - self.lo) / (self.hi - self.lo) * (self.px1 - self.px0)
    }

    fn at_clamped(&self, v: f64) -> f64 {
        self.at(v.clamp(self.lo, self.hi))
    }
}

/// A time axis over `[lo, hi]` ms with round ticks.
struct TimeAxis {
    lo: u64,
    hi: u64,
    step: u64,
}

impl TimeAxis {
    /// Round bounds around `[min, max]`, cut into at most `parts` steps.
    fn around(min: u64, max: u64, parts: u64, from_zero: bool) -> Self {
        let min = if from_zero { 0 } else { min };
        let step = nice_step(max.saturating_sub(min).max(1), parts);
        let lo = min / step * step;
        let mut hi = max.div_ceil(step) * step;
        if hi <= lo {
            hi = lo + step;
        }
        // The bounds moved outwards: a coarser step may now fit.
        let step2 = nice_step(hi - lo, parts);
        if step2 != step && lo.is_multiple_of(step2) && hi.is_multiple_of(step2) {
            return Self {
                lo,
                hi,
                step: step2,
            };
        }
        Self { lo, hi, step }
    }

    fn ticks(&self) -> impl Iterator<Item = u64> + '_ {
        (self.lo..=self.hi).step_by(self.step as usize)
    }
}

/// A threshold to draw on a distribution chart: an SLO objective and how it fared.
pub(crate) struct Threshold {
    /// `p99 ≤ 25m`.
    pub(crate) label: String,
    /// The percentile as a quantile in (0, 1].
    pub(crate) quantile: f64,
    pub(crate) threshold_ms: u64,
    /// The observed percentile and the interval the true value lies in (to the right edge of
    /// the chart when unbounded).
    pub(crate) observed: Option<(u64, IntervalMs)>,
    pub(crate) verdict: Verdict,
}

pub(crate) const DIST_W: f64 = 540.0;
pub(crate) const DIST_H: f64 = 240.0;
const DIST_LEFT: f64 = 46.0;
const DIST_RIGHT: f64 = 14.0;
/// Room above the plot: one line per threshold label, so that labels never overlap.
fn dist_top(thresholds: usize) -> f64 {
    12.0 + 11.0 * thresholds.max(1) as f64 + 4.0
}
const DIST_BOTTOM: f64 = 36.0;

/// The x axis both distribution charts of a metric share: the values, and the thresholds that
/// are not far beyond them (a threshold far out is named at the edge instead of squashing the
/// data).
fn dist_axis(values: &[(u64, u64)], thresholds: &[Threshold]) -> TimeAxis {
    let vmin = values.first().map_or(0, |v| v.0);
    let vmax = values.last().map_or(0, |v| v.0);
    let reach = vmax.saturating_mul(3) / 2;
    let max = thresholds
        .iter()
        .map(|t| t.threshold_ms)
        .filter(|t| *t <= reach)
        .fold(vmax, u64::max);
    let min = thresholds
        .iter()
        .map(|t| t.threshold_ms)
        .filter(|t| *t <= reach)
        .fold(vmin, u64::min);
    // Start at zero when the data sit near it anyway.
    let from_zero = min < (max - min) / 2;
    TimeAxis::around(min, max, 8, from_zero)
}

fn svg_open(o: &mut String, w: f64, h: f64, class: &str, label: &str) {
    let _ = writeln!(
        o,
        r#"<svg class="{class}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        n(w),
        n(h),
        n(w),
        n(h),
        esc(label)
    );
    let _ = writeln!(o, "<title>{}</title>", esc(label));
}

/// Vertical gridlines and labels of a time axis along the bottom of a plot area.
fn time_axis(o: &mut String, axis: &TimeAxis, x: &Scale, top: f64, bottom: f64) {
    o.push_str(r#"<g class="axis">"#);
    for t in axis.ticks() {
        let px = x.at(t as f64);
        let _ = writeln!(
            o,
            r#"<line class="grid" x1="{0}" y1="{1}" x2="{0}" y2="{2}"/><text x="{0}" y="{3}" text-anchor="middle">{4}</text>"#,
            n(px),
            n(top),
            n(bottom),
            n(bottom + 14.0),
            tick_label(t)
        );
    }
    let _ = writeln!(
        o,
        r#"<line class="base" x1="{}" y1="{2}" x2="{}" y2="{2}"/></g>"#,
        n(x.px0),
        n(x.px1),
        n(bottom)
    );
}

/// Dashed vertical lines at the thresholds, labelled at the top (staggered when several), or
/// an arrow at the right edge for one beyond the axis.
fn threshold_marks(o: &mut String, thresholds: &[Threshold], x: &Scale, bottom: f64) {
    for (i, t) in thresholds.iter().enumerate() {
        let color = verdict_color(t.verdict);
        let ly = 20.0 + 11.0 * i as f64;
        if (t.threshold_ms as f64) > x.hi {
            let _ = writeln!(
                o,
                r#"<text class="thr" x="{}" y="{}" text-anchor="end" fill="{color}">{} →</text>"#,
                n(x.px1),
                n(ly),
                esc(&t.label)
            );
            continue;
        }
        let px = x.at(t.threshold_ms as f64);
        let anchor = if px > (x.px0 + x.px1) / 2.0 {
            "end"
        } else {
            "start"
        };
        let dx = if anchor == "end" { -3.0 } else { 3.0 };
        let _ = writeln!(
            o,
            r#"<line class="thr" x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{color}"/><text class="thr" x="{3}" y="{4}" text-anchor="{anchor}" fill="{color}">{5}</text>"#,
            n(px),
            n(ly + 3.0),
            n(bottom),
            n(px + dx),
            n(ly),
            esc(&t.label)
        );
    }
}

/// Bins: a round width cutting the values' range into about 2·√n bins (6 to 40), aligned
/// on multiples of the width: `(first bin's start, width, runs in each bin)`.
fn bins(values: &[(u64, u64)]) -> (u64, u64, Vec<u64>) {
    let vmin = values.first().map_or(0, |v| v.0);
    let vmax = values.last().map_or(0, |v| v.0);
    let runs: u64 = values.iter().map(|v| v.1).sum();
    let want = ((runs as f64).sqrt() * 2.0).clamp(6.0, 40.0) as u64;
    let width = nice_step((vmax - vmin).max(1), want);
    let first = vmin / width * width;
    let mut counts = vec![0u64; ((vmax - first) / width + 1) as usize];
    for (v, k) in values {
        counts[((v - first) / width) as usize] += k;
    }
    (first, width, counts)
}

/// A histogram of a metric's values with the SLO thresholds drawn. `values` are
/// `(value, how many runs)` in increasing order.
pub(crate) fn histogram(title: &str, values: &[(u64, u64)], thresholds: &[Threshold]) -> String {
    let mut o = String::new();
    svg_open(&mut o, DIST_W, DIST_H, "chart hist", title);
    let axis = dist_axis(values, thresholds);
    let (top, bottom) = (dist_top(thresholds.len()), DIST_H - DIST_BOTTOM);
    let x = Scale::new(
        axis.lo as f64,
        axis.hi as f64,
        DIST_LEFT,
        DIST_W - DIST_RIGHT,
    );
    let (first, width, counts) = bins(values);
    let cmax = counts.iter().copied().max().unwrap_or(0).max(1);
    let ystep = [
        1u64, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000,
        200_000, 500_000, 1_000_000,
    ]
    .into_iter()
    .find(|s| cmax.div_ceil(*s) <= 5)
    .unwrap_or(cmax);
    let ymax = cmax.div_ceil(ystep) * ystep;
    let y = Scale::new(0.0, ymax as f64, bottom, top);
    o.push_str(r#"<g class="axis">"#);
    for c in (0..=ymax).step_by(ystep as usize) {
        let _ = writeln!(
            o,
            r#"<line class="grid" x1="{x0}" y1="{py}" x2="{x1}" y2="{py}"/><text x="{tx}" y="{ty}" text-anchor="end">{c}</text>"#,
            x0 = n(x.px0),
            py = n(y.at(c as f64)),
            x1 = n(x.px1),
            tx = n(x.px0 - 5.0),
            ty = n(y.at(c as f64) + 3.5),
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {0} {1})">runs</text></g>"#,
        n(12.0),
        n((top + bottom) / 2.0)
    );
    time_axis(&mut o, &axis, &x, top, bottom);
    o.push_str(r#"<g class="bars">"#);
    for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        let lo = first + i as u64 * width;
        let (x0, x1) = (x.at_clamped(lo as f64), x.at_clamped((lo + width) as f64));
        let _ = writeln!(
            o,
            r#"<rect x="{}" y="{}" width="{}" height="{}"><title>{} – {}: {c} run{}</title></rect>"#,
            n(x0 + 0.5),
            n(y.at(*c as f64)),
            n((x1 - x0 - 1.0).max(0.5)),
            n(bottom - y.at(*c as f64)),
            Dur::from_millis(lo).human(),
            Dur::from_millis(lo + width).human(),
            if *c == 1 { "" } else { "s" }
        );
    }
    o.push_str("</g>\n");
    threshold_marks(&mut o, thresholds, &x, bottom);
    let _ = writeln!(
        o,
        r#"<text class="axis-title" x="{}" y="{}" text-anchor="end">time, bins of {}</text>"#,
        n(x.px1),
        n(DIST_H - 3.0),
        Dur::from_millis(width)
    );
    o.push_str("</svg>");
    o
}

/// The empirical CDF of a metric's values, with each SLO objective drawn as its threshold and
/// the observed percentile (a dot, with the interval the true value lies in as a bar).
pub(crate) fn cdf(title: &str, values: &[(u64, u64)], thresholds: &[Threshold]) -> String {
    let mut o = String::new();
    svg_open(&mut o, DIST_W, DIST_H, "chart cdf", title);
    let axis = dist_axis(values, thresholds);
    let (top, bottom) = (dist_top(thresholds.len()), DIST_H - DIST_BOTTOM);
    let x = Scale::new(
        axis.lo as f64,
        axis.hi as f64,
        DIST_LEFT,
        DIST_W - DIST_RIGHT,
    );
    let y = Scale::new(0.0, 1.0, bottom, top);
    o.push_str(r#"<g class="axis">"#);
    for (q, label) in [
        (0.0, "0"),
        (0.25, "25%"),
        (0.5, "50%"),
        (0.75, "75%"),
        (0.9, "90%"),
        (1.0, "100%"),
    ] {
        let _ = writeln!(
            o,
            r#"<line class="grid" x1="{x0}" y1="{py}" x2="{x1}" y2="{py}"/><text x="{tx}" y="{ty}" text-anchor="end">{label}</text>"#,
            x0 = n(x.px0),
            py = n(y.at(q)),
            x1 = n(x.px1),
            tx = n(x.px0 - 5.0),
            ty = n(y.at(q) + 3.5),
        );
    }
    o.push_str("</g>\n");
    time_axis(&mut o, &axis, &x, top, bottom);
    if !values.is_empty() {
        let total = values.iter().map(|v| v.1).sum::<u64>() as f64;
        let mut d = format!("M{} {}", n(x.px0), n(y.at(0.0)));
        let mut below = 0;
        for (v, k) in values {
            below += k;
            let px = x.at_clamped(*v as f64);
            let _ = write!(d, " H{} V{}", n(px), n(y.at(below as f64 / total)));
        }
        let _ = write!(d, " H{}", n(x.px1));
        let _ = writeln!(o, r#"<path class="cdf" d="{d}"/>"#);
    }
    threshold_marks(&mut o, thresholds, &x, bottom);
    for t in thresholds {
        let Some((obs, interval)) = t.observed else {
            continue;
        };
        let (lo, hi) = (interval.lower, interval.upper);
        let color = verdict_color(t.verdict);
        let py = y.at(t.quantile);
        let _ = writeln!(
            o,
            r#"<g class="obs"><title>{label} observed {obs} (true value within {within}): {verdict}</title><line class="guide" x1="{ox}" y1="{py}" x2="{tx}" y2="{py}" stroke="{color}"/><line x1="{lx}" y1="{py}" x2="{hx}" y2="{py}" stroke="{color}"/><circle cx="{ox}" cy="{py}" r="3.5" fill="{color}"/></g>"#,
            label = esc(&t.label),
            obs = Dur::from_millis(obs).human(),
            within = esc(&interval.human()),
            verdict = t.verdict,
            ox = n(x.at_clamped(obs as f64)),
            tx = n(x.at_clamped(t.threshold_ms as f64)),
            lx = n(x.at_clamped(lo as f64)),
            hx = n(hi.map_or(x.px1, |hi| x.at_clamped(hi as f64))),
            py = n(py),
        );
    }
    let _ = writeln!(
        o,
        r#"<text class="axis-title" x="{}" y="{}" text-anchor="end">time since the fault ≤ x, share of runs</text>"#,
        n(x.px1),
        n(DIST_H - 3.0)
    );
    o.push_str("</svg>");
    o
}

/// One row of the timeline: a run and its phases since the fault.
pub(crate) struct TimelineRow {
    pub(crate) run: u32,
    pub(crate) failed: bool,
    /// `(phase, ms since the fault, error ms, source)`, in time order.
    pub(crate) phases: Vec<(Phase, i64, u64, &'static str)>,
    /// Why the run failed, for the tooltip.
    pub(crate) note: String,
}

/// A deadline to draw across the timeline (an `expect` entry).
pub(crate) struct Deadline {
    pub(crate) label: String,
    pub(crate) at_ms: u64,
}

pub(crate) const TL_W: f64 = 1100.0;
const TL_LEFT: f64 = 64.0;
const TL_RIGHT: f64 = 16.0;
const TL_ROW: f64 = 18.0;

/// One row per run from the fault on: each phase a marker with its error bound as a bar (at
/// scale), and the stretch leading up to it a segment in the phase's color.
pub(crate) fn timeline(title: &str, rows: &[TimelineRow], deadlines: &[Deadline]) -> String {
    let data_max = rows
        .iter()
        .flat_map(|r| r.phases.iter().map(|p| p.1.max(0) as u64 + p.2))
        .max()
        .unwrap_or(0);
    let reach = data_max.saturating_mul(3) / 2;
    let (shown, beyond): (Vec<&Deadline>, Vec<&Deadline>) =
        deadlines.iter().partition(|d| d.at_ms <= reach);
    let max = shown.iter().map(|d| d.at_ms).fold(data_max, u64::max);
    // One line of labels per deadline above the plot, so that none overlap.
    let top = 14.0 + 11.0 * deadlines.len().max(1) as f64 + 8.0;
    let axis = TimeAxis::around(0, max, 12, true);
    let legend: Vec<Phase> = Phase::ALL
        .into_iter()
        .filter(|p| rows.iter().any(|r| r.phases.iter().any(|x| x.0 == *p)))
        .collect();
    let plot_bottom = top + rows.len() as f64 * TL_ROW;
    let (legend_svg, legend_h) = legend_row(&legend, TL_LEFT, plot_bottom + 30.0, TL_W - TL_RIGHT);
    let h = plot_bottom + 30.0 + legend_h;
    let mut o = String::new();
    svg_open(&mut o, TL_W, h, "chart timeline", title);
    let x = Scale::new(axis.lo as f64, axis.hi as f64, TL_LEFT, TL_W - TL_RIGHT);
    for (i, _) in rows.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        let _ = writeln!(
            o,
            r#"<rect class="band" x="0" y="{}" width="{}" height="{}"/>"#,
            n(top + i as f64 * TL_ROW),
            n(TL_W),
            n(TL_ROW)
        );
    }
    time_axis(&mut o, &axis, &x, top, plot_bottom);
    deadline_marks(&mut o, &x, &shown, &beyond, plot_bottom);
    for (i, r) in rows.iter().enumerate() {
        timeline_row(&mut o, &x, r, top + i as f64 * TL_ROW + TL_ROW / 2.0);
    }
    let _ = writeln!(
        o,
        r#"<text class="axis-title" x="{}" y="{}" text-anchor="end">time since the fault</text>"#,
        n(TL_W - TL_RIGHT),
        n(plot_bottom + 28.0)
    );
    o.push_str(&legend_svg);
    o.push_str("</svg>");
    o
}

/// The `expect` deadlines: a line with its label for those within reach, a label with an
/// arrow at the right edge for those beyond.
fn deadline_marks(
    o: &mut String,
    x: &Scale,
    shown: &[&Deadline],
    beyond: &[&Deadline],
    plot_bottom: f64,
) {
    for (i, d) in beyond.iter().enumerate() {
        let _ = writeln!(
            o,
            r#"<text class="deadline" x="{}" y="{}" text-anchor="end">{} →</text>"#,
            n(x.px1),
            n(14.0 + 11.0 * (shown.len() + i) as f64),
            esc(&d.label)
        );
    }
    for (i, d) in shown.iter().enumerate() {
        let px = x.at(d.at_ms as f64);
        let anchor = if px > TL_W * 0.7 { "end" } else { "start" };
        let dx = if anchor == "end" { -3.0 } else { 3.0 };
        let ly = 14.0 + 11.0 * i as f64;
        let _ = writeln!(
            o,
            r#"<line class="deadline" x1="{0}" y1="{1}" x2="{0}" y2="{2}"/><text class="deadline" x="{3}" y="{4}" text-anchor="{anchor}">{5}</text>"#,
            n(px),
            n(ly + 3.0),
            n(plot_bottom),
            n(px + dx),
            n(ly),
            esc(&d.label)
        );
    }
}

/// One run's row, centred on `cy`: its label, the segments up to each phase, and each phase
/// with its error bound.
fn timeline_row(o: &mut String, x: &Scale, r: &TimelineRow, cy: f64) {
    let _ = writeln!(
        o,
        r#"<g class="run{}"><title>run {}{}{}</title><text class="label" x="{}" y="{}" text-anchor="end">{}run {}</text>"#,
        if r.failed { " failed" } else { "" },
        r.run,
        if r.note.is_empty() { "" } else { ": " },
        esc(&r.note),
        n(TL_LEFT - 8.0),
        n(cy + 4.0),
        if r.failed { "✗ " } else { "" },
        r.run
    );
    let mut prev = 0.0f64;
    for &(p, at, _, _) in r.phases.iter().filter(|p| p.1 >= 0) {
        let px = x.at_clamped(at as f64);
        if px - x.at(prev) > 0.05 {
            let _ = writeln!(
                o,
                r#"<rect class="seg" x="{}" y="{}" width="{}" height="8" fill="{}"/>"#,
                n(x.at(prev)),
                n(cy - 4.0),
                n(px - x.at(prev)),
                phase_color(p)
            );
        }
        prev = prev.max(at as f64);
    }
    for &(p, at, err, source) in &r.phases {
        if at < 0 {
            continue;
        }
        let px = x.at_clamped(at as f64);
        let lo = x.at_clamped(at as f64 - err as f64);
        let hi = x.at_clamped(at as f64 + err as f64);
        let _ = writeln!(
            o,
            r#"<g class="ph"><title>{p}: {} ± {} ({source})</title><line class="err" x1="{}" y1="{cy}" x2="{}" y2="{cy}"/><line class="err" x1="{lo}" y1="{y0}" x2="{lo}" y2="{y1}"/><line class="err" x1="{hi}" y1="{y0}" x2="{hi}" y2="{y1}"/><circle cx="{}" cy="{cy}" r="3.2" fill="{}"/></g>"#,
            Dur::from_millis(at as u64).human(),
            Dur::from_millis(err).human(),
            n(x.at_clamped(at as f64 - err as f64)),
            n(x.at_clamped(at as f64 + err as f64)),
            n(px),
            phase_color(p),
            cy = n(cy),
            lo = n(lo),
            hi = n(hi),
            y0 = n(cy - 5.0),
            y1 = n(cy + 5.0),
        );
    }
    o.push_str("</g>\n");
}

/// A wrapped row of colored phase names; returns the markup and its height.
fn legend_row(phases: &[Phase], x0: f64, y0: f64, x_max: f64) -> (String, f64) {
    let mut o = String::from(r#"<g class="legend">"#);
    let (mut x, mut y) = (x0, y0 + 12.0);
    for p in phases {
        // Text is about 6.2 px a character at the legend's size.
        let w = 14.0 + p.as_str().len() as f64 * 6.2 + 18.0;
        if x + w > x_max && x > x0 {
            x = x0;
            y += 18.0;
        }
        let _ = writeln!(
            o,
            r#"<rect x="{}" y="{}" width="10" height="10" rx="2" fill="{}"/><text x="{}" y="{}">{p}</text>"#,
            n(x),
            n(y - 9.0),
            phase_color(*p),
            n(x + 14.0),
            n(y)
        );
        x += w;
    }
    o.push_str("</g>\n");
    (o, y - y0 + 8.0)
}

/// One stage of the recovery for the breakdown: how long it took across runs.
pub(crate) struct StageBar {
    pub(crate) name: &'static str,
    pub(crate) from: Phase,
    pub(crate) to: Phase,
    /// Median start since the fault, median and p90 duration, in ms.
    pub(crate) start_ms: u64,
    pub(crate) median_ms: u64,
    pub(crate) p90_ms: u64,
    pub(crate) runs: usize,
}

pub(crate) const BD_W: f64 = 1100.0;
const BD_LEFT: f64 = 300.0;
const BD_RIGHT_COL: f64 = 190.0;
const BD_TOP: f64 = 10.0;
const BD_ROW: f64 = 30.0;

/// Where the time goes: each stage a bar from its median start for its median duration, with a
/// whisker to its p90, on one time axis from the fault, so that overlaps and the critical path
/// show.
pub(crate) fn breakdown(title: &str, stages: &[StageBar]) -> String {
    let max = stages
        .iter()
        .map(|s| s.start_ms + s.p90_ms.max(s.median_ms))
        .max()
        .unwrap_or(0);
    let axis = TimeAxis::around(0, max, 10, true);
    let plot_bottom = BD_TOP + stages.len() as f64 * BD_ROW;
    let h = plot_bottom + 24.0;
    let mut o = String::new();
    svg_open(&mut o, BD_W, h, "chart breakdown", title);
    let x = Scale::new(
        axis.lo as f64,
        axis.hi as f64,
        BD_LEFT,
        BD_W - BD_RIGHT_COL - 10.0,
    );
    time_axis(&mut o, &axis, &x, BD_TOP, plot_bottom);
    for (i, s) in stages.iter().enumerate() {
        let top = BD_TOP + i as f64 * BD_ROW;
        let cy = top + BD_ROW / 2.0;
        let x0 = x.at(s.start_ms as f64);
        let x1 = x.at((s.start_ms + s.median_ms) as f64);
        let x90 = x.at((s.start_ms + s.p90_ms.max(s.median_ms)) as f64);
        let _ = writeln!(
            o,
            r#"<g class="stage"><title>{name}: {from} → {to}, median {med} (p90 {p90}) over {runs} runs, starting a median {start} after the fault</title><text class="label" x="8" y="{ly}">{name}</text><text class="sub" x="8" y="{sy}">{from} → {to}</text><line class="whisker" x1="{x1}" y1="{cy}" x2="{x90}" y2="{cy}"/><line class="whisker" x1="{x90}" y1="{wy0}" x2="{x90}" y2="{wy1}"/><rect x="{x0}" y="{by}" width="{bw}" height="12" rx="2" fill="{color}"/><text class="value" x="{vx}" y="{vy}">{med} <tspan class="sub">p90 {p90}</tspan></text></g>"#,
            name = s.name,
            from = s.from,
            to = s.to,
            med = Dur::from_millis(s.median_ms).human(),
            p90 = Dur::from_millis(s.p90_ms).human(),
            runs = s.runs,
            start = Dur::from_millis(s.start_ms).human(),
            ly = n(cy - 1.0),
            sy = n(cy + 10.0),
            x1 = n(x1),
            x90 = n(x90),
            cy = n(cy),
            wy0 = n(cy - 4.0),
            wy1 = n(cy + 4.0),
            x0 = n(x0),
            by = n(cy - 6.0),
            bw = n((x1 - x0).max(1.5)),
            color = phase_color(s.to),
            vx = n(BD_W - BD_RIGHT_COL + 6.0),
            vy = n(cy + 4.0),
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_short_and_stable() {
        assert_eq!(n(1.0), "1");
        assert_eq!(n(1.04), "1");
        assert_eq!(n(1.06), "1.1");
        assert_eq!(n(-2.5), "-2.5");
    }

    #[test]
    fn time_axes_use_round_steps() {
        let a = TimeAxis::around(13 * 60_000 + 5_000, 18 * 60_000 + 46_000, 8, false);
        assert_eq!((a.lo, a.hi, a.step), (780_000, 1_140_000, 60_000));
        let a = TimeAxis::around(0, 25 * 60_000, 8, true);
        assert_eq!(a.step, 300_000);
        assert_eq!(
            a.ticks().map(tick_label).collect::<Vec<_>>(),
            ["0", "5m", "10m", "15m", "20m", "25m"]
        );
        let a = TimeAxis::around(0, 0, 8, true);
        assert!(a.hi > a.lo);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn histogram_counts_every_value_once() {
        let values: Vec<(u64, u64)> = (0..100).map(|i| (600_000 + i * 3_000, 1)).collect();
        let svg = histogram("t", &values, &[]);
        let total: u64 = svg
            .match_indices(" run")
            .map(|(i, _)| {
                let head = &svg[..i];
                let num = head.rsplit(": ").next().unwrap();
                num.parse::<u64>().unwrap()
            })
            .sum();
        assert_eq!(total, 100);
    }
}
