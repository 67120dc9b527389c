//! The builder's modules import each other without a circle: every `crate::` and `super::`
//! path of each source file (its tests left out) names the module it uses, and the graph of
//! those uses has no cycle (comments, and so doc links, are no uses). The crate root, which only declares and re-exports, is no node.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of a source file under `src/`: `resolve/kmod.rs` → `resolve::kmod`.
fn module_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    if rel == "lib" {
        String::new()
    } else {
        rel.replace('/', "::")
    }
}

fn sources(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            out.push((module_of(&rel), std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The paths after each `crate::` and `super::` in `code`, braces expanded one level
/// (`crate::{a::B, c}` gives `a::B` and `c`), with `super` resolved against `module`.
fn references(module: &str, is_mod_rs: bool, code: &str) -> Vec<String> {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", String::new()), ("super::", String::new())] {
        let base = if prefix == "super::" {
            // `super` of `a::b` (file a/b.rs) is `a`; of a/mod.rs (module `a`) the root.
            let m = if is_mod_rs {
                module.rsplit_once("::").map_or("", |(p, _)| p)
            } else {
                module
            };
            m.rsplit_once("::")
                .map_or(String::new(), |(p, _)| p.to_string())
        } else {
            base
        };
        for (i, _) in code.match_indices(prefix) {
            if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            let head: String = rest.chars().take_while(|c| word(*c)).collect();
            let after = &rest[head.len()..];
            let join = |tail: &str| {
                let tail = tail.trim().trim_end_matches("::");
                match (base.is_empty(), tail.is_empty()) {
                    (true, _) => tail.to_string(),
                    (false, true) => base.clone(),
                    (false, false) => format!("{base}::{tail}"),
                }
            };
            if after.starts_with('{') && (head.is_empty() || head.ends_with("::")) {
                let inner = &after[1..after.find('}').unwrap_or(after.len())];
                for item in inner.split(',') {
                    let item: String = item.trim().chars().take_while(|c| word(*c)).collect();
                    out.push(join(&format!("{head}{item}")));
                }
            } else {
                out.push(join(&head));
            }
        }
    }
    out
}

/// The longest module that is a prefix of `path` (`resolve::kmod::ModuleIndex` → `resolve::kmod`).
fn module_named(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// A cycle of `graph`, if there is one, as the list of its modules.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut state, &mut Vec::new()))
}

fn graph_of(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &files {
        if module.is_empty() {
            continue;
        }
        // Code only: tests and comments (doc links) are no uses.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let is_mod_rs = modules
            .iter()
            .any(|m| m.starts_with(&format!("{module}::")));
        let uses: BTreeSet<String> = references(module, is_mod_rs, &code)
            .iter()
            .filter_map(|p| module_named(p, &modules))
            .filter(|m| m != module && !m.is_empty())
            .collect();
        graph.insert(module.clone(), uses);
    }
    graph
}

#[test]
fn the_builder_has_no_import_circle() {
    let graph = graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // The parser finds the uses it must: a module using a sibling through `super::` and
    // one through `crate::{…}`.
    assert!(
        graph["resolve::coldplug"].contains("resolve::kmod"),
        "{graph:?}"
    );
    assert!(graph["write"].contains("manifest"), "{graph:?}");
    assert_eq!(find_cycle(&graph), None, "an import circle in the builder");
}

#[test]
fn a_circle_is_found_and_named() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(find_cycle(&g).unwrap(), ["a", "b", "c", "a"]);
    let refs = references("x::y", false, "use super::z::W;\nuse crate::{p::Q, r};\n");
    assert_eq!(refs, ["p::Q", "r", "x::z::W"]);
}
