//! Kind knowledge stays in the kinds' descriptors: the lab's generic run (plan, runner,
//! materialize, recipes, storage layouts, rendering) and the generic builder
//! (`builder/src/*.rs`; module-specific resolvers and the profiles and modules data are
//! its own business) never name a root kind, outside their tests and comments.

use std::path::Path;

/// The fixed names, and every kind of the registry (so a new kind is covered too).
fn names() -> Vec<String> {
    let mut n: Vec<String> = ["nfs", "gfs2", "ocfs2", "glusterfs", "ext3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for k in srbuild_lab::run::kinds::KINDS {
        if !n.iter().any(|x| x == k.name) {
            n.push(k.name.to_string());
        }
    }
    n
}

/// `(line number, word)` of every kind name in `text`'s code: before `#[cfg(test)]`,
/// without comments, as a whole word (an identifier or a word in a string).
fn named(text: &str, names: &[String]) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = Vec::new();
    for (i, line) in code.lines().enumerate() {
        let line = match line.find("//") {
            // A comment, unless the `//` is inside a string (`tftp://…`).
            Some(c) if line[..c].matches('"').count() % 2 == 0 => &line[..c],
            _ => line,
        };
        for w in line.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if names.iter().any(|n| n == w) {
                out.push((i + 1, w.to_string()));
            }
        }
    }
    out
}

#[test]
fn generic_code_names_no_root_kind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<std::path::PathBuf> = [
        "plan.rs",
        "nodes.rs",
        "runner.rs",
        "materialize.rs",
        "recipe.rs",
        "storage.rs",
        "render.rs",
        "roottree.rs",
        "mod.rs",
    ]
    .iter()
    .map(|f| root.join("src/run").join(f))
    .collect();
    for e in std::fs::read_dir(root.join("../builder/src")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
    let names = names();
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (line, w) in named(&text, &names) {
            found.push(format!("{}:{line}: {w}", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "generic code names a root kind; move that into the kind's descriptor:\n{}",
        found.join("\n")
    );
}

#[test]
fn names_are_found_in_code_and_strings_but_not_comments() {
    let n = names();
    let text =
        "let k = \"gfs2\"; // nfs\nif x.nfs { }\nlet u = \"tftp://a/b\"; ext3\n#[cfg(test)]\nocfs2";
    assert_eq!(
        named(text, &n),
        [
            (1, "gfs2".to_string()),
            (2, "nfs".into()),
            (3, "ext3".into())
        ]
    );
}
