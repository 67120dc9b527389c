//! Small file system helpers shared by the editors and `netboot`: atomic edits of a file
//! that may be reached through a symlink, and writes that replace whatever is at a path.

use crate::error::ClusterError;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A temp file next to `target`, filled with `bytes`, fsync'ed; the caller renames it.
fn temp_beside(target: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.srbuild-tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(tmp)
}

/// Edits the file at `path` atomically. A symlink is followed to the real file, which is
/// replaced in its own directory, keeping its owner, group and mode. A read-only file, or
/// one with other hard links (a rename would split them), is refused unless `force`;
/// with `force`, a hard-linked file is rewritten in place.
pub(crate) fn edit_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<(), ClusterError> {
    let real = path
        .canonicalize()
        .map_err(|e| ClusterError::io("resolve", path, e))?;
    let meta = std::fs::metadata(&real).map_err(|e| ClusterError::io("read", &real, e))?;
    let refuse = |message: String| ClusterError::Edit {
        file: path.to_path_buf(),
        message,
    };
    if meta.permissions().readonly() && !force {
        return Err(refuse(format!(
            "{} is read-only (mode {:o}); pass --force to edit it anyway",
            real.display(),
            meta.mode() & 0o7777
        )));
    }
    if meta.nlink() > 1 {
        if !force {
            return Err(refuse(format!(
                "{} has {} hard links, which replacing it would split; pass --force to \
                 rewrite it in place",
                real.display(),
                meta.nlink()
            )));
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&real)
            .map_err(|e| ClusterError::io("write", &real, e))?;
        return f
            .write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| ClusterError::io("write", &real, e));
    }
    let tmp = temp_beside(&real, bytes).map_err(|e| ClusterError::io("write", &real, e))?;
    let result = (|| {
        std::fs::set_permissions(&tmp, meta.permissions())?;
        std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()))?;
        std::fs::rename(&tmp, &real)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ClusterError::io("write", &real, e));
    }
    Ok(())
}

/// Writes `bytes` to `path`, replacing whatever is there (a symlink is replaced, never
/// written through), atomically.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
    let tmp = temp_beside(path, bytes).map_err(|e| ClusterError::io("write", path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ClusterError::io("write", path, e)
    })
}

/// Makes `dir` a real directory: a symlink there is removed first (never followed).
pub(crate) fn real_dir(dir: &Path) -> Result<(), ClusterError> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(dir).map_err(|e| ClusterError::io("replace symlink", dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| ClusterError::io("create directory", dir, e))
}

/// Writes `bytes` to `path` atomically (a temp file renamed over it), keeping the old
/// file's permissions; the path itself is replaced (used inside a CDSL root, whose own
/// code has already refused symlinked components).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
    let tmp = temp_beside(path, bytes).map_err(|e| ClusterError::io("write", path, e))?;
    let result = (|| {
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ClusterError::io("write", path, e));
    }
    Ok(())
}

/// Copies `src` to `dst` by way of a temp file renamed over `dst` (never through a link).
pub(crate) fn replace_with_copy(src: &Path, dst: &Path, mode: u32) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = temp_beside(dst, b"").map_err(|e| ClusterError::io("copy into", dst, e))?;
    let result = std::fs::copy(src, &tmp)
        .and_then(|_| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)))
        .and_then(|_| std::fs::rename(&tmp, dst));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ClusterError::io("copy into", dst, e));
    }
    Ok(())
}
