//! Writing a plan as a directory tree instead of an archive: the lab's test roots are built
//! this way (`BuildOptions::runtime = false`), with no cpio written, unpacked and pruned.

use crate::assembly::{plan_image, Planned};
use crate::error::{BuildError, Result};
use crate::options::BuildOptions;
use crate::plan::Source;
use std::io::Write;
use std::path::Path;

/// Plans `opts` and writes the result under `dir`, which must not exist yet.
pub fn build_tree(opts: &BuildOptions, dir: &Path) -> Result<Planned> {
    let planned = plan_image(opts)?;
    write_tree(&planned, dir)?;
    Ok(planned)
}

/// Writes every entry of `planned` under `dir` (created; it must not exist). Host files are
/// copied, symlinks made as planned; device nodes are skipped (a root gets devtmpfs).
pub fn write_tree(planned: &Planned, dir: &Path) -> Result<()> {
    let io = |p: &Path, e: std::io::Error| BuildError::Write {
        path: p.to_path_buf(),
        source: e,
    };
    std::fs::create_dir(dir).map_err(|e| io(dir, e))?;
    let mut dirs = Vec::new();
    // Paths are sorted, so a directory comes before what it holds.
    for (path, entry) in planned.plan.iter() {
        // Never write through `..` or through a symlink made earlier (an absolute link such
        // as var/run -> /run would point at the build host).
        let rel = Path::new(path);
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(io(
                &dir.join(path),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a plain relative path",
                ),
            ));
        }
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            let meta = std::fs::symlink_metadata(dir.join(parent));
            if !meta.is_ok_and(|m| m.is_dir()) {
                return Err(io(
                    &dir.join(path),
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "its parent is not a directory of the tree (a symlink?)",
                    ),
                ));
            }
        }
        let at = dir.join(path);
        match &entry.source {
            Source::Dir => std::fs::create_dir(&at).map_err(|e| io(&at, e))?,
            Source::Symlink(t) => std::os::unix::fs::symlink(t, &at).map_err(|e| io(&at, e))?,
            // Files are created, written and chmod-ed through their descriptor.
            Source::Bytes(b) => srbuild_fsio::create_new(&at, entry.mode, |f| f.write_all(b))
                .map_err(|e| io(&at, e))?,
            Source::Host(src) => {
                let mut from = std::fs::File::open(src).map_err(|e| BuildError::read(src, e))?;
                srbuild_fsio::create_new(&at, entry.mode, |f| {
                    std::io::copy(&mut from, f).map(drop)
                })
                .map_err(|e| io(&at, e))?;
            }
            Source::CharDev(..) => continue,
        }
        // Directory modes last: a read-only directory must still take its entries.
        if let Source::Dir = entry.source {
            dirs.push((at, entry.mode));
        }
    }
    for (at, mode) in dirs.iter().rev() {
        srbuild_fsio::chmod_nofollow(at, *mode).map_err(|e| io(at, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_plan_becomes_a_tree() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("host-file");
        std::fs::write(&src, "from the host").unwrap();
        let mut plan = Plan::default();
        plan.insert("usr/bin/tool", Source::Host(src), 0o755, "t")
            .unwrap();
        plan.insert("bin", Source::Symlink("usr/bin".into()), 0o777, "t")
            .unwrap();
        plan.insert_bytes("etc/motd", b"hi\n".to_vec(), 0o644, "t")
            .unwrap();
        plan.insert("dev/console", Source::CharDev(5, 1), 0o600, "t")
            .unwrap();
        plan.fill_parents().unwrap();
        let planned = Planned {
            plan,
            profile: Default::default(),
            kver: "k".into(),
            kernel_modules: vec![],
            kernel_module_paths: vec![],
            inputs: vec![],
            module_inputs: vec![],
            elf_parsed: 0,
            warnings: vec![],
        };
        let out = d.path().join("tree");
        write_tree(&planned, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("bin/tool")).unwrap(),
            "from the host"
        );
        let mode = std::fs::metadata(out.join("usr/bin/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_to_string(out.join("etc/motd")).unwrap(),
            "hi\n"
        );
        assert!(out.join("dev").is_dir() && !out.join("dev/console").exists());
        // An existing directory is refused, not merged into.
        assert!(write_tree(&planned, &out).is_err());

        // Nothing is written through a planned symlink, even one to a directory outside.
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let mut plan = Plan::default();
        plan.insert(
            "run",
            Source::Symlink(outside.display().to_string()),
            0o777,
            "t",
        )
        .unwrap();
        plan.insert_bytes("run/escaped", b"x".to_vec(), 0o644, "t")
            .unwrap();
        let planned = Planned { plan, ..planned };
        let err = write_tree(&planned, &d.path().join("tree2")).unwrap_err();
        assert!(err.to_string().contains("run/escaped"), "{err}");
        assert!(!outside.join("escaped").exists());
    }
}
