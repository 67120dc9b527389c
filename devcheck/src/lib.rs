//! `srbuild-devcheck`: checks on the project's own source code, used only as a
//! dev-dependency by the other crates' tests.
//!
//! [`module_cycles`] finds import circles between the modules of one crate: module A uses
//! module B (`crate::b` anywhere in A's code, outside its `#[cfg(test)]` part) and B, directly
//! or through others, uses A. A crate asserts in a test that it has none:
//!
//! ```ignore
//! let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
//! assert_eq!(srbuild_devcheck::module_cycles(&src).unwrap(), Vec::<Vec<String>>::new());
//! ```
//!
//! What it reads: every `.rs` file under `src` (module `a::b` is `a/b.rs` or `a/b/mod.rs`;
//! `lib.rs` and `main.rs` are the crate root), every `crate::NAME[::NAME…]` path (the
//! longest known module prefix counts), and the root's `pub use module::{items}` re-exports,
//! so `crate::item` counts as a use of the module that defines it. Code from the first
//! `#[cfg(test)]` line of a file on is left out (tests may use anything). Comments are left
//! out. A textual check, not a compiler: a path built by a macro is not seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The import circles among the modules of the crate whose sources are in `src`: each is
/// the sorted list of the modules (`a::b`) of one strongly connected component.
pub fn module_cycles(src: &Path) -> Result<Vec<Vec<String>>, String> {
    let files = sources(src)?;
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let reexports = files
        .get("crate")
        .map(|root| reexports(root, &modules))
        .unwrap_or_default();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &files {
        let uses = graph.entry(module.clone()).or_default();
        for path in crate_paths(code) {
            let target = longest_module(&path, &modules)
                .or_else(|| path.first().and_then(|item| reexports.get(item).cloned()));
            if let Some(t) = target.filter(|t| t != module && t != "crate") {
                uses.insert(t);
            }
        }
    }
    Ok(strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect())
}

/// Module name to code (test part and comments removed), for every file under `src`.
fn sources(src: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap_or(&path).with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let name = match parts.as_slice() {
                [only] if only == "lib" || only == "main" => "crate".to_string(),
                _ => parts.join("::"),
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            out.insert(name, code_of(&text));
        }
    }
    Ok(out)
}

/// The file's code before its first `#[cfg(test)]`, without `//` comments.
fn code_of(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every `crate::a::b` path in `code`, as its names; `crate::{a, b::c}` gives `a` and `b::c`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before_ok = rest[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        rest = &rest[i + "crate::".len()..];
        if !before_ok {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                out.push(names(item.trim()));
            }
        } else {
            out.push(names(rest));
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The leading `a::b::c` names of `s`.
fn names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = s;
    loop {
        let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
        if end == 0 {
            break;
        }
        out.push(s[..end].to_string());
        match s[end..].strip_prefix("::") {
            Some(next) => s = next,
            None => break,
        }
    }
    out
}

fn longest_module(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// The root's `pub use module::item` and `pub use module::{a, b}`: item to module.
fn reexports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stmt in root.split(';') {
        let Some(body) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let body = body.trim_start_matches("crate::");
        let (module, items) = match body.find("::{") {
            Some(i) => (&body[..i], body[i + 3..].trim_end_matches('}')),
            None => match body.rfind("::") {
                Some(i) => (&body[..i], &body[i + 2..]),
                None => continue,
            },
        };
        if !modules.contains(module) {
            continue;
        }
        for item in items.split(',') {
            let item = item.split(" as ").last().unwrap_or(item).trim();
            if !item.is_empty() {
                out.insert(item.to_string(), module.to_string());
            }
        }
    }
    out
}

/// Tarjan's strongly connected components, each sorted.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = d.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    #[test]
    fn a_circle_through_a_path_a_group_or_a_reexport_is_found() {
        let d = tree(&[
            (
                "lib.rs",
                "mod a;\nmod b;\nmod c;\npub use c::{thing, other as o};\n",
            ),
            ("a.rs", "use crate::{b::x, zzz};\n"),
            ("b/mod.rs", "fn f() { crate::thing(); }\n"),
            ("b/deep.rs", "use crate::a;\n"),
            ("c.rs", "pub fn thing() { crate::a::f() }\n"),
        ]);
        assert_eq!(
            module_cycles(d.path()).unwrap(),
            vec![vec!["a".to_string(), "b".into(), "c".into()]]
        );
    }

    #[test]
    fn tests_comments_and_one_way_uses_make_no_circle() {
        let d = tree(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b;\n"),
            (
                "b.rs",
                "// crate::a is not used\nfn f() {}\n#[cfg(test)]\nmod tests { use crate::a; }\n",
            ),
        ]);
        assert!(module_cycles(d.path()).unwrap().is_empty());
    }
}
