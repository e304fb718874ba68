//! Where each value of a YAML document sits, by path (`expect[1].phase`), so that checks made
//! after deserialization (cross-field rules) can still point at file:line:column.

use serde_saphyr::granit_parser::{Event, Parser};

/// One step of a path into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineCol {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

#[derive(Debug)]
struct Entry {
    path: Vec<Seg>,
    key: Option<LineCol>,
    value: LineCol,
}

/// The locations of every key and value of one document.
#[derive(Debug, Default)]
pub(crate) struct Locator {
    entries: Vec<Entry>,
}

enum Frame {
    Map {
        path: Vec<Seg>,
        key: Option<(String, LineCol)>,
        /// Nesting depth of a complex (non-scalar) key being skipped.
        skipping_key: bool,
    },
    Seq {
        path: Vec<Seg>,
        index: usize,
    },
}

impl Locator {
    /// Indexes `source`; a document that does not parse yields an empty locator (the
    /// deserializer reports the syntax error itself).
    pub(crate) fn new(source: &str) -> Self {
        let mut entries = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_seen = false;
        for item in Parser::new_from_str(source) {
            let Ok((event, span)) = item else { break };
            let here = LineCol {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            let starts = match &event {
                Event::MappingStart(..) => Some(true),
                Event::SequenceStart(..) => Some(false),
                Event::Scalar(..) | Event::Alias(_) => None,
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    value_done(&mut stack);
                    continue;
                }
                _ => continue,
            };
            // A key position in a mapping?
            if let Some(Frame::Map {
                key, skipping_key, ..
            }) = stack.last_mut()
                && key.is_none()
                && !*skipping_key
            {
                match (&event, starts) {
                    (Event::Scalar(text, ..), None) => {
                        *key = Some((text.to_string(), here));
                    }
                    _ => {
                        // A complex key: remember to skip it, and index nothing under it.
                        *skipping_key = true;
                        if let Some(is_map) = starts {
                            stack.push(skip_frame(is_map));
                        } else {
                            value_done(&mut stack);
                        }
                    }
                }
                continue;
            }
            let (path, key_loc) = match stack.last() {
                None if !root_seen => {
                    root_seen = true;
                    (Vec::new(), None)
                }
                None => continue,
                Some(Frame::Map { path, key, .. }) => {
                    let (k, loc) = key.clone().unwrap_or_default_key();
                    let mut p = path.clone();
                    p.push(Seg::Key(k));
                    (p, Some(loc))
                }
                Some(Frame::Seq { path, index }) => {
                    let mut p = path.clone();
                    p.push(Seg::Index(*index));
                    (p, None)
                }
            };
            entries.push(Entry {
                path: path.clone(),
                key: key_loc,
                value: here,
            });
            match starts {
                Some(true) => stack.push(Frame::Map {
                    path,
                    key: None,
                    skipping_key: false,
                }),
                Some(false) => stack.push(Frame::Seq { path, index: 0 }),
                None => value_done(&mut stack),
            }
        }
        Self { entries }
    }

    /// The path of the entry whose key (or value) starts at `at`.
    pub(crate) fn path_at(&self, at: LineCol) -> Option<&[Seg]> {
        self.entries
            .iter()
            .find(|e| e.key == Some(at) || e.value == at)
            .map(|e| e.path.as_slice())
    }

    /// The location of the value at `path`, or of its nearest recorded ancestor.
    pub(crate) fn value(&self, path: &[Seg]) -> Option<LineCol> {
        self.find(path).map(|e| e.value)
    }

    /// The location of the key of the entry at `path` (falls back to the value).
    pub(crate) fn key(&self, path: &[Seg]) -> Option<LineCol> {
        self.find(path).map(|e| e.key.unwrap_or(e.value))
    }

    fn find(&self, path: &[Seg]) -> Option<&Entry> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.entries.iter().find(|e| e.path == path[..n]))
    }
}

trait DefaultKey {
    fn unwrap_or_default_key(self) -> (String, LineCol);
}

impl DefaultKey for Option<(String, LineCol)> {
    fn unwrap_or_default_key(self) -> (String, LineCol) {
        self.unwrap_or((String::new(), LineCol { line: 1, column: 1 }))
    }
}

/// A frame that swallows a complex key's children.
fn skip_frame(is_map: bool) -> Frame {
    if is_map {
        Frame::Map {
            path: vec![Seg::Key("?".into())],
            key: None,
            skipping_key: true,
        }
    } else {
        Frame::Seq {
            path: vec![Seg::Key("?".into())],
            index: 0,
        }
    }
}

/// A node finished: a mapping now expects its next key, a sequence its next item.
fn value_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map {
            key, skipping_key, ..
        }) => {
            if *skipping_key {
                *skipping_key = false;
                *key = Some(("?".into(), LineCol { line: 1, column: 1 }));
            } else {
                *key = None;
            }
        }
        Some(Frame::Seq { index, .. }) => *index += 1,
        None => {}
    }
}

/// Builds a path: `yaml_path!["expect", 1, "phase"]`.
macro_rules! yaml_path {
    ($($seg:expr),* $(,)?) => {
        &[$($crate::vocab::yaml::locate::IntoSeg::into_seg($seg)),*][..]
    };
}
pub(crate) use yaml_path;

pub(crate) trait IntoSeg {
    fn into_seg(self) -> Seg;
}

impl IntoSeg for &str {
    fn into_seg(self) -> Seg {
        Seg::Key(self.to_string())
    }
}

impl IntoSeg for usize {
    fn into_seg(self) -> Seg {
        Seg::Index(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: x
target:
  pod: node-4
expect:
  - phase: task_running
    within: 20m
  - {phase: replacement_launched, absent_for: 5m}
slos:
  time_to_cassandra_running: {p50: 15m}
";

    #[test]
    fn finds_values_and_keys() {
        let l = Locator::new(DOC);
        assert_eq!(
            l.value(yaml_path!["target", "pod"]),
            Some(LineCol { line: 3, column: 8 })
        );
        assert_eq!(
            l.value(yaml_path!["expect", 0, "phase"]),
            Some(LineCol {
                line: 5,
                column: 12
            })
        );
        assert_eq!(
            l.value(yaml_path!["expect", 1, "absent_for"]),
            Some(LineCol {
                line: 7,
                column: 47
            })
        );
        assert_eq!(
            l.key(yaml_path!["slos", "time_to_cassandra_running"]),
            Some(LineCol { line: 9, column: 3 })
        );
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        let l = Locator::new(DOC);
        assert_eq!(
            l.value(yaml_path!["target", "instance"]),
            Some(LineCol { line: 3, column: 3 })
        );
    }

    #[test]
    fn broken_documents_give_what_they_can() {
        let l = Locator::new("a: [1, 2\nb: {");
        assert!(l.value(yaml_path!["zzz"]).is_some() || l.entries.is_empty());
    }
}
