//! `cargo xtask docs [--check]`: the generated parts of the docs (the lab's kinds and
//! scenarios tables, from `srbuild_lab::run::docs`) between their
//! `<!-- BEGIN generated: NAME -->` / `<!-- END generated: NAME -->` markers in `README.md`
//! and `docs/*.md`. Without `--check` it rewrites them; with it, it fails naming every file
//! that is out of date.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The files that may hold generated parts.
fn files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![root.join("README.md")];
    let docs = root.join("docs");
    if docs.is_dir() {
        let mut md: Vec<PathBuf> = std::fs::read_dir(&docs)
            .with_context(|| format!("reading {}", docs.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        md.sort();
        out.extend(md);
    }
    Ok(out.into_iter().filter(|p| p.is_file()).collect())
}

/// Fills (or with `check`, compares) the generated parts of every doc under `root`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cargo xtask docs [--check]"),
    };
    let parts = srbuild_lab::run::docs::parts();
    let mut stale = Vec::new();
    for f in files(root)? {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let new = srbuild_lab::run::docs::fill_markers(&text, &parts)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        if new == text {
            continue;
        }
        if check {
            stale.push(f.display().to_string());
        } else {
            std::fs::write(&f, new).with_context(|| format!("writing {}", f.display()))?;
            println!("xtask: docs: updated {}", f.display());
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated docs are out of date in {}; run `cargo xtask docs`",
            stale.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_fails_on_a_stale_table_and_passes_once_filled() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("docs")).unwrap();
        let lab = d.path().join("docs/lab.md");
        std::fs::write(
            &lab,
            "# Lab\n<!-- BEGIN generated: kinds -->\nstale\n<!-- END generated: kinds -->\n",
        )
        .unwrap();
        std::fs::write(d.path().join("README.md"), "no markers\n").unwrap();
        let check = ["--check".to_string()];
        let e = run(d.path(), &check).unwrap_err().to_string();
        assert!(e.contains("docs/lab.md") && !e.contains("README"), "{e}");
        run(d.path(), &[]).unwrap();
        let text = std::fs::read_to_string(&lab).unwrap();
        assert!(
            text.contains("| `nfs` |") && !text.contains("stale"),
            "{text}"
        );
        run(d.path(), &check).unwrap();
    }
}
