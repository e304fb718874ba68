//! Located diagnostics for the YAML inputs (scenario files, simulated-cluster profiles):
//! reading an input file, deserializing it with bounded effort, and every problem reported
//! as a [`Diagnostic`] with file:line:column, the offending line and a one-line hint; source
//! positions of keys and values in [`locate`].
//!
//! serde-saphyr is used only here (it moves fast; one place to adapt).

pub(crate) mod locate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::{DefaultMessageFormatter, MessageFormatter};

use locate::{LineCol, Locator, Seg};

/// One problem in one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub(crate) file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    /// The offending source line, when known.
    pub(crate) snippet: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "error: {}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(snippet) = &self.snippet {
            let gutter = self.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", self.line, snippet)?;
            writeln!(
                f,
                "{:gutter$} | {:>col$}",
                "",
                "^",
                col = self.column.max(1)
            )?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = hint: {hint}")?;
        }
        Ok(())
    }
}

impl Diagnostic {
    /// A diagnostic at `at`, splitting a `…; hint: …` message into message and hint.
    pub(crate) fn new(file: &Path, source: &str, at: LineCol, message: impl Into<String>) -> Self {
        let message = message.into();
        let (message, hint) = match message.split_once("; hint: ") {
            Some((m, h)) => (m.to_string(), Some(h.to_string())),
            None => (message, None),
        };
        let mut column = at.column.max(1);
        let snippet = source
            .lines()
            .nth(at.line.saturating_sub(1))
            .map(|l| window(&l.replace('\t', " "), &mut column));
        Self {
            file: file.to_path_buf(),
            line: at.line.max(1),
            column,
            message,
            hint,
            snippet,
        }
    }

    pub(crate) fn with_hint(mut self, hint: &str) -> Self {
        if self.hint.is_none() {
            self.hint = Some(hint.to_string());
        }
        self
    }
}

/// At most [`SNIPPET_WIDTH`] characters of a long line, around `column` (1-based, moved to
/// where it falls in the window); `…` marks what was cut.
fn window(line: &str, column: &mut usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= SNIPPET_WIDTH {
        return line.to_string();
    }
    let start = column
        .saturating_sub(1 + SNIPPET_WIDTH / 2)
        .min(chars.len() - SNIPPET_WIDTH);
    let end = start + SNIPPET_WIDTH;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
        *column = *column - start + 1;
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// The widest snippet shown under a diagnostic.
const SNIPPET_WIDTH: usize = 100;

/// The text of an input file: refuses bytes that are not UTF-8 (pointing at the first bad
/// one) and a file with nothing but white space.
pub(crate) fn input_text<'a>(
    file: &Path,
    bytes: &'a [u8],
    not_text_hint: &str,
    empty_hint: &str,
) -> Result<&'a str, Diagnostic> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::new(
            file,
            "",
            LineCol { line: 1, column: 1 },
            format!(
                "the file is {} bytes, more than the {} an input file may hold",
                bytes.len(),
                MAX_INPUT_BYTES
            ),
        )
        .with_hint(not_text_hint));
    }
    let source = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let at = LineCol {
                line: good.iter().filter(|&&b| b == b'\n').count() + 1,
                column: String::from_utf8_lossy(&good[line_start..]).chars().count() + 1,
            };
            return Err(Diagnostic::new(
                file,
                "",
                at,
                format!(
                    "the file is not UTF-8 text (byte 0x{:02x} at offset {})",
                    bytes[e.valid_up_to()],
                    e.valid_up_to()
                ),
            )
            .with_hint(not_text_hint));
        }
    };
    if source.trim().is_empty() {
        return Err(Diagnostic::new(
            file,
            source,
            LineCol { line: 1, column: 1 },
            if source.is_empty() {
                "the file is empty"
            } else {
                "the file holds only white space"
            },
        )
        .with_hint(empty_hint));
    }
    Ok(source)
}

/// The largest scenario or profile file read (1 MiB; real ones are a few kB).
pub(crate) const MAX_INPUT_BYTES: usize = 1 << 20;

/// Deserializes one small YAML input file (a scenario or a profile): shallow nesting, few
/// nodes, at most 1 MiB, so that a wrong or hostile file fails fast.
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(
    source: &str,
) -> Result<T, serde_saphyr::Error> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 32;
    budget.max_nodes = 20_000;
    budget.max_reader_input_bytes = Some(MAX_INPUT_BYTES);
    let options = serde_saphyr::options! { budget: Some(budget) };
    serde_saphyr::from_str_with_options(source, options)
}

/// A diagnostic for an error of the YAML deserializer, at its location, with a hint;
/// `reference` names where the keys are documented.
pub(crate) fn yaml_error(
    file: &Path,
    source: &str,
    err: &serde_saphyr::Error,
    reference: &str,
) -> Diagnostic {
    let at = err
        .location()
        .filter(|l| l.line() > 0)
        .map_or(LineCol { line: 1, column: 1 }, |l| LineCol {
            line: l.line() as usize,
            column: l.column() as usize,
        });
    let (mut message, hint) = describe(err.without_snippet(), reference);
    let mut at = at;
    // The scanner notices a tab where the token before it ends: point at the tab itself.
    if message.contains("tab")
        && let Some(tab) = first_tab_from(source, at)
    {
        at = tab;
    }
    // serde reports a missing field where the mapping ends (at its last key): point at the
    // key of the mapping that lacks it instead, or at the top of the file.
    if let serde_saphyr::Error::SerdeMissingField { field, .. } = err.without_snippet() {
        let locator = Locator::new(source);
        match locator.path_at(at).and_then(|p| p.split_last()) {
            Some((_, parent)) if !parent.is_empty() => {
                if let Some(key) = locator.key(parent) {
                    at = key;
                }
                message = format!("missing field `{field}` in `{}`", dotted(parent));
            }
            _ => at = LineCol { line: 1, column: 1 },
        }
    }
    Diagnostic::new(file, source, at, message).with_hint(&hint)
}

/// The first tab on the line of `from` or after it.
fn first_tab_from(source: &str, from: LineCol) -> Option<LineCol> {
    source
        .lines()
        .enumerate()
        .skip(from.line.saturating_sub(1))
        .find_map(|(i, line)| {
            line.chars().position(|c| c == '\t').map(|j| LineCol {
                line: i + 1,
                column: j + 1,
            })
        })
}

/// `topology.private_subnets[1].cidr`.
fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The deserializer's error in the words of this tool, with a hint.
fn describe(err: &serde_saphyr::Error, reference: &str) -> (String, String) {
    use serde_saphyr::Error as E;
    let type_hint = || format!("check the value's type against {reference}");
    match err {
        E::InvalidScalar { ty, .. } => match *ty {
            "u8" | "u16" | "u32" | "u64" | "usize" => {
                let max = match *ty {
                    "u8" => u64::from(u8::MAX),
                    "u16" => u64::from(u16::MAX),
                    "u32" => u64::from(u32::MAX),
                    _ => u64::MAX,
                };
                (
                    format!("expected a whole number from 0 to {max}"),
                    "write digits only, e.g. `20`".into(),
                )
            }
            "f32" | "f64" => ("expected a number".into(), "e.g. `0.2`".into()),
            "bool" | "boolean" => ("expected `true` or `false`".into(), type_hint()),
            other => (format!("this is not a valid {other}"), type_hint()),
        },
        E::Unexpected { expected, .. } => match *expected {
            "string scalar" => (
                "expected text here, found a list or a mapping".into(),
                format!("quote the value if it is text; {reference} shows each key's type"),
            ),
            "mapping start" => (
                "expected `key: value` pairs (a mapping) here".into(),
                type_hint(),
            ),
            "sequence start" => (
                "expected a list here".into(),
                "write `[a, b]`, or one `- item` per line".into(),
            ),
            other => (
                format!("expected {other}"),
                "check the YAML syntax around this position".into(),
            ),
        },
        E::DuplicateMappingKey { key, .. } => (
            match key {
                Some(k) => format!("duplicate key `{k}`"),
                None => "duplicate key".into(),
            },
            "each key may appear once; remove one of them".into(),
        ),
        E::Eof { .. } => (
            "unexpected end of file".into(),
            "a list, a mapping or a quoted text is not closed".into(),
        ),
        E::Budget { breach, .. } => {
            // `Nodes { nodes: 20001 }` → `nodes`.
            let what = format!("{breach:?}");
            let what = what
                .split([' ', '{', '('])
                .next()
                .unwrap_or("size")
                .to_lowercase();
            (
                format!("the file holds more YAML than any input needs (too many {what})"),
                "input files are small; is this the right file?".into(),
            )
        }
        E::UnknownAnchor { .. } => (
            "alias `*…` refers to no anchor".into(),
            "define `&name` before using `*name`".into(),
        ),
        other => {
            let message = DefaultMessageFormatter.format_message(other).into_owned();
            let hint = hint_for(&message, reference);
            (message, hint)
        }
    }
}

/// A hint for the deserializer's own messages.
fn hint_for(message: &str, reference: &str) -> String {
    if message.contains("unknown field") {
        format!("check the spelling; {reference} lists every key")
    } else if message.contains("unknown variant") {
        "use one of the values listed above".into()
    } else if message.contains("duplicate") {
        "each key may appear once; remove one of them".into()
    } else if message.contains("missing field") {
        format!("add the key; {reference} shows what each one means")
    } else if message.contains("flow mapping") {
        "a `{` opened before this point is not closed with `}` (or a `,` is missing)".into()
    } else if message.contains("flow sequence") {
        "a `[` opened before this point is not closed with `]` (or a `,` is missing)".into()
    } else if message.contains("quote") {
        "close the quote on the same line, or drop the quotes".into()
    } else if message.contains("tab") {
        "indent YAML with spaces, not tabs".into()
    } else if message.contains("budget") || message.contains("limit") {
        "input files are small; is this the right file?".into()
    } else if message.contains("invalid type") {
        format!("check the value's type against {reference}")
    } else {
        "check the YAML syntax around this position".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("description: {}x{}", "a".repeat(300), "b".repeat(300));
        let mut column = 314;
        let w = window(&line, &mut column);
        assert_eq!(w.chars().count(), SNIPPET_WIDTH + 2, "{w}");
        assert!(w.starts_with('…') && w.ends_with('…'), "{w}");
        assert_eq!(w.chars().nth(column - 1), Some('x'), "{w}");
        let mut column = 3;
        assert!(window(&line, &mut column).starts_with("descr"));
        assert_eq!(column, 3);
    }
}
