//! Small file system helpers shared by the editors and `netboot`: atomic edits of a file
//! that may be reached through a symlink, and writes that replace whatever is at a path.
//! Every new file is made by `srbuild_fsio` (created, chmod-ed, chown-ed and synced
//! through its descriptor, then renamed), never touched by path after its creation.

use crate::error::ClusterError;
use srbuild_fsio::Owner;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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
        let mut f =
            srbuild_fsio::open_rewrite(&real).map_err(|e| ClusterError::io("write", &real, e))?;
        return f
            .write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| ClusterError::io("write", &real, e));
    }
    let owner = Owner {
        uid: meta.uid(),
        gid: meta.gid(),
    };
    srbuild_fsio::write_file(&real, bytes, meta.mode(), Some(owner))
        .map_err(|e| ClusterError::io("write", &real, e))
}

/// Writes `bytes` to `path`, replacing whatever is there (a symlink is replaced, never
/// written through), atomically.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
    srbuild_fsio::write_file(path, bytes, 0o644, None)
        .map_err(|e| ClusterError::io("write", path, e))
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
    let mode = std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0o644, |m| m.mode());
    srbuild_fsio::write_file(path, bytes, mode, None)
        .map_err(|e| ClusterError::io("write", path, e))
}

/// Copies `src` to `dst` by way of a temp file renamed over `dst` (never through a link).
pub(crate) fn replace_with_copy(src: &Path, dst: &Path, mode: u32) -> Result<(), ClusterError> {
    srbuild_fsio::copy_file(src, dst, mode, None, false)
        .map(drop)
        .map_err(|e| ClusterError::io("copy into", dst, e))
}
