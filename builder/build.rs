//! Embeds the project's `profiles/` and `modules/` trees into the builder, so that the
//! `srbuild` binary works on its own (a packager ships one file) while a profile on disk can
//! still override or extend them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = read.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let child = format!("{rel}/{name}");
        if path.is_dir() {
            collect(&path, &child, out);
        } else {
            out.push((child, path));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let top = manifest
        .parent()
        .expect("builder/ lives in the workspace")
        .to_path_buf();
    let mut files = Vec::new();
    for tree in ["profiles", "modules"] {
        println!("cargo:rerun-if-changed={}", top.join(tree).display());
        collect(&top.join(tree), tree, &mut files);
    }
    let mut code = String::from("/// (relative path, content) of every embedded data file.\npub static BUILTIN_FILES: &[(&str, &str)] = &[\n");
    for (rel, path) in files {
        writeln!(
            code,
            "    ({rel:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("builtin.rs");
    std::fs::write(out, code).expect("write builtin.rs");
}
