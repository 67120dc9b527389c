//! `shellcheck -s sh` over every shell file srbuild ships or runs: the scripts in the
//! repository (`lab/src/run/agent.sh`, the kernel hooks in `packaging/`, the `/init`
//! library and `modules.sh`), and what the builder renders from templates, taken from a
//! built and extracted image of every profile (`/init`, `usr/lib/srbuild/lib/*.sh`,
//! `usr/lib/srbuild/modules.sh` and every hook). Any finding fails the test, listed with
//! the file it is in. A finding that must stay is disabled in the script itself, with a
//! comment saying why.

mod common;
use common::*;
use std::path::{Path, PathBuf};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The repository's shell scripts: `*.sh` and files starting with `#!/bin/sh`, outside
/// build output, version control and the fuzzing corpus.
fn repo_scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !["target", ".git", "fuzz", "node_modules"].contains(&name.as_str()) {
                repo_scripts(&p, out);
            }
        } else if !name.ends_with(".hbs")
            && (name.ends_with(".sh")
                || std::fs::read(&p).is_ok_and(|b| b.starts_with(b"#!/bin/sh")))
        {
            out.push(p);
        }
    }
}

/// The shell files of an extracted image: `init`, everything under usr/lib/srbuild ending
/// in `.sh`, and the coldplug table `etc/srbuild/modules.match`.
fn image_scripts(x: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            image_scripts(x, &p, out);
        } else if p.extension().is_some_and(|e| e == "sh") {
            out.push(p);
        }
    }
    if dir == x.join("usr/lib/srbuild") {
        out.push(x.join("init"));
        // The coldplug table, shell generated at build time and sourced by modules.sh.
        let table = x.join("etc/srbuild/modules.match");
        if table.exists() {
            out.push(table);
        }
    }
}

fn profiles() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(REPO).join("profiles"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".toml").map(str::to_string)
        })
        // The lab's root tree is not an initramfs profile (it has no /init).
        .filter(|n| n != "lab-root")
        .collect();
    v.sort();
    v
}

/// Runs shellcheck on `files` from `cwd`; returns its findings (empty when clean).
fn shellcheck(cwd: &Path, files: &[PathBuf]) -> String {
    let o = std::process::Command::new("shellcheck")
        .args(["-s", "sh", "-x", "-f", "gcc"])
        .args(files)
        .current_dir(cwd)
        .output()
        .expect("shellcheck runs: install the Debian package shellcheck (ci/host-packages.txt)");
    assert!(
        o.status.success() || o.status.code() == Some(1),
        "shellcheck failed to run: {}",
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn repository_scripts_are_shellcheck_clean() {
    let mut files = Vec::new();
    repo_scripts(Path::new(REPO), &mut files);
    let rel: Vec<PathBuf> = files
        .iter()
        .map(|p| p.strip_prefix(REPO).unwrap().to_path_buf())
        .collect();
    for want in [
        "lab/src/run/agent.sh",
        "builder/templates/lib/core.sh",
        "builder/templates/modules.sh",
        "packaging/kernel/postinst.d/srbuild",
    ] {
        assert!(
            rel.iter().any(|p| p == Path::new(want)),
            "{want} is checked"
        );
    }
    let findings = shellcheck(Path::new(REPO), &rel);
    assert!(
        findings.is_empty(),
        "shellcheck -s sh findings:\n{findings}"
    );
}

#[test]
fn rendered_runtime_of_every_profile_is_shellcheck_clean() {
    let mut all = String::new();
    let mut checked = 0;
    for profile in profiles() {
        let (_d, x) = extracted(&profile);
        let mut files = Vec::new();
        image_scripts(&x, &x.join("usr/lib/srbuild"), &mut files);
        assert!(
            files.iter().any(|f| f.ends_with("lib/core.sh")),
            "{profile}: no /init library in {files:?}"
        );
        let rel: Vec<PathBuf> = files
            .iter()
            .map(|p| p.strip_prefix(&x).unwrap().to_path_buf())
            .collect();
        checked += rel.len();
        let findings = shellcheck(&x, &rel);
        if !findings.is_empty() {
            all.push_str(&format!("--- image of profile {profile}:\n{findings}"));
        }
    }
    assert!(checked >= 30, "only {checked} files were checked");
    assert!(all.is_empty(), "shellcheck -s sh findings:\n{all}");
}
