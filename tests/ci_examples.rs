//! The pipeline examples for users (`ci/gitlab-ci.yml`, `ci/github-actions.yml`) are
//! valid YAML, build each of the five root profiles, run the lab with a JUnit report that
//! is kept as an artifact, and every `srbuild …` command line in their `script:` and `run:`
//! entries parses with the real command-line definitions (`srbuild generate parse`),
//! once per matrix entry, with the shell's quotes, line continuations and variables
//! (`$VAR`, `${VAR}`, `${{ matrix.x }}`) resolved to plausible values.

mod common;
use common::*;
use std::collections::BTreeMap;
use yaml_rust2::{Yaml, YamlLoader};

const PROFILES: [&str; 5] = ["ext3", "gfs2", "glusterfs", "nfs", "ocfs2"];

fn load(rel: &str) -> Yaml {
    let path = format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut docs =
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.remove(0)
}

/// Every shell snippet under a `script`, `before_script`, `after_script` or `run` key.
fn snippets(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let shell = matches!(
                    k.as_str(),
                    Some("script" | "before_script" | "after_script" | "run")
                );
                match (shell, v) {
                    (true, Yaml::String(s)) => out.push(s.clone()),
                    (true, Yaml::Array(a)) => {
                        out.extend(a.iter().filter_map(|s| s.as_str().map(str::to_string)))
                    }
                    _ => snippets(v, out),
                }
            }
        }
        Yaml::Array(a) => a.iter().for_each(|v| snippets(v, out)),
        _ => {}
    }
}

/// `${{ expr }}` (GitHub expressions) replaced from `vars`.
fn expand_expressions(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find("}}")
            .ok_or_else(|| format!("unclosed ${{{{ in {s:?}"))?;
        let key = rest[i + 3..i + end].trim();
        out.push_str(
            vars.get(key)
                .ok_or_else(|| format!("no plausible value for ${{{{ {key} }}}}; add one"))?,
        );
        rest = &rest[i + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The simple commands of a POSIX shell snippet, each as its words: quotes removed,
/// variables expanded, split at `;`, `&&`, `||`, `|` and newlines, redirections dropped.
fn shell_commands(s: &str, vars: &BTreeMap<String, String>) -> Result<Vec<Vec<String>>, String> {
    let s = expand_expressions(&s.replace("\\\n", " "), vars)?;
    let var = |name: &str| -> Result<String, String> {
        match name {
            "?" => Ok("1".into()),
            _ => vars
                .get(name)
                .cloned()
                .ok_or_else(|| format!("no plausible value for ${name}; add one to the test")),
        }
    };
    let mut cmds = vec![Vec::new()];
    let mut word: Option<String> = None;
    let mut drop_next = false;
    let mut chars = s.chars().peekable();
    let end_word = |word: &mut Option<String>, cmds: &mut Vec<Vec<String>>, drop: &mut bool| {
        if let Some(w) = word.take() {
            if *drop {
                *drop = false;
            } else if let Some(c) = cmds.last_mut() {
                c.push(w);
            }
        }
    };
    // `$NAME`, `${NAME}` or `$?` after a `$` was read.
    let read_var = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Result<String, String> {
        if chars.peek() == Some(&'{') {
            chars.next();
            let mut name = String::new();
            for c in chars.by_ref() {
                if c == '}' {
                    return var(&name);
                }
                name.push(c);
            }
            return Err(format!("unclosed ${{ in {s:?}"));
        }
        if chars.peek() == Some(&'?') {
            chars.next();
            return var("?");
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if name.is_empty() {
            return Ok("$".into());
        }
        var(&name)
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed ' in {s:?}")),
                    }
                }
            }
            '"' => {
                word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$') => {
                            let v = read_var(&mut chars)?;
                            word.get_or_insert_with(String::new).push_str(&v);
                        }
                        Some('\\') => {
                            if let Some(c) = chars.next() {
                                word.get_or_insert_with(String::new).push(c);
                            }
                        }
                        Some('`') => return Err(format!("command substitution in {s:?}")),
                        Some(c) => word.get_or_insert_with(String::new).push(c),
                        None => return Err(format!("unclosed \" in {s:?}")),
                    }
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                return Err(format!("command substitution in {s:?}"))
            }
            '$' => {
                let v = read_var(&mut chars)?;
                word.get_or_insert_with(String::new).push_str(&v);
            }
            '\\' => {
                if let Some(c) = chars.next() {
                    word.get_or_insert_with(String::new).push(c);
                }
            }
            ' ' | '\t' => end_word(&mut word, &mut cmds, &mut drop_next),
            ';' | '\n' | '|' | '&' => {
                end_word(&mut word, &mut cmds, &mut drop_next);
                if matches!(chars.peek(), Some('|' | '&')) {
                    chars.next();
                }
                cmds.push(Vec::new());
            }
            '>' | '<' => {
                // `2>`: the fd number is part of the redirection, not a word.
                if word
                    .as_deref()
                    .is_some_and(|w| w.chars().all(|c| c.is_ascii_digit()))
                {
                    word = None;
                }
                end_word(&mut word, &mut cmds, &mut drop_next);
                if matches!(chars.peek(), Some('>' | '&')) {
                    chars.next();
                }
                drop_next = true;
            }
            '#' if word.is_none() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                cmds.push(Vec::new());
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut cmds, &mut drop_next);
    Ok(cmds.into_iter().filter(|c| !c.is_empty()).collect())
}

/// The arguments after `srbuild` of every srbuild command in `snippet`.
fn srbuild_lines(snippet: &str, vars: &BTreeMap<String, String>) -> Vec<Vec<String>> {
    let cmds = shell_commands(snippet, vars).unwrap_or_else(|e| panic!("{e}"));
    cmds.into_iter()
        .filter_map(|c| {
            let start = c.iter().position(|w| {
                !matches!(w.as_str(), "if" | "then" | "else" | "elif" | "do" | "!")
            })?;
            (c[start] == "srbuild").then(|| c[start + 1..].to_vec())
        })
        .collect()
}

/// Parses `srbuild ARGS` with the real definitions; panics with clap's message.
fn assert_parses(file: &str, args: &[String]) {
    let o = srbuild()
        .args(["generate", "parse", "--"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{file}: `srbuild {}` does not parse: {}",
        args.join(" "),
        stderr(&o)
    );
}

/// Checks one example: each matrix entry's variables, every srbuild line parsed.
fn check(file: &str, matrix: Vec<BTreeMap<String, String>>) -> Vec<Vec<String>> {
    let doc = load(file);
    let mut found = Vec::new();
    let mut all = Vec::new();
    snippets(&doc, &mut found);
    assert!(!found.is_empty(), "{file}: no script/run entries");
    let mut profiles: Vec<String> = matrix
        .iter()
        .map(|m| m.get("PROFILE").cloned().unwrap_or_default())
        .collect();
    profiles.sort();
    assert_eq!(
        profiles, PROFILES,
        "{file}: the matrix builds the five root profiles"
    );
    for vars in &matrix {
        for s in &found {
            for args in srbuild_lines(s, vars) {
                assert_parses(file, &args);
                all.push(args);
            }
        }
    }
    // image, ls, diff, lab test (GitLab); image, why, lab test (GitHub): per profile.
    assert!(all.len() >= 3 * PROFILES.len(), "{file}: {all:?}");
    for p in PROFILES {
        let has = |sub: &str, flag: &str| {
            all.iter().any(|a| {
                a.join(" ").starts_with(sub)
                    && a.iter().any(|w| w == flag)
                    && a.iter().any(|w| w == p)
            })
        };
        assert!(
            has("image", "--json"),
            "{file}: no `srbuild image --json` for {p}"
        );
        assert!(
            has("lab test", "--junit"),
            "{file}: no `srbuild lab test --junit` for {p}"
        );
    }
    all
}

fn env_vars(doc: &Yaml, key: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    if let Some(h) = doc[key].as_hash() {
        for (k, v) in h {
            let v = v
                .as_str()
                .map(str::to_string)
                .or_else(|| v.as_i64().map(|n| n.to_string()));
            if let (Some(k), Some(v)) = (k.as_str(), v) {
                vars.insert(k.to_string(), v);
            }
        }
    }
    vars
}

#[test]
fn gitlab_example_parses_and_keeps_junit_reports() {
    let file = "ci/gitlab-ci.yml";
    let doc = load(file);
    let base = env_vars(&doc, "variables");
    let matrix: Vec<BTreeMap<String, String>> = doc[".profiles"]["parallel"]["matrix"]
        .as_vec()
        .expect("a .profiles parallel matrix")
        .iter()
        .map(|entry| {
            let mut vars = base.clone();
            for (k, v) in entry.as_hash().unwrap() {
                let v = v.as_str().map(str::to_string).unwrap_or_default();
                vars.insert(k.as_str().unwrap().to_string(), v);
            }
            vars
        })
        .collect();
    let lines = check(file, matrix);
    assert!(
        lines.iter().any(|a| a[0] == "diff"),
        "{file}: shows srbuild diff"
    );
    assert_eq!(
        doc["lab"]["artifacts"]["reports"]["junit"].as_str(),
        Some("report-$PROFILE.xml")
    );
    assert_eq!(doc["lab"]["artifacts"]["when"].as_str(), Some("always"));
}

#[test]
fn github_example_parses_and_uploads_junit_reports() {
    let file = "ci/github-actions.yml";
    let doc = load(file);
    let base = env_vars(&doc, "env");
    let job = &doc["jobs"]["image"];
    let matrix: Vec<BTreeMap<String, String>> = job["strategy"]["matrix"]["include"]
        .as_vec()
        .expect("a matrix include list")
        .iter()
        .map(|entry| {
            let mut vars = base.clone();
            for (k, v) in entry.as_hash().unwrap() {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
                    .unwrap_or_default();
                let k = k.as_str().unwrap();
                vars.insert(format!("matrix.{k}"), v.clone());
                if k == "profile" {
                    vars.insert("PROFILE".into(), v);
                }
            }
            vars
        })
        .collect();
    check(file, matrix);
    let uploads_report = job["steps"].as_vec().unwrap().iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact"))
            && s["if"].as_str() == Some("always()")
            && s["with"]["path"]
                .as_str()
                .is_some_and(|p| p.contains("report-${{ matrix.profile }}.xml"))
    });
    assert!(
        uploads_report,
        "{file}: the JUnit report is uploaded, pass or fail"
    );
}

#[test]
fn the_shell_reader_handles_quotes_continuations_and_variables() {
    let vars: BTreeMap<String, String> = [
        ("P".to_string(), "nfs".to_string()),
        ("matrix.n".into(), "3".into()),
    ]
    .into();
    let cmds = shell_commands(
        "if [ -f x ]; then srbuild diff \"a-$P.img\" '${P}' \\\n  --json > out.json || [ $? -eq 1 ]; fi\n\
         srbuild lab test --nodes ${{ matrix.n }} 2>err # comment\n",
        &vars,
    )
    .unwrap();
    assert_eq!(
        cmds,
        [
            vec!["if", "[", "-f", "x", "]"],
            vec!["then", "srbuild", "diff", "a-nfs.img", "${P}", "--json"],
            vec!["[", "1", "-eq", "1", "]"],
            vec!["fi"],
            vec!["srbuild", "lab", "test", "--nodes", "3"],
        ]
    );
    assert!(shell_commands("srbuild image --profile $NOPE", &vars)
        .unwrap_err()
        .contains("$NOPE"));
    // A line that does not parse is caught.
    let o = srbuild()
        .args(["generate", "parse", "--", "image", "--profle", "nfs"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--profle"), "{}", stderr(&o));
}
