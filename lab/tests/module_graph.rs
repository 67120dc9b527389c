//! The lab crate's module graph has no cycle: a module may use its own submodules (a
//! registry listing its members, which use it back), but no two modules may need each
//! other otherwise. Read from the sources (`crate::` and `super::` paths), without
//! building anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`run::kinds`) of every source file under `src`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            out.insert(parts.join("::"), p);
        }
    }
    out
}

/// The paths a source names from `crate::` or `super::` (braces expanded), as full paths.
fn paths(text: &str, module: &str) -> Vec<String> {
    let mut out = Vec::new();
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let parent = parent[..parent.len().saturating_sub(1)].join("::");
    for (prefix, base) in [("crate::", String::new()), ("super::", parent)] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            expand(rest, &base, &mut out);
        }
    }
    out
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}::{b}"),
    }
}

/// Reads `a::b::{c, d::e}` at the start of `s` under `base`.
fn expand(s: &str, base: &str, out: &mut Vec<String>) {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let path = s[..end].trim_end_matches(':');
    let full = join(base, path);
    if s[end..].starts_with('{') {
        let mut depth = 0;
        let mut item = String::new();
        for c in s[end..].chars() {
            match c {
                '{' => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        expand(item.trim(), &full, out);
                        break;
                    }
                }
                ',' if depth == 1 => {
                    expand(item.trim(), &full, out);
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
    } else {
        out.push(full);
    }
}

/// The module a path lands in: its longest prefix that is a module.
fn owner<'a>(path: &str, mods: &'a BTreeMap<String, PathBuf>) -> Option<&'a String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .find_map(|n| mods.get_key_value(&parts[..n].join("::")).map(|(k, _)| k))
}

#[test]
fn the_lab_crate_has_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    assert!(
        mods.contains_key("run::plan") && mods.contains_key(""),
        "{mods:?}"
    );
    let mut edges: BTreeMap<&String, BTreeSet<&String>> = BTreeMap::new();
    for (m, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        for p in paths(&text, m) {
            let Some(to) = owner(&p, &mods) else { continue };
            // A module may use what is its own (a registry and its members).
            let own = m.is_empty() || to == m || to.starts_with(&format!("{m}::"));
            if !own {
                edges.entry(m).or_default().insert(to);
            }
        }
    }
    // Depth-first search for a back edge, reporting the cycle.
    fn visit<'a>(
        n: &'a String,
        edges: &BTreeMap<&'a String, BTreeSet<&'a String>>,
        stack: &mut Vec<&'a String>,
        done: &mut BTreeSet<&'a String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| *s == n) {
            let mut c: Vec<String> = stack[i..].iter().map(|s| s.to_string()).collect();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n);
        for t in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(t, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    for m in mods.keys() {
        if let Some(c) = visit(m, &edges, &mut Vec::new(), &mut done) {
            panic!("import cycle in the lab crate: {}", c.join(" -> "));
        }
    }
}

#[test]
fn paths_are_read_with_their_braces() {
    let mut out = Vec::new();
    expand("run::{kinds::{self, Check}, plan}; x", "", &mut out);
    assert_eq!(out, ["run::kinds::self", "run::kinds::Check", "run::plan"]);
    let p = paths(
        "use super::Role;\nfn f() { crate::qemu::x(); }\n",
        "run::kinds::nfs",
    );
    assert_eq!(p, ["qemu::x", "run::kinds::Role"]);
}
