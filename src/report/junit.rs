//! `junit.xml`: the verdicts as JUnit XML for CI test reporters.
//!
//! One test suite per scenario; in it one test case per SLO objective, one per `expect` entry,
//! and `runs` (every requested run finished without an error no expectation names). A failed
//! check is a `<failure>` whose message says observed vs threshold and which runs broke it; an
//! inconclusive one is `<skipped>` with the reason (it neither passed nor failed; the exit code
//! is 3); an aborted suite or scenario is an `<error>`.

use std::fmt::Write;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::tally::Listed;
use super::{ExpectationResult, Report, ScenarioReport};
use crate::measure::Verdict;
use crate::measure::confidence::Mode;
use crate::measure::stats::SloResult;
use crate::time::Dur;

/// Runs named one by one in a message; the rest are counted.
const RUNS_NAMED: usize = 10;

fn ms(v: u64) -> String {
    Dur::from_millis(v).human()
}

pub(crate) fn render(r: &Report) -> String {
    let mut junit = quick_junit::Report::new("chaos-harness");
    for s in &r.scenarios {
        junit.add_test_suite(suite(r, s));
    }
    if let Some(why) = &r.aborted
        && !r.scenarios.iter().any(|s| s.aborted.is_some())
    {
        // Aborted outside any scenario (before the first, or between two): say so somewhere a
        // test reporter shows it.
        let mut suite = TestSuite::new("chaos-harness");
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status
            .set_type("aborted")
            .set_message(format!("suite aborted: {why}"));
        suite.add_test_case(TestCase::new("suite", status));
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .expect("a report in memory always serialises")
}

fn suite(r: &Report, s: &ScenarioReport) -> TestSuite {
    let mut suite = TestSuite::new(s.name.as_str());
    suite.add_properties([
        Property::new("file", s.file.as_str()),
        Property::new("target", r.target.as_str()),
        Property::new("simulated", r.simulated.to_string()),
        Property::new("seed", r.seed.to_string()),
        Property::new("fault", s.fault),
        Property::new("heal", s.heal),
        Property::new("runs_requested", s.runs_requested.to_string()),
        Property::new("runs_mode", s.mode.as_str()),
        Property::new("runs_finished", s.runs_finished.to_string()),
        Property::new("verdict", s.verdict.as_str()),
    ]);
    if let Some(label) = &s.prediction {
        suite.add_property(Property::new("prediction", label.as_str()));
        suite.set_system_out(format!("{label}: {}\n", super::PREDICTION_NOTE));
    }
    if let Some(stopped) = s.stopped {
        suite.add_property(Property::new("runs_stopped", stopped.as_str()));
    }
    for slo in &s.slos {
        suite.add_test_case(slo_case(s, slo));
    }
    for e in &s.expectations {
        suite.add_test_case(expectation_case(s, e));
    }
    suite.add_test_case(runs_case(s));
    suite
}

fn case(s: &ScenarioReport, name: String, status: TestCaseStatus) -> TestCase {
    let mut c = TestCase::new(name, status);
    c.set_classname(s.name.as_str());
    c
}

/// The first runs by number, and how many more of `total` there are.
fn named_runs(runs: &[u32], total: usize) -> String {
    let mut out = runs
        .iter()
        .take(RUNS_NAMED)
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if total > RUNS_NAMED {
        let _ = write!(out, " and {} more", total - RUNS_NAMED);
    }
    out
}

fn slo_case(s: &ScenarioReport, slo: &SloResult) -> TestCase {
    let threshold = Dur::from_millis(slo.threshold_ms);
    let name = format!("slo: {} {} <= {threshold}", slo.metric, slo.percentile);
    let observed = match slo.observed_ms {
        Some(o) => format!(
            "observed {} {} (true value within {})",
            slo.percentile,
            ms(o),
            slo.interval_words()
        ),
        None => "no value observed".to_string(),
    };
    let none = Listed::default();
    let over = s.runs_over(slo.metric, slo.threshold_ms).unwrap_or(&none);
    let broke = if over.runs == 0 {
        String::new()
    } else {
        format!(
            "; {} of {} runs over {}: run {}",
            over.runs,
            slo.runs,
            threshold,
            named_runs(&over.run_numbers(), over.runs)
        )
    };
    let needed = slo.runs_needed.map_or(String::new(), |n| {
        format!("; a pass needs at least {n} runs")
    });
    let mut details = format!(
        "{}\n{} over {} runs (min_runs {}{needed}); threshold {}\n",
        slo.reason, observed, slo.runs, slo.min_runs, threshold
    );
    for (run, v) in &over.items {
        let _ = writeln!(details, "run {run}: {} = {}", slo.metric, v.human());
    }
    if over.items.len() < over.total {
        let _ = writeln!(details, "… and {} more", over.total - over.items.len());
    }
    let status = match slo.verdict {
        Verdict::Pass => {
            let mut case = case(s, name, TestCaseStatus::success());
            case.set_system_out(format!("{}; {observed}\n", slo.reason));
            return case;
        }
        Verdict::Fail => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_type("slo")
                .set_message(format!("{observed} > threshold {}{broke}", threshold))
                .set_description(details);
            st
        }
        Verdict::Inconclusive => {
            let mut st = TestCaseStatus::skipped();
            st.set_type("inconclusive")
                .set_message(format!("inconclusive: {}; {observed}{broke}", slo.reason))
                .set_description(details);
            st
        }
    };
    case(s, name, status)
}

fn expectation_case(s: &ScenarioReport, e: &ExpectationResult) -> TestCase {
    let name = format!("expect: {}", e.label());
    let status = match e.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail => {
            let mut runs: Vec<u32> = e.failed_runs.iter().map(|f| f.run).collect();
            runs.dedup();
            let broken = e.runs_broken() as usize;
            let first = &e.failed_runs[0].failure;
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_type("expectation")
                .set_message(format!(
                    "{} of {} runs broke `{}`: run {} (run {}: {first})",
                    broken,
                    e.runs,
                    e.label(),
                    named_runs(&runs, broken),
                    e.failed_runs[0].run
                ))
                .set_description(
                    e.failed_runs
                        .iter()
                        .map(|f| format!("run {}: {}\n", f.run, f.failure))
                        .collect::<String>(),
                );
            st
        }
        Verdict::Inconclusive => {
            let mut st = TestCaseStatus::skipped();
            st.set_type("inconclusive")
                .set_message("inconclusive: no run finished");
            st
        }
    };
    case(s, name, status)
}

/// `run N: failure` per line, and how many more there are.
fn listed(l: &Listed<String>) -> String {
    let mut out: String = l
        .items
        .iter()
        .map(|(run, f)| format!("run {run}: {f}\n"))
        .collect();
    if l.items.len() < l.total {
        let _ = writeln!(out, "… and {} more", l.total - l.items.len());
    }
    out
}

fn runs_case(s: &ScenarioReport) -> TestCase {
    let name = match s.mode {
        Mode::Fixed => format!("runs: {} requested", s.runs_requested),
        Mode::Sequential => format!("runs: at most {}, until decided", s.runs_requested),
    };
    let other = s.unattributed_failures();
    let status = if let Some(why) = &s.aborted {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
        st.set_type("aborted").set_message(format!(
            "aborted after {} of {} runs: {why}",
            s.runs_finished, s.runs_requested
        ));
        st.set_description(listed(other));
        st
    } else if let Some((first_run, first)) = other.items.first() {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_type("run")
            .set_message(format!(
                "{} of {} runs failed: run {} (run {first_run}: {first})",
                other.runs,
                s.runs_requested,
                named_runs(&other.run_numbers(), other.runs),
            ))
            .set_description(listed(other));
        st
    } else if s.runs_finished < s.runs_requested && s.stopped.is_none() {
        let mut st = TestCaseStatus::skipped();
        st.set_type("inconclusive").set_message(format!(
            "inconclusive: only {} of {} runs finished",
            s.runs_finished, s.runs_requested
        ));
        st
    } else {
        TestCaseStatus::success()
    };
    case(s, name, status)
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
heal: replace-on-task-lost
expect:
  - {phase: task_running, within: 20m}
slos:
  time_to_cassandra_running: {p90: 5m, min_runs: 1}
runs: 2
";

    #[test]
    fn failures_name_observed_threshold_and_runs() {
        let events = journal(
            SPEC,
            &[
                Run {
                    run: 1,
                    phases: &[(Phase::TaskRunning, 600_000, 0)],
                    failures: &[],
                },
                Run {
                    run: 2,
                    phases: &[(Phase::TaskRunning, 1_500_000, 0)],
                    failures: &["task_running took 25m 00.0s, expected within 20m"],
                },
            ],
        );
        let r = crate::report::build(&events, false);
        let xml = render(&r);
        assert!(
            xml.contains(r#"<testsuite name="s" tests="3" skipped="0" errors="0" failures="2">"#),
            "{xml}"
        );
        assert!(
            xml.contains("observed p90 25m 00.0s (true value within [")
                && xml.contains(", ∞) at 95 %) &gt; threshold 5m; 2 of 2 runs over 5m: run 1, 2"),
            "{xml}"
        );
        assert!(
            xml.contains("1 of 2 runs broke `task_running within 20m`: run 2"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="runs: 2 requested" classname="s"/>"#),
            "{xml}"
        );
    }
    /// A journal written before failures were records holds only their sentences: it renders
    /// exactly as the same journal with records.
    #[test]
    fn an_old_journals_failure_sentences_render_as_records_do() {
        let events = journal(
            SPEC,
            &[
                Run {
                    run: 1,
                    phases: &[(Phase::TaskRunning, 1_500_000, 0)],
                    failures: &[
                        "task_running took 25m 00.0s, expected within 20m",
                        "recovery_complete was not observed within 45m",
                    ],
                },
                Run {
                    run: 2,
                    phases: &[],
                    failures: &["task_running was not observed within 20m"],
                },
            ],
        );
        let lines: Vec<String> = events
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap();
                if let Some(fs) = v.get_mut("failures").and_then(|f| f.as_array_mut()) {
                    for f in fs {
                        *f = f["detail"].clone();
                    }
                }
                v.to_string()
            })
            .collect();
        let journal = lines.join("\n");
        assert!(
            journal.contains(r#""failures":["task_running took 25m"#),
            "{journal}"
        );
        let old: Vec<crate::journal::Event> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(old, events);
        let (new, old) = (
            crate::report::build(&events, false),
            crate::report::build(&old, false),
        );
        assert_eq!(render(&old), render(&new));
        assert_eq!(
            crate::report::json::render(&old),
            crate::report::json::render(&new)
        );
        let xml = render(&new);
        assert!(
            xml.contains("2 of 2 runs broke `task_running within 20m`: run 1, 2"),
            "{xml}"
        );
        assert!(
            xml.contains("recovery_complete was not observed within 45m"),
            "{xml}"
        );
    }
}
