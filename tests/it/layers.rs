//! The architecture, checked: imports run one way down the layers (DESIGN §4), and no two
//! modules import each other, directly or around a circle.
//!
//! vocabulary (`vocab`, `time`) → scenario / measure → the `Cluster` port (`cluster`, its
//! meter) → the backends (`cluster::sim`, `cluster::aws`) → `sim_server` (an adapter over the
//! simulator) → `journal` → `runner` → reports (`report`, `progress`, `verify`) → `cli`.
//!
//! Every `crate::…` and `super::…` path in non-test code under `src/` is read (comments,
//! `#[cfg(test)]` modules and `tests.rs` files are skipped: tests may reach anywhere), resolved
//! to the module it names, and judged. Run alone: `cargo test --test it layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::root;

/// Each unit of the architecture and its layer; a module belongs to the longest unit that
/// prefixes its path.
const UNITS: &[(&str, u8)] = &[
    ("vocab", 0),
    ("time", 0),
    ("scenario", 1),
    ("measure", 1),
    ("cluster", 2),
    ("cluster::sim", 3),
    ("cluster::aws", 3),
    ("sim_server", 4),
    ("journal", 5),
    ("runner", 6),
    ("report", 7),
    ("fit", 7),
    ("progress", 7),
    ("verify", 7),
    ("cli", 8),
];

fn unit_of(module: &[String]) -> Option<(&'static str, u8)> {
    let path = module.join("::");
    UNITS
        .iter()
        .filter(|(u, _)| path == *u || path.starts_with(&format!("{u}::")))
        .max_by_key(|(u, _)| u.len())
        .copied()
}

/// A source file: its module path and its non-test code without comments.
struct Source {
    module: Vec<String>,
    code: String,
}

/// Every non-test source file under `src/`.
fn sources() -> Vec<Source> {
    let mut out = Vec::new();
    walk(&root().join("src"), &mut Vec::new(), &mut out);
    out
}

fn walk(dir: &Path, module: &mut Vec<String>, out: &mut Vec<Source>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let test_only = test_only_children(dir);
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if test_only.contains(&name) || name == "tests" {
            continue;
        }
        if path.is_dir() {
            module.push(name);
            walk(&path, module, out);
            module.pop();
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut m = module.clone();
            if !["mod", "lib", "main"].contains(&name.as_str()) {
                m.push(name);
            }
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(Source {
                module: m,
                code: without_tests_and_comments(&text),
            });
        }
    }
}

/// The child modules a folder's `mod.rs` (or `lib.rs`) declares under `#[cfg(test)]`.
fn test_only_children(dir: &Path) -> BTreeSet<String> {
    let parent = ["mod.rs", "lib.rs"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .unwrap_or_default();
    let lines: Vec<&str> = parent.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0] == "#[cfg(test)]")
        .filter_map(|w| {
            w[1].strip_prefix("mod ")
                .or_else(|| w[1].strip_prefix("pub(crate) mod "))
                .and_then(|r| r.strip_suffix(';'))
                .map(str::to_string)
        })
        .collect()
}

/// The code before a trailing `#[cfg(test)] mod tests { … }`, with `//` comments removed.
fn without_tests_and_comments(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim() == "mod tests {")
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file's code names through `crate::` and `super::` (absolute, without
/// the item at the end).
fn references(src: &Source) -> BTreeSet<Vec<String>> {
    let code = src.code.as_bytes();
    let mut out = BTreeSet::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = src.code[from..].find(start).map(|i| i + from) {
            from = i + start.len();
            if i > 0 && (code[i - 1].is_ascii_alphanumeric() || code[i - 1] == b'_') {
                continue;
            }
            let (base, rest) = if start == "crate::" {
                (Vec::new(), &src.code[from..])
            } else {
                // `super::super::x` climbs once per `super`.
                let mut up = 1;
                let mut rest = &src.code[from..];
                while let Some(r) = rest.strip_prefix("super::") {
                    up += 1;
                    rest = r;
                }
                let keep = src.module.len().saturating_sub(up);
                (src.module[..keep].to_vec(), rest)
            };
            for path in expand(rest) {
                let mut m = base.clone();
                m.extend(path);
                out.insert(m);
            }
        }
    }
    out
}

/// The module segments of the path (or brace group of paths) at the start of `rest`.
fn expand(rest: &str) -> Vec<Vec<String>> {
    let mut segs = Vec::new();
    let mut s = rest;
    loop {
        if let Some(group) = s.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            return split_top(&group[..end])
                .into_iter()
                .flat_map(|item| {
                    expand(item.trim()).into_iter().map({
                        let segs = segs.clone();
                        move |tail| segs.iter().cloned().chain(tail).collect()
                    })
                })
                .collect();
        }
        let ident: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let is_module = ident.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && s[ident.len()..].starts_with("::");
        if !is_module || ident == "self" {
            return vec![segs];
        }
        segs.push(ident.clone());
        s = &s[ident.len() + 2..];
    }
}

/// The items of a brace group, split at its top-level commas.
fn split_top(group: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut last) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&group[last..i]);
                last = i + 1;
            }
            _ => {}
        }
    }
    out.push(&group[last..]);
    out
}

/// The edges between the children of each folder (`parent` → `(child, child)`), with deeper
/// modules collapsed into the child that holds them.
fn sibling_edges(sources: &[Source]) -> BTreeMap<Vec<String>, BTreeSet<(String, String)>> {
    let mut out: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for src in sources {
        for target in references(src) {
            let common = src
                .module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if let (Some(from), Some(to)) = (src.module.get(common), target.get(common)) {
                out.entry(src.module[..common].to_vec())
                    .or_default()
                    .insert((from.clone(), to.clone()));
            }
        }
    }
    out
}

/// A circle in `edges`, if there is one.
fn circle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeSet<(String, String)>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if !done.insert(n.to_string()) {
            return None;
        }
        path.push(n.to_string());
        for (_, to) in edges.iter().filter(|(from, _)| from == n) {
            if let Some(c) = visit(to, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .iter()
        .find_map(|(from, _)| visit(from, edges, &mut Vec::new(), &mut done))
}

#[test]
fn imports_never_climb_a_layer() {
    let mut wrong = Vec::new();
    for src in sources() {
        let Some((unit, layer)) = unit_of(&src.module) else {
            continue; // the crate root declares the modules
        };
        for target in references(&src) {
            if let Some((to, to_layer)) = unit_of(&target)
                && to_layer > layer
            {
                wrong.push(format!(
                    "{} (layer {layer}, {unit}) imports {} (layer {to_layer}, {to})",
                    src.module.join("::"),
                    target.join("::")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports up the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_modules_import_each_other() {
    let sources = sources();
    let mut units: BTreeSet<(String, String)> = BTreeSet::new();
    for src in &sources {
        for target in references(src) {
            if let (Some((a, _)), Some((b, _))) = (unit_of(&src.module), unit_of(&target))
                && a != b
            {
                units.insert((a.into(), b.into()));
            }
        }
    }
    assert_eq!(
        circle(&units),
        None,
        "units import each other around a circle"
    );
    for (parent, edges) in sibling_edges(&sources) {
        assert_eq!(
            circle(&edges),
            None,
            "modules of `{}` import each other around a circle",
            parent.join("::")
        );
    }
}

#[test]
fn the_checker_sees_what_it_checks() {
    let src = Source {
        module: vec!["cluster".into(), "sim".into(), "profile".into()],
        code: "use super::dist::Dist;\nuse crate::vocab::{Phase, yaml::{Diagnostic, locate::Seg}};\nlet x = crate::time::Dur::ZERO;".into(),
    };
    let refs: Vec<String> = references(&src).iter().map(|m| m.join("::")).collect();
    assert_eq!(
        refs,
        [
            "cluster::sim::dist",
            "time",
            "vocab",
            "vocab::yaml",
            "vocab::yaml::locate"
        ]
    );
    let edges: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect();
    assert!(circle(&edges).is_some());
    assert_eq!(
        unit_of(&["cluster".into(), "meter".into()]),
        Some(("cluster", 2))
    );
    assert_eq!(
        unit_of(&["cluster".into(), "sim".into()]),
        Some(("cluster::sim", 3))
    );
}
