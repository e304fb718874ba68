//! The journal: every event of a suite, appended to `journal.jsonl` as it happens, one JSON
//! object per line. Reports are rendered from it alone.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cluster::{AgentId, InstanceId, PodName, TaskId};
use crate::measure::{Observed, Source};
use crate::scenario::Scenario;
use crate::time::Timestamp;
use crate::vocab::{Phase, Requests, Target};

/// The version of the journal and `report.json` formats.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The file name of the journal inside a report folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// What happened, in the order it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    SuiteStarted {
        schema_version: u32,
        tool_version: String,
        target: Target,
        simulated: bool,
        seed: u64,
        /// Wall-clock time of the start (not rendered into reports, which stay reproducible).
        wall_clock: Timestamp,
        /// Everything the suite is to run, so that `run --resume` can finish it.
        #[serde(default)]
        planned: Vec<Planned>,
        /// The `--profile` given for the simulated cluster, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<String>,
    },
    ScenarioStarted {
        scenario: Box<Scenario>,
        file: String,
        /// The run count in effect (the file's `runs`, or `--runs`).
        runs: u32,
        /// Set when the runs are a model's prediction rather than measurements: the label
        /// every report shows (`model-based prediction from profile P fitted to N … runs`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prediction: Option<String>,
    },
    RunStarted {
        scenario: String,
        run: u32,
        at: Timestamp,
    },
    VictimsSelected {
        scenario: String,
        run: u32,
        victims: Vec<Victim>,
    },
    PhaseObserved {
        scenario: String,
        run: u32,
        phase: Phase,
        at: Timestamp,
        error_ms: u64,
        source: Source,
    },
    /// A call that failed and was ridden out (or, if it could not be, ended the run).
    ApiError {
        scenario: String,
        run: u32,
        at: Timestamp,
        error: ApiErrorRecord,
    },
    /// The service's scheduler did not answer (Admin Router's 502/504 or `service not
    /// found`: no scheduler listens, e.g. while Marathon relaunches it after its agent died).
    /// `from` and `to` are the first and last refused calls (the outage began after the last
    /// answer before `from`); `back` the first answer after them (`None`: none before the run
    /// ended).
    SchedulerUnavailable {
        scenario: String,
        run: u32,
        from: Timestamp,
        to: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back: Option<Timestamp>,
        refused: u32,
    },
    RunFinished {
        scenario: String,
        run: u32,
        at: Timestamp,
        /// Expectations that did not hold; empty when the run passed.
        failures: Vec<RunFailure>,
        replacements: Vec<Replacement>,
        /// The requests sent to each service from the run's start to here.
        #[serde(default)]
        requests: Requests,
    },
    /// A run cut short by a crash or a kill; `run --resume` redoes it, and reports ignore what
    /// it had recorded.
    RunDiscarded {
        scenario: String,
        run: u32,
        reason: String,
    },
    /// `run --resume` picked the suite up again.
    SuiteResumed {
        wall_clock: Timestamp,
    },
    Aborted {
        scenario: Option<String>,
        run: Option<u32>,
        at: Timestamp,
        reason: String,
    },
    SuiteFinished {
        wall_clock: Timestamp,
    },
}

/// A failed call as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiErrorRecord {
    pub(crate) api: crate::cluster::Api,
    /// `throttled`, `transient`, `not_found`, `unauthorized`, `fatal`.
    pub(crate) kind: String,
    pub(crate) message: String,
}

impl ApiErrorRecord {
    pub(crate) fn of(e: &crate::cluster::ClusterError) -> Self {
        use crate::cluster::ClusterError as E;
        let (api, kind, message) = match e {
            E::Throttled { api, message } => (api, "throttled", message),
            E::Transient { api, message } => (api, "transient", message),
            E::NotFound { api, message } => (api, "not_found", message),
            E::Unauthorized { api, message } => (api, "unauthorized", message),
            E::Fatal { api, message } => (api, "fatal", message),
        };
        Self {
            api: *api,
            kind: kind.to_string(),
            message: message.clone(),
        }
    }
}

/// An expectation a run broke: which phase, how, and the runner's sentence about it
/// (`task_running took 31m 02.0s, expected within 30m`), which reports show as is.
///
/// Journals written before this record existed hold the sentence alone; it still reads, its
/// phase and kind taken from the sentence's words (see [`RunFailure::from_sentence`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunFailure {
    pub(crate) phase: Phase,
    pub(crate) kind: FailureKind,
    pub(crate) detail: String,
}

/// How a run broke an expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailureKind {
    /// An awaited phase was not seen by its deadline.
    NotObserved,
    /// A phase was seen, but later than its `within`.
    TooLate,
    /// A phase happened inside its `absent_for` window.
    Happened,
}

impl RunFailure {
    /// Reads a sentence of an older journal: its first word is the phase, and the words after
    /// it are the runner's fixed wording for each kind. `None` when it is neither.
    pub(crate) fn from_sentence(sentence: &str) -> Option<Self> {
        let (word, rest) = sentence.split_once(' ')?;
        let phase = Phase::ALL.into_iter().find(|p| p.as_str() == word)?;
        let kind = if rest.starts_with("was not observed within ") {
            FailureKind::NotObserved
        } else if rest.starts_with("took ") {
            FailureKind::TooLate
        } else if rest.starts_with("happened ") {
            FailureKind::Happened
        } else {
            return None;
        };
        Some(Self {
            phase,
            kind,
            detail: sentence.to_string(),
        })
    }
}

/// The record form of [`RunFailure`], as journals since it existed hold it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFailureRecord {
    phase: Phase,
    kind: FailureKind,
    detail: String,
}

/// Accepts the record, or (older journals) the sentence alone; written without `untagged`
/// so that a bad record keeps serde's precise error.
impl<'de> Deserialize<'de> for RunFailure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Unexpected, Visitor};
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = RunFailure;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a run failure: {phase, kind, detail}, or a sentence starting with a phase",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RunFailure, E> {
                RunFailure::from_sentence(s)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(s), &self))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RunFailure, A::Error> {
                let r = RunFailureRecord::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RunFailure {
                    phase: r.phase,
                    kind: r.kind,
                    detail: r.detail,
                })
            }
        }
        d.deserialize_any(Either)
    }
}

/// A scenario the suite is to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Planned {
    pub(crate) scenario: Box<Scenario>,
    pub(crate) file: String,
    pub runs: u32,
}

/// The chain from what the scenario names to the instance that is hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Victim {
    pub(crate) instance: InstanceId,
    pub(crate) private_ip: Option<String>,
    pub(crate) asg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent: Option<AgentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pod: Option<PodName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) task: Option<TaskId>,
}

impl Victim {
    /// The chain in words, joined by `sep`: `pod node-4 -> agent … -> ip … -> instance … -> asg …`.
    pub(crate) fn chain(&self, sep: &str) -> String {
        [
            self.pod.as_ref().map(|p| format!("pod {p}")),
            self.agent.as_ref().map(|a| format!("agent {a}")),
            self.private_ip.as_ref().map(|ip| format!("ip {ip}")),
            Some(format!("instance {}", self.instance)),
            self.asg.as_ref().map(|a| format!("asg {a}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(sep)
    }
}

/// What replaced a victim: new instance, new agent, new task (each only when observed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    pub(crate) victim: InstanceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) instance: Option<InstanceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent: Option<AgentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) task: Option<TaskId>,
}

/// A consumer of the event stream (journal, progress display, …).
pub trait Sink {
    fn emit(&mut self, event: &Event) -> io::Result<()>;
}

impl Sink for Vec<Event> {
    fn emit(&mut self, event: &Event) -> io::Result<()> {
        self.push(event.clone());
        Ok(())
    }
}

/// Appends events to `journal.jsonl`: each event is one whole line, handed to the OS before
/// the runner takes its next action. A simulated suite ([`JournalWriter::per_run`]) hands
/// over a run when the run ends, as one [`RunLine`] (a run takes microseconds there, and a
/// run cut short is redone on resume anyway), every other event at once.
pub struct JournalWriter {
    file: File,
    line: Vec<u8>,
    /// A per-run writer's run so far.
    run: Option<Vec<Event>>,
}

impl JournalWriter {
    /// Creates (or appends to) the journal in `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            file,
            line: Vec::with_capacity(512),
            run: None,
        })
    }

    /// Hands a run to the OS in one line when the run ends (for simulated suites).
    pub fn per_run(mut self) -> Self {
        self.run = Some(Vec::new());
        self
    }

    /// Opens an existing journal to append to it, first cutting off a torn last line (the
    /// writer died mid-line) so that the next event starts on a line of its own.
    pub(crate) fn reopen(dir: &Path) -> io::Result<Self> {
        let path = dir.join(JOURNAL_FILE);
        let bytes = std::fs::read(&path)?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if keep < bytes.len() {
            OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(keep as u64)?;
        }
        Self::open(dir)
    }
}

fn push_line(line: &mut Vec<u8>, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *line, value)?;
    line.push(b'\n');
    Ok(())
}

impl Sink for JournalWriter {
    fn emit(&mut self, event: &Event) -> io::Result<()> {
        match &mut self.run {
            Some(run) => {
                let inside_a_run = matches!(
                    event,
                    Event::RunStarted { .. }
                        | Event::VictimsSelected { .. }
                        | Event::PhaseObserved { .. }
                        | Event::ApiError { .. }
                );
                if inside_a_run {
                    run.push(event.clone());
                    return Ok(());
                }
                match RunLine::of(std::mem::take(run), event) {
                    Ok(whole) => push_line(&mut self.line, &whole)?,
                    Err(held) => {
                        for e in held.iter().chain([event]) {
                            push_line(&mut self.line, e)?;
                        }
                    }
                }
            }
            None => push_line(&mut self.line, event)?,
        }
        self.file.write_all(&self.line)?;
        self.line.clear();
        self.file.flush()
    }
}

/// A run's events still held when the writer goes (the suite stopped inside a run) are
/// handed over all the same, a line each.
impl Drop for JournalWriter {
    fn drop(&mut self) {
        for e in self.run.take().unwrap_or_default() {
            let _ = push_line(&mut self.line, &e);
        }
        if !self.line.is_empty() {
            let _ = self.file.write_all(&self.line);
        }
    }
}

/// A whole run in one line (`{"event":"run",…}`), as a simulated suite writes it: the events
/// from its `run_started` to its `run_finished` without the scenario and run repeated, and
/// times in ms after the start; phases as `[phase, ms, error_ms, source]`. Reading it gives
/// back those very events, so a journal holds the same either way; it is about 2.5 times
/// smaller and quicker to write and read. Lines of single events (every journal before it)
/// read as they always did.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunLine {
    event: RunTag,
    scenario: String,
    run: u32,
    at: Timestamp,
    /// What happened inside the run, in order.
    inside: Vec<Inside>,
    /// When it finished, in ms after `at`.
    finished: i64,
    failures: Vec<RunFailure>,
    replacements: Vec<Replacement>,
    requests: Requests,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum RunTag {
    #[serde(rename = "run")]
    Run,
}

/// An event inside a [`RunLine`]: `victims_selected`, `phase_observed` or `api_error`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Inside {
    Phase(Phase, i64, u64, Source),
    Victims { victims: Vec<Victim> },
    ApiError { at: i64, error: ApiErrorRecord },
}

/// The prefix that tells a [`RunLine`] from an event's line.
const RUN_LINE: &str = "{\"event\":\"run\",";

impl RunLine {
    /// The run whose events so far are `held` and which `end` finishes, in one line; the
    /// events back when they are not one whole run.
    fn of(held: Vec<Event>, end: &Event) -> Result<RunLine, Vec<Event>> {
        let (
            Some(Event::RunStarted { scenario, run, at }),
            Event::RunFinished {
                scenario: end_scenario,
                run: end_run,
                at: end_at,
                failures,
                replacements,
                requests,
            },
        ) = (held.first(), end)
        else {
            return Err(held);
        };
        if (scenario, run) != (end_scenario, end_run) {
            return Err(held);
        }
        let ms = |t: &Timestamp| t.as_millis() - at.as_millis();
        let mut inside = Vec::with_capacity(held.len() - 1);
        for e in &held[1..] {
            inside.push(match e {
                Event::PhaseObserved {
                    scenario: s,
                    run: r,
                    phase,
                    at,
                    error_ms,
                    source,
                } if (s, r) == (scenario, run) => Inside::Phase(*phase, ms(at), *error_ms, *source),
                Event::VictimsSelected {
                    scenario: s,
                    run: r,
                    victims,
                } if (s, r) == (scenario, run) => Inside::Victims {
                    victims: victims.clone(),
                },
                Event::ApiError {
                    scenario: s,
                    run: r,
                    at,
                    error,
                } if (s, r) == (scenario, run) => Inside::ApiError {
                    at: ms(at),
                    error: error.clone(),
                },
                _ => return Err(held),
            });
        }
        Ok(RunLine {
            event: RunTag::Run,
            scenario: scenario.clone(),
            run: *run,
            at: *at,
            inside,
            finished: ms(end_at),
            failures: failures.clone(),
            replacements: replacements.clone(),
            requests: *requests,
        })
    }

    /// The events the line stands for, in order.
    fn into_events(self) -> Vec<Event> {
        let RunLine {
            scenario,
            run,
            at,
            inside,
            ..
        } = self;
        let t = |ms: i64| Timestamp::from_millis(at.as_millis() + ms);
        let mut out = Vec::with_capacity(inside.len() + 2);
        out.push(Event::RunStarted {
            scenario: scenario.clone(),
            run,
            at,
        });
        for i in inside {
            out.push(match i {
                Inside::Phase(phase, ms, error_ms, source) => Event::PhaseObserved {
                    scenario: scenario.clone(),
                    run,
                    phase,
                    at: t(ms),
                    error_ms,
                    source,
                },
                Inside::Victims { victims } => Event::VictimsSelected {
                    scenario: scenario.clone(),
                    run,
                    victims,
                },
                Inside::ApiError { at, error } => Event::ApiError {
                    scenario: scenario.clone(),
                    run,
                    at: t(at),
                    error,
                },
            });
        }
        out.push(Event::RunFinished {
            scenario,
            run,
            at: t(self.finished),
            failures: self.failures,
            replacements: self.replacements,
            requests: self.requests,
        });
        out
    }
}

/// Why a journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}; hint: point at a report folder holding journal.jsonl", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}:{line}: not a journal event: {message}; hint: the journal may have been edited or written by another version", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// What reading a journal gave: the events, and whether a torn last line was dropped.
#[derive(Debug)]
pub struct ReadJournal {
    pub events: Vec<Event>,
    pub torn_tail: bool,
}

/// Reads `dir/journal.jsonl` whole. A last line without its newline (the process died while
/// writing it) is ignored and reported; any other bad line is an error.
pub fn read(dir: &Path) -> Result<ReadJournal, ReadError> {
    let mut events = Vec::new();
    let mut reader = Events::open(dir)?;
    for e in reader.by_ref() {
        events.push(e?);
    }
    Ok(ReadJournal {
        events,
        torn_tail: reader.torn_tail,
    })
}

/// The events of `dir/journal.jsonl` one at a time, so that reading a journal of any length
/// costs the memory of one line. A torn last line ends the events and sets
/// [`Events::torn_tail`]; any other bad line is an error.
pub struct Events {
    path: PathBuf,
    reader: BufReader<File>,
    buf: String,
    line_no: usize,
    /// The rest of a [`RunLine`]'s events.
    pending: std::vec::IntoIter<Event>,
    pub torn_tail: bool,
}

impl Events {
    pub fn open(dir: &Path) -> Result<Self, ReadError> {
        let path = dir.join(JOURNAL_FILE);
        let file = File::open(&path).map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            path,
            reader: BufReader::with_capacity(1 << 16, file),
            buf: String::new(),
            line_no: 0,
            pending: Vec::new().into_iter(),
            torn_tail: false,
        })
    }
}

impl Iterator for Events {
    type Item = Result<Event, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.next() {
            return Some(Ok(e));
        }
        loop {
            self.buf.clear();
            let n = match self.reader.read_line(&mut self.buf) {
                Ok(n) => n,
                Err(source) => {
                    return Some(Err(ReadError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
            };
            if n == 0 || self.torn_tail {
                return None;
            }
            self.line_no += 1;
            if !self.buf.ends_with('\n') {
                self.torn_tail = true;
                return None;
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            let corrupt = |e: serde_json::Error| ReadError::Corrupt {
                path: self.path.clone(),
                line: self.line_no,
                message: e.to_string(),
            };
            if !self.buf.starts_with(RUN_LINE) {
                return Some(serde_json::from_str(&self.buf).map_err(corrupt));
            }
            match serde_json::from_str::<RunLine>(&self.buf) {
                Ok(whole) => {
                    self.pending = whole.into_events().into_iter();
                    return self.pending.next().map(Ok);
                }
                Err(e) => return Some(Err(corrupt(e))),
            }
        }
    }
}

/// One run as the journal records it: its victims, every phase with its error bound, and
/// how it ended. Unlike a report, nothing is summarised away.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RunRecord {
    pub(crate) scenario: String,
    pub(crate) run: u32,
    pub(crate) victims: Vec<Victim>,
    pub(crate) phases: BTreeMap<Phase, Observed>,
    /// When the run ended (finished or aborted); `None` when the journal stops before.
    pub(crate) ended: Option<Timestamp>,
    pub(crate) aborted: bool,
}

/// Every run of the journal that was not discarded, in the order they started.
pub(crate) fn runs(events: &[Event]) -> Vec<RunRecord> {
    let mut out: Vec<RunRecord> = Vec::new();
    let find = |out: &mut Vec<RunRecord>, sc: &str, run: u32| {
        out.iter()
            .rposition(|r| r.scenario == sc && r.run == run && r.ended.is_none())
    };
    for e in events {
        match e {
            Event::RunStarted { scenario, run, .. } => out.push(RunRecord {
                scenario: scenario.clone(),
                run: *run,
                victims: Vec::new(),
                phases: BTreeMap::new(),
                ended: None,
                aborted: false,
            }),
            Event::VictimsSelected {
                scenario,
                run,
                victims,
            } => {
                if let Some(i) = find(&mut out, scenario, *run) {
                    out[i].victims = victims.clone();
                }
            }
            Event::PhaseObserved {
                scenario,
                run,
                phase,
                at,
                error_ms,
                source,
            } => {
                if let Some(i) = find(&mut out, scenario, *run) {
                    let o = Observed {
                        at: *at,
                        error_ms: *error_ms,
                        source: *source,
                    };
                    out[i].phases.insert(*phase, o);
                }
            }
            Event::RunFinished {
                scenario, run, at, ..
            } => {
                if let Some(i) = find(&mut out, scenario, *run) {
                    out[i].ended = Some(*at);
                }
            }
            Event::Aborted {
                scenario, run, at, ..
            } => {
                for r in out.iter_mut().filter(|r| r.ended.is_none()) {
                    let hit = scenario.as_ref().is_none_or(|s| *s == r.scenario)
                        && run.is_none_or(|n| n == r.run);
                    if hit {
                        r.ended = Some(*at);
                        r.aborted = true;
                    }
                }
            }
            Event::RunDiscarded { scenario, run, .. } => {
                out.retain(|r| !(r.scenario == *scenario && r.run == *run));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event::RunStarted {
            scenario: "s".into(),
            run: 1,
            at: Timestamp::from_millis(1_000),
        }
    }

    #[test]
    fn writes_whole_lines_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JournalWriter::open(dir.path()).unwrap();
        w.emit(&sample()).unwrap();
        w.emit(&Event::SuiteFinished {
            wall_clock: Timestamp::from_millis(5),
        })
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with("{\"event\":\"run_started\""), "{text}");
        let r = read(dir.path()).unwrap();
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.events[0], sample());
        assert!(!r.torn_tail);
    }

    #[test]
    fn a_per_run_writer_hands_a_run_over_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JournalWriter::open(dir.path()).unwrap().per_run();
        let lines = || {
            std::fs::read_to_string(dir.path().join(JOURNAL_FILE))
                .unwrap()
                .lines()
                .count()
        };
        w.emit(&sample()).unwrap();
        assert_eq!(lines(), 0, "a run's first line waits for the run's end");
        w.emit(&Event::RunDiscarded {
            scenario: "s".into(),
            run: 1,
            reason: "x".into(),
        })
        .unwrap();
        assert_eq!(lines(), 2);
        assert_eq!(read(dir.path()).unwrap().events[0], sample());
        // A run the writer is dropped in is handed over all the same.
        w.emit(&sample()).unwrap();
        drop(w);
        assert_eq!(lines(), 3);
    }

    #[test]
    fn a_per_run_writer_writes_a_whole_run_in_one_line_that_reads_back_as_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let at = |ms: i64| Timestamp::from_millis(1_767_225_600_000 + ms);
        let phase = |run: u32, phase: Phase, ms: i64, source: Source| Event::PhaseObserved {
            scenario: "s".into(),
            run,
            phase,
            at: at(ms),
            error_ms: 2500,
            source,
        };
        let victim = Victim {
            instance: InstanceId::new("i-0123456789abcdef0"),
            private_ip: Some("10.0.1.7".into()),
            asg: Some("g".into()),
            agent: Some(AgentId::new("a-S3")),
            pod: Some(PodName::new("node-4")),
            task: Some(TaskId::new("cassandra__node-4-server__x")),
        };
        let run = |run: u32| {
            vec![
                Event::RunStarted {
                    scenario: "s".into(),
                    run,
                    at: at(0),
                },
                Event::VictimsSelected {
                    scenario: "s".into(),
                    run,
                    victims: vec![victim.clone()],
                },
                phase(run, Phase::FaultInjected, 1, Source::Harness),
                Event::ApiError {
                    scenario: "s".into(),
                    run,
                    at: at(900),
                    error: ApiErrorRecord {
                        api: crate::cluster::Api::Ec2,
                        kind: "throttled".into(),
                        message: "slow down".into(),
                    },
                },
                phase(run, Phase::TaskLost, -5, Source::PollScheduler),
                Event::RunFinished {
                    scenario: "s".into(),
                    run,
                    at: at(61_000),
                    failures: vec![
                        RunFailure::from_sentence("task_lost took 1m, expected within 1s").unwrap(),
                    ],
                    replacements: vec![Replacement {
                        victim: victim.instance.clone(),
                        instance: Some(InstanceId::new("i-1")),
                        agent: None,
                        task: None,
                    }],
                    requests: Requests {
                        ec2: 3,
                        autoscaling: 4,
                        dcos: 5,
                    },
                },
            ]
        };
        let mut events = run(1);
        // A run cut short stays in single lines.
        events.extend(run(2).into_iter().take(3));
        events.push(Event::RunDiscarded {
            scenario: "s".into(),
            run: 2,
            reason: "interrupted".into(),
        });
        let mut w = JournalWriter::open(dir.path()).unwrap().per_run();
        for e in &events {
            w.emit(e).unwrap();
        }
        drop(w);
        let text = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 4, "{text}");
        assert!(lines[0].starts_with(RUN_LINE), "{}", lines[0]);
        assert!(lines[1].starts_with("{\"event\":\"run_started\""));
        assert_eq!(read(dir.path()).unwrap().events, events);
        // A third smaller than the same events a line each, even with a one-letter scenario.
        let single: usize = run(1)
            .iter()
            .map(|e| serde_json::to_string(e).unwrap().len() + 1)
            .sum();
        assert!(
            lines[0].len() * 3 < single * 2,
            "{} vs {single}",
            lines[0].len()
        );
        // A run line that is not whole is an error with its line number.
        std::fs::write(
            dir.path().join(JOURNAL_FILE),
            format!("{RUN_LINE}\"run\":1}}\n"),
        )
        .unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(matches!(err, ReadError::Corrupt { line: 1, .. }), "{err}");
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JournalWriter::open(dir.path()).unwrap();
        w.emit(&sample()).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .write_all(b"{\"event\":\"run_sta")
            .unwrap();
        let r = read(dir.path()).unwrap();
        assert_eq!(r.events, vec![sample()]);
        assert!(r.torn_tail);
    }

    #[test]
    fn reopening_cuts_a_torn_tail_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JournalWriter::open(dir.path()).unwrap();
        w.emit(&sample()).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .write_all(b"{\"event\":\"run_sta")
            .unwrap();
        let mut w = JournalWriter::reopen(dir.path()).unwrap();
        w.emit(&sample()).unwrap();
        let r = read(dir.path()).unwrap();
        assert_eq!(r.events, vec![sample(), sample()]);
        assert!(!r.torn_tail);
    }

    fn finished(failures: serde_json::Value) -> Event {
        serde_json::from_value(serde_json::json!({
            "event": "run_finished",
            "scenario": "s",
            "run": 2,
            "at": "2026-01-01T00:00:00.000Z",
            "failures": failures,
            "replacements": [],
        }))
        .unwrap()
    }

    fn failures_of(e: &Event) -> &[RunFailure] {
        match e {
            Event::RunFinished { failures, .. } => failures,
            e => panic!("not a run_finished: {e:?}"),
        }
    }

    #[test]
    fn an_old_journals_failure_sentences_read_as_records() {
        let e = finished(serde_json::json!([
            "task_running took 31m 02.0s, expected within 30m",
            "agent_registered was not observed within 45m",
            "task_lost happened 12.0s after the fault, expected none for 1m",
        ]));
        let kinds: Vec<_> = failures_of(&e).iter().map(|f| (f.phase, f.kind)).collect();
        assert_eq!(
            kinds,
            [
                (Phase::TaskRunning, FailureKind::TooLate),
                (Phase::AgentRegistered, FailureKind::NotObserved),
                (Phase::TaskLost, FailureKind::Happened),
            ]
        );
        assert_eq!(
            failures_of(&e)[0].detail,
            "task_running took 31m 02.0s, expected within 30m"
        );
    }

    #[test]
    fn a_sentence_that_names_no_phase_is_refused() {
        for bad in ["task_running_x took 1s", "aborted: bye", "task_running"] {
            let r: Result<RunFailure, _> = serde_json::from_value(serde_json::json!(bad));
            assert!(r.is_err(), "{bad}");
        }
    }

    #[test]
    fn failure_records_round_trip() {
        let f = RunFailure {
            phase: Phase::RecoveryComplete,
            kind: FailureKind::NotObserved,
            detail: "recovery_complete was not observed within 30m".into(),
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"phase":"recovery_complete","kind":"not_observed","detail":"recovery_complete was not observed within 30m"}"#
        );
        assert_eq!(serde_json::from_str::<RunFailure>(&json).unwrap(), f);
        let e = finished(serde_json::json!([f]));
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
        let extra = r#"{"phase":"task_lost","kind":"happened","detail":"x","why":1}"#;
        assert!(serde_json::from_str::<RunFailure>(extra).is_err());
    }

    #[test]
    fn runs_keep_every_phase_drop_discarded_runs_and_mark_aborted_ones() {
        let at = Timestamp::from_millis;
        let phase = |run: u32, ms: i64| Event::PhaseObserved {
            scenario: "s".into(),
            run,
            phase: Phase::FaultInjected,
            at: at(ms),
            error_ms: 7,
            source: Source::Harness,
        };
        let started = |run: u32| Event::RunStarted {
            scenario: "s".into(),
            run,
            at: at(0),
        };
        let events = vec![
            started(1),
            phase(1, 10),
            Event::RunFinished {
                scenario: "s".into(),
                run: 1,
                at: at(50),
                failures: vec![],
                replacements: vec![],
                requests: Default::default(),
            },
            started(2),
            phase(2, 60),
            Event::RunDiscarded {
                scenario: "s".into(),
                run: 2,
                reason: "interrupted".into(),
            },
            started(2),
            phase(2, 70),
            Event::Aborted {
                scenario: Some("s".into()),
                run: Some(2),
                at: at(90),
                reason: "stop".into(),
            },
        ];
        let r = runs(&events);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].run, r[0].ended, r[0].aborted),
            (1, Some(at(50)), false)
        );
        assert_eq!(r[0].phases[&Phase::FaultInjected].error_ms, 7);
        assert_eq!(
            (r[1].run, r[1].ended, r[1].aborted),
            (2, Some(at(90)), true)
        );
        assert_eq!(r[1].phases[&Phase::FaultInjected].at, at(70));
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), "garbage\n{}\n").unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(matches!(err, ReadError::Corrupt { line: 1, .. }), "{err}");
    }
}
