//! House rules the code itself is checked against (issue 10).
//!
//! No function outside tests is longer than [`MAX_FN_LINES`] lines, counted from the line with
//! `fn` to the line with its closing brace. The check is a heuristic over rustfmt-formatted
//! text, not a parser:
//!
//! - a function starts on a line whose code begins with `fn` (after `pub`, `pub(crate)`,
//!   `const`, `async`, `unsafe`); its body starts on the first line from there that ends with
//!   `{`. A signature that ends with `;` or `}` first (a trait method without a body, a
//!   one-line function) has nothing to measure;
//! - the body ends on the first later line that is `}` at the indentation of the `fn` line
//!   (rustfmt puts it there; a multi-line string literal with such a line would end it early);
//! - a `#[cfg(test)]` item that is a `mod … {` block is skipped to its closing brace at the same
//!   indentation, and files named `tests.rs` are skipped whole.

use std::path::{Path, PathBuf};

use crate::root;

const MAX_FN_LINES: usize = 80;

/// A function found too long: `file:line: name (n lines)`.
#[derive(Debug, PartialEq, Eq)]
struct LongFn {
    file: String,
    line: usize,
    name: String,
    lines: usize,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(p);
        }
    }
}

fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// The name of the function a line starts, if it starts one.
fn fn_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The index of the line that closes the block opened at `lines[start]`'s indentation.
fn closing(lines: &[&str], start: usize, body_from: usize) -> Option<usize> {
    let close = format!("{}}}", indent(lines[start]));
    (body_from + 1..lines.len()).find(|&k| lines[k].trim_end() == close)
}

/// Every function of `text` longer than `max` lines, outside `#[cfg(test)]` modules.
fn long_fns(file: &str, text: &str, max: usize) -> Vec<LongFn> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == "#[cfg(test)]" {
            let next = i + 1;
            let is_mod = lines.get(next).is_some_and(|l| {
                let l = l.trim_start();
                l.trim_end().ends_with('{')
                    && (l.starts_with("mod ")
                        || l.starts_with("pub mod ")
                        || l.starts_with("pub(crate) mod "))
            });
            if is_mod {
                i = closing(&lines, next, next).map_or(lines.len(), |k| k + 1);
                continue;
            }
        }
        if let Some(name) = fn_name(line) {
            let body = (i..lines.len()).find(|&j| {
                let l = lines[j].trim_end();
                l.ends_with('{') || l.ends_with(';') || l.ends_with('}')
            });
            if let Some(j) = body.filter(|&j| lines[j].trim_end().ends_with('{'))
                && let Some(k) = closing(&lines, i, j)
            {
                let n = k - i + 1;
                if n > max {
                    out.push(LongFn {
                        file: file.to_string(),
                        line: i + 1,
                        name: name.to_string(),
                        lines: n,
                    });
                }
            }
        }
        i += 1;
    }
    out
}

#[test]
fn no_function_outside_tests_is_longer_than_80_lines() {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 10, "src/ holds Rust files: {files:?}");
    let mut long = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        long.extend(long_fns(&rel, &text, MAX_FN_LINES));
    }
    let report: Vec<String> = long
        .iter()
        .map(|f| format!("{}:{}: fn {} is {} lines", f.file, f.line, f.name, f.lines))
        .collect();
    assert!(
        report.is_empty(),
        "functions longer than {MAX_FN_LINES} lines (split them into named steps):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_length_heuristic_counts_bodies_and_skips_test_modules() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    let text = format!(
        "pub(crate) async fn long(\n    a: u32,\n) -> u32 {{\n{}}}\n\
         fn short() {{}}\n\
         fn one_liner() -> u32 {{ 1 }}\n\
         impl X {{\n    fn method(&self) {{\n{}    }}\n}}\n\
         #[cfg(test)]\nmod tests {{\n    fn helper() {{\n{}    }}\n}}\n",
        body(10),
        body(4),
        body(50)
    );
    let found = long_fns("x.rs", &text, 5);
    let names: Vec<(&str, usize, usize)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.line, f.lines))
        .collect();
    assert_eq!(names, [("long", 1, 14), ("method", 18, 6)]);
}
