//! `histograms/<scenario>.hlog`: each metric's HDR histogram in the HdrHistogram interval-log
//! format (as Java's `HistogramLogWriter` writes it), so that drills can be merged and read by
//! other HDR tools (`HistogramLogProcessor`, HistogramLogAnalyzer, the Rust `hdrhistogram`
//! crate's `IntervalLogIterator`).
//!
//! One interval per metric, tagged with the metric's name, covering the scenario from its first
//! fault to its last observed phase; values are milliseconds; histograms are V2 compressed
//! (deflate), the encoding every HdrHistogram implementation reads.

use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::ScenarioReport;

/// The folder of a report folder that holds the histogram logs.
pub(crate) const DIR: &str = "histograms";

/// The file name of a scenario's histogram log.
pub(crate) fn file_name(s: &ScenarioReport) -> String {
    format!("{}.hlog", s.name)
}

/// The interval log of a scenario's metrics; `None` when no run produced any metric.
pub(crate) fn render(s: &ScenarioReport) -> Option<String> {
    if s.histograms.is_empty() {
        return None;
    }
    let start = s.tally.first_fault?;
    let end = s.tally.last_phase.unwrap_or(start);
    let start_time =
        SystemTime::UNIX_EPOCH + Duration::from_millis(start.as_millis().max(0) as u64);
    let span = end.since(start).to_std();

    let mut buf = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "chaos-harness: scenario {}, {} runs; values in milliseconds, one interval per metric (tag)",
            s.name, s.runs_finished
        ))
        .with_start_time(start_time)
        .with_base_time(start_time)
        .begin_log_with(&mut buf, &mut serializer)
        .expect("writing to memory cannot fail");
    // The column legend Java's writer puts after the headers (readers skip it).
    buf.extend_from_slice(
        b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
    );
    {
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut buf, &mut serializer)
            .expect("writing to memory cannot fail");
        for (m, h) in &s.histograms {
            w.write_histogram(h.histogram(), Duration::ZERO, span, Tag::new(m.as_str()))
                .expect("a histogram in memory always serialises");
        }
    }
    Some(String::from_utf8(buf).expect("interval logs are ASCII"))
}

#[cfg(test)]
mod tests {
    use crate::vocab::Phase;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;
    use crate::report::fixture::{Run, journal};

    #[test]
    fn reads_back_with_the_same_counts() {
        let spec = "\
name: s
service: {name: cassandra}
asg: {name: dcos-private-agents}
target: {pod: node-4}
fault: terminate-instance
";
        let runs = [
            Run {
                run: 1,
                phases: &[(Phase::TaskRunning, 600_000, 1)],
                failures: &[],
            },
            Run {
                run: 2,
                phases: &[(Phase::TaskRunning, 700_000, 1)],
                failures: &[],
            },
            Run {
                run: 3,
                phases: &[(Phase::TaskRunning, 1_500_000, 1)],
                failures: &[],
            },
        ];
        let r = crate::report::build(&journal(spec, &runs), false);
        let s = &r.scenarios[0];
        let log = render(s).unwrap();
        assert!(
            log.starts_with("#chaos-harness: scenario s, 3 runs"),
            "{log}"
        );
        let mut seen = 0;
        for e in IntervalLogIterator::new(log.as_bytes()) {
            if let LogEntry::Interval(i) = e.unwrap() {
                let tag = i.tag().unwrap().as_str().to_string();
                let bytes = STANDARD.decode(i.encoded_histogram()).unwrap();
                let h: Histogram<u64> = Deserializer::new()
                    .deserialize(&mut bytes.as_slice())
                    .unwrap();
                let mine = s
                    .histograms
                    .iter()
                    .find(|(m, _)| m.as_str() == tag)
                    .unwrap();
                assert_eq!(h, *mine.1.histogram(), "{tag}");
                assert_eq!(h.len(), 3);
                seen += 1;
            }
        }
        assert_eq!(seen, s.histograms.len());
    }
}
