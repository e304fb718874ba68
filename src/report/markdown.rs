//! `report.md`: a Markdown summary fit for a CI job summary or a pull request.

use std::fmt::Write;

use super::{Report, RunVerdict, ScenarioReport};
use crate::measure::Verdict;
use crate::time::Dur;
use crate::vocab::Phase;

/// Runs listed one by one when a scenario has at most this many; otherwise only failed ones.
const RUN_LIST_LIMIT: usize = 20;

fn ms(v: u64) -> String {
    Dur::from_millis(v).human()
}

fn badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Inconclusive => "⚠️ inconclusive",
    }
}

pub(crate) fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# chaos-harness report\n");
    let _ = writeln!(
        o,
        "**{}** · target `{}` ({}) · seed `{}` · {} scenario{}\n",
        badge(r.verdict),
        r.target,
        if r.simulated {
            "simulated figures"
        } else {
            "real cluster"
        },
        r.seed,
        r.scenarios.len(),
        if r.scenarios.len() == 1 { "" } else { "s" }
    );
    if let Some(why) = &r.aborted {
        let _ = writeln!(o, "> **Aborted:** {why}\n");
    }
    if r.journal_torn_tail {
        let _ = writeln!(o, "> A torn last line of the journal was ignored.\n");
    }
    for s in &r.scenarios {
        scenario(&mut o, s);
    }
    o
}

fn scenario(o: &mut String, s: &ScenarioReport) {
    let _ = writeln!(o, "## {} — {}\n", s.name, badge(s.verdict));
    if !s.description.is_empty() {
        let _ = writeln!(o, "{}\n", s.description.trim());
    }
    if let Some(label) = &s.prediction {
        let _ = writeln!(o, "> **{label}**: {}\n", super::PREDICTION_NOTE);
    }
    let _ = writeln!(
        o,
        "`{}` · fault `{}` · heal `{}` · {}\n",
        s.file,
        s.fault,
        s.heal,
        s.runs_words()
    );
    if let Some(why) = &s.aborted {
        let _ = writeln!(o, "> **Aborted:** {why}\n");
    }
    if let Some(line) = s.economy_line() {
        let _ = writeln!(o, "{line}\n");
    }
    if let Some(line) = s.scheduler_line() {
        let _ = writeln!(o, "{line}\n");
    }
    if !s.metrics.is_empty() {
        let _ = writeln!(
            o,
            "| metric | runs | min | p50 | p90 | p99 | max | mean | ± max error |"
        );
        let _ = writeln!(
            o,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for (m, x) in &s.metrics {
            let _ = writeln!(
                o,
                "| `{m}` | {} | {} | {} | {} | {} | {} | {} | {} |",
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
        let _ = writeln!(o);
    }
    if !s.slos.is_empty() {
        let _ = writeln!(
            o,
            "| SLO | threshold | observed | true value within | verdict |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | --- | --- |");
        for slo in &s.slos {
            let bounds = slo.interval_words();
            let _ = writeln!(
                o,
                "| `{} {}` | {} | {} | {} | {}: {} |",
                slo.metric,
                slo.percentile,
                ms(slo.threshold_ms),
                slo.observed_ms.map_or("—".into(), ms),
                bounds,
                badge(slo.verdict),
                slo.reason
            );
        }
        let _ = writeln!(o);
    }
    expectations(o, s);
    phase_breakdown(o, s);
    runs(o, s);
}

/// Each `expect` entry and the runs that broke it.
fn expectations(o: &mut String, s: &ScenarioReport) {
    if s.expectations.is_empty() {
        return;
    }
    let _ = writeln!(o, "| expectation | runs | verdict |");
    let _ = writeln!(o, "| --- | ---: | --- |");
    for e in &s.expectations {
        let note = e.note(RUN_LIST_LIMIT);
        let _ = writeln!(
            o,
            "| `{}` | {} | {} ({note}) |",
            e.label(),
            e.runs,
            badge(e.verdict)
        );
    }
    let _ = writeln!(o);
}

/// Where the time goes: each phase's median time since the fault and its typical source.
fn phase_breakdown(o: &mut String, s: &ScenarioReport) {
    let mut rows = Vec::new();
    for p in Phase::ALL {
        let Some(t) = s.tally.phases.get(&p) else {
            continue;
        };
        if p == Phase::SteadyStateVerified {
            continue;
        }
        // The lower median (its bucket's lowest value when there are too many to keep).
        let median = t.since_fault.at_rank(t.runs.div_ceil(2), false);
        rows.push(format!(
            "| `{p}` | {} | {} | {} | {} |",
            t.runs,
            ms(median),
            ms(t.max_error_ms),
            t.sources.join(", ")
        ));
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "| phase | runs | median since fault | max error | source |"
    );
    let _ = writeln!(o, "| --- | ---: | ---: | ---: | --- |");
    for row in rows {
        let _ = writeln!(o, "{row}");
    }
    let _ = writeln!(o);
}

fn runs(o: &mut String, s: &ScenarioReport) {
    let total = s.runs_total() as usize;
    let listed: Vec<_> = if total <= RUN_LIST_LIMIT {
        s.runs.iter().collect()
    } else {
        s.runs
            .iter()
            .filter(|r| r.verdict != RunVerdict::Pass)
            .take(RUN_LIST_LIMIT)
            .collect()
    };
    if listed.is_empty() {
        return;
    }
    let _ = writeln!(o, "| run | verdict | victim | replacement | notes |");
    let _ = writeln!(o, "| ---: | --- | --- | --- | --- |");
    for r in listed {
        let victim = r.victim_label();
        let repl = r
            .replacements
            .iter()
            .filter_map(|x| x.instance.as_ref().map(ToString::to_string))
            .collect::<Vec<_>>()
            .join(", ");
        let verdict = match r.verdict {
            RunVerdict::Pass => "pass",
            RunVerdict::Fail => "fail",
            RunVerdict::Aborted => "aborted",
        };
        let _ = writeln!(
            o,
            "| {} | {verdict} | {victim} | {} | {} |",
            r.run,
            if repl.is_empty() { "—" } else { &repl },
            r.failures.join("; ")
        );
    }
    if total > RUN_LIST_LIMIT {
        let kept = match &s.runs_kept {
            None => "every run and phase is".to_string(),
            Some(k) => format!("{} of them are (`runs_kept` says which)", k.kept),
        };
        let _ = writeln!(o, "\n{total} runs in all; {kept} in `report.json`.");
    }
    let _ = writeln!(o);
}
