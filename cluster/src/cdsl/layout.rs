//! The on-disk CDSL layout (`.cluster/cdsl/<id|default>/PATH`,
//! `.cluster/shared/PATH`, symlink targets) and the safe path primitives every
//! CDSL operation goes through: path normalisation, symlink-refusing path
//! resolution inside the root, copying that preserves modes and symlinks,
//! and crash-tolerant install/replace steps.

use crate::error::ClusterError;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{lchown, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Directory (relative to the root) holding all cluster-private state.
pub const CLUSTER_DIR: &str = ".cluster";
/// Where each node bind-mounts its own tree at boot.
pub const LOCAL_MOUNT: &str = "/.cdsl.local";
/// Absolute (in the booted root) directory of shared exceptions.
pub const SHARED_MOUNT: &str = "/.cluster/shared";
/// Suffixes of temporary names left by an interrupted operation.
pub const TMP_SUFFIXES: &[&str] = &[".srbuild-tmp", ".srbuild-link", ".srbuild-old"];

/// One per-node tree under `.cluster/cdsl/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tree {
    /// `.cluster/cdsl/default`, used by nodes without their own tree.
    Default,
    /// `.cluster/cdsl/<id>`.
    Node(u32),
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tree::Default => f.write_str("default"),
            Tree::Node(id) => write!(f, "{id}"),
        }
    }
}

/// Relative path (from the root) of a tree: `.cluster/cdsl/<tree>`.
pub fn tree_rel(tree: Tree) -> String {
    format!("{CLUSTER_DIR}/cdsl/{tree}")
}

/// Relative path (from the root) of the shared copy of `rel`.
pub fn shared_rel(rel: &str) -> String {
    format!("{CLUSTER_DIR}/shared/{rel}")
}

/// Symlink target that replaces `ROOT/rel`: `/.cdsl.local/rel`.
pub fn local_target(rel: &str) -> String {
    format!("{LOCAL_MOUNT}/{rel}")
}

/// Symlink target of a shared exception in each tree: `/.cluster/shared/rel`.
pub fn shared_target(rel: &str) -> String {
    format!("{SHARED_MOUNT}/{rel}")
}

/// Normalises a user path (`/etc/hostname` or `etc/hostname`) to `etc/hostname`.
/// Rejects `..`, empty paths and paths inside `.cluster` or `.cdsl.local`.
pub fn normalize_rel(path: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "'{path}' contains '..'; give the path inside the root without '..'"
                ))
            }
            Component::Normal(s) => {
                let s = s
                    .to_str()
                    .ok_or_else(|| format!("'{path}' is not valid UTF-8"))?;
                parts.push(s.to_string());
            }
            Component::Prefix(_) => return Err(format!("'{path}' is not a Unix path")),
        }
    }
    if parts.is_empty() {
        return Err(format!(
            "'{path}' names the root itself; give a path inside it"
        ));
    }
    if parts[0] == CLUSTER_DIR || parts[0] == ".cdsl.local" {
        return Err(format!(
            "'{path}' is inside srbuild's own {}; pick a path of the shared root",
            parts[0]
        ));
    }
    if let Some(last) = parts.last() {
        if TMP_SUFFIXES.iter().any(|s| last.ends_with(s)) {
            return Err(format!("'{path}' ends with a reserved srbuild suffix"));
        }
    }
    Ok(parts.join("/"))
}

/// Whether `path` is `prefix` or below it (component-wise).
pub fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// A canonicalised CDSL root directory.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// Opens `dir`, which must be an existing directory.
    pub fn open(dir: &Path) -> Result<Root, ClusterError> {
        let canon = dir
            .canonicalize()
            .map_err(|e| ClusterError::io("open root", dir, e))?;
        if !canon.is_dir() {
            return Err(ClusterError::Cdsl {
                root: dir.to_path_buf(),
                message: "is not a directory; pass the shared root with --root DIR".into(),
            });
        }
        Ok(Root { dir: canon })
    }

    /// The canonical root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn err(&self, message: impl Into<String>) -> ClusterError {
        ClusterError::Cdsl {
            root: self.dir.clone(),
            message: message.into(),
        }
    }

    /// `ROOT/rel` after checking that no component before the last is a
    /// symlink (any such symlink is refused, saying where it leads) or a
    /// non-directory. Missing components are fine (they will be created).
    /// The last component is never followed by callers.
    pub fn path(&self, rel: &str) -> Result<PathBuf, ClusterError> {
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let mut cur = self.dir.clone();
        for (i, part) in parts.iter().enumerate() {
            if *part == ".." {
                return Err(self.err(format!("'{rel}' contains '..'")));
            }
            cur.push(part);
            if i + 1 == parts.len() {
                break;
            }
            match fs::symlink_metadata(&cur) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    for p in &parts[i + 1..] {
                        cur.push(p);
                    }
                    return Ok(cur);
                }
                Err(e) => return Err(ClusterError::io("inspect", &cur, e)),
                Ok(m) if m.file_type().is_symlink() => {
                    let target = fs::read_link(&cur).unwrap_or_default();
                    let shown = parts[..=i].join("/");
                    let why = symlink_refusal(&shown, &target);
                    return Err(ClusterError::UnsafePath {
                        root: self.dir.clone(),
                        link: PathBuf::from(shown),
                        target,
                        why,
                    });
                }
                Ok(m) if !m.is_dir() => {
                    return Err(self.err(format!(
                        "{} is not a directory, so '{rel}' cannot exist below it",
                        parts[..=i].join("/")
                    )))
                }
                Ok(_) => {}
            }
        }
        Ok(cur)
    }

    /// `ROOT/.cluster/cdsl/<tree>/rel`, checked like [`Root::path`].
    pub fn tree_path(&self, tree: Tree, rel: &str) -> Result<PathBuf, ClusterError> {
        self.path(&format!("{}/{rel}", tree_rel(tree)))
    }

    /// `ROOT/.cluster/shared/rel`, checked like [`Root::path`].
    pub fn shared_path(&self, rel: &str) -> Result<PathBuf, ClusterError> {
        self.path(&shared_rel(rel))
    }

    /// Creates the parent directories of a checked path.
    pub(crate) fn make_parents(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| ClusterError::io("create directory", parent, e))?;
        }
        Ok(())
    }

    /// Node ids that have a tree (`.cluster/cdsl/<number>`), ascending.
    pub fn existing_node_ids(&self) -> Result<Vec<u32>, ClusterError> {
        let dir = self.path(&format!("{CLUSTER_DIR}/cdsl/x"))?;
        let dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut ids = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(ClusterError::io("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| ClusterError::io("list", &dir, e))?;
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if let (true, Some(id)) = (
                is_dir,
                entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok()),
            ) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// `Default` followed by the union of `ids` and the existing node trees.
    pub fn trees(&self, ids: &[u32]) -> Result<Vec<Tree>, ClusterError> {
        let mut all: Vec<u32> = self.existing_node_ids()?;
        all.extend_from_slice(ids);
        all.sort_unstable();
        all.dedup();
        let mut t = vec![Tree::Default];
        t.extend(all.into_iter().map(Tree::Node));
        Ok(t)
    }
}

fn symlink_refusal(shown: &str, target: &Path) -> String {
    if target.is_absolute() {
        format!(
            "{shown} is an absolute symlink, which outside a chroot leads out of the root; give the path without it (e.g. via {})",
            target.display()
        )
    } else if escapes(Path::new(shown).parent().unwrap_or(Path::new("")), target) {
        format!("{shown} climbs out of the root with '..'; fix the link")
    } else {
        format!("{shown} is a symlink; CDSL paths must not pass through symlinks, give the real path instead")
    }
}

/// Whether a relative `target` of a link located in directory `dir`
/// (relative to the root) climbs above the root.
pub fn escapes(dir: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = dir
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for c in target.components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    false
}

/// `symlink_metadata`, with NotFound as `None`.
pub(crate) fn lstat(path: &Path) -> Result<Option<fs::Metadata>, ClusterError> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ClusterError::io("inspect", path, e)),
    }
}

/// The target if `path` is a symlink.
pub(crate) fn link_of(path: &Path) -> Result<Option<PathBuf>, ClusterError> {
    match lstat(path)? {
        Some(m) if m.file_type().is_symlink() => fs::read_link(path)
            .map(Some)
            .map_err(|e| ClusterError::io("read link", path, e)),
        _ => Ok(None),
    }
}

/// Whether `path` is a symlink pointing exactly at `target`.
pub(crate) fn is_link_to(path: &Path, target: &str) -> Result<bool, ClusterError> {
    Ok(link_of(path)?.is_some_and(|t| t == Path::new(target)))
}

/// Removes a file, symlink (never followed) or directory tree; missing is fine.
pub(crate) fn remove_any(path: &Path) -> Result<(), ClusterError> {
    match lstat(path)? {
        None => Ok(()),
        Some(m) if m.is_dir() => {
            fs::remove_dir_all(path).map_err(|e| ClusterError::io("remove", path, e))
        }
        Some(_) => fs::remove_file(path).map_err(|e| ClusterError::io("remove", path, e)),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Copies `src` to `dst` (which must not exist): files with their mode,
/// symlinks as symlinks (never followed), directories recursively. Owner
/// and group are copied where permitted.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<(), ClusterError> {
    let meta = fs::symlink_metadata(src).map_err(|e| ClusterError::io("inspect", src, e))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(|e| ClusterError::io("read link", src, e))?;
        std::os::unix::fs::symlink(&target, dst)
            .map_err(|e| ClusterError::io("create symlink", dst, e))?;
    } else if ft.is_file() {
        // Created O_EXCL|O_NOFOLLOW, copied, chown-ed (best effort: only root may give
        // files away) and chmod-ed through its descriptor.
        // The source is opened without following a link and must be the file that was
        // inspected: a link or another file swapped in since is refused, and the mode and
        // owner come from the open descriptor, never from a second look by path.
        use std::os::unix::fs::OpenOptionsExt;
        let mut from = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(src)
            .map_err(|e| ClusterError::io("read", src, e))?;
        let opened = from
            .metadata()
            .map_err(|e| ClusterError::io("inspect", src, e))?;
        if !opened.file_type().is_file() || (opened.dev(), opened.ino()) != (meta.dev(), meta.ino())
        {
            return Err(ClusterError::Usage(format!(
                "{} changed while it was being copied (replaced by another file or a link); \
                 nothing was copied, run the command again",
                src.display()
            )));
        }
        let owner = srbuild_fsio::Owner {
            uid: opened.uid(),
            gid: opened.gid(),
        };
        srbuild_fsio::create_new(dst, opened.mode(), |f| {
            std::io::copy(&mut from, f)?;
            let _ = srbuild_fsio::fchown(f, owner);
            Ok(())
        })
        .map_err(|e| ClusterError::io("copy to", dst, e))?;
        return Ok(());
    } else if ft.is_dir() {
        fs::create_dir(dst).map_err(|e| ClusterError::io("create directory", dst, e))?;
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(|e| ClusterError::io("list", src, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| ClusterError::io("list", src, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            copy_tree(&e.path(), &dst.join(e.file_name()))?;
        }
        srbuild_fsio::chmod_nofollow(dst, meta.mode())
            .map_err(|e| ClusterError::io("set mode of", dst, e))?;
    } else {
        return Err(ClusterError::Usage(format!(
            "{} is a device, fifo or socket; CDSLs hold only files, directories and symlinks",
            src.display()
        )));
    }
    // Best effort: only root may give files away.
    let _ = lchown(dst, Some(meta.uid()), Some(meta.gid()));
    Ok(())
}

/// Copies `src` to `dst` through `dst.srbuild-tmp` and a rename, so `dst`
/// is either absent or complete.
pub(crate) fn install_copy(src: &Path, dst: &Path) -> Result<(), ClusterError> {
    let tmp = with_suffix(dst, ".srbuild-tmp");
    remove_any(&tmp)?;
    copy_tree(src, &tmp)?;
    if lstat(dst)?.is_some_and(|m| m.is_dir()) {
        remove_any(dst)?;
    }
    fs::rename(&tmp, dst).map_err(|e| ClusterError::io("rename into", dst, e))
}

/// Replaces whatever is at `path` (file, symlink, directory or nothing)
/// with a symlink to `target`. A directory is moved to `path.srbuild-old`
/// first and removed after the link is in place.
pub(crate) fn replace_with_symlink(path: &Path, target: &str) -> Result<(), ClusterError> {
    let tmp = with_suffix(path, ".srbuild-link");
    remove_any(&tmp)?;
    std::os::unix::fs::symlink(target, &tmp)
        .map_err(|e| ClusterError::io("create symlink", &tmp, e))?;
    let old = with_suffix(path, ".srbuild-old");
    if lstat(path)?.is_some_and(|m| m.is_dir()) {
        remove_any(&old)?;
        fs::rename(path, &old).map_err(|e| ClusterError::io("move aside", path, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| ClusterError::io("rename into", path, e))?;
    remove_any(&old)
}

/// Replaces whatever is at `path` with a copy of `src` (used to turn a
/// symlink back into real content).
pub(crate) fn replace_with_copy(src: &Path, path: &Path) -> Result<(), ClusterError> {
    let tmp = with_suffix(path, ".srbuild-tmp");
    remove_any(&tmp)?;
    copy_tree(src, &tmp)?;
    if lstat(path)?.is_some_and(|m| m.is_dir() || m.file_type().is_symlink()) {
        remove_any(path)?;
    }
    fs::rename(&tmp, path).map_err(|e| ClusterError::io("rename into", path, e))
}

/// Removes the leftover `path.srbuild-old` of an interrupted directory swap.
pub(crate) fn remove_leftovers(path: &Path) -> Result<(), ClusterError> {
    for s in TMP_SUFFIXES {
        remove_any(&with_suffix(path, s))?;
    }
    Ok(())
}

/// Removes empty directories from `path`'s parent up to (not including) `stop`.
pub(crate) fn prune_empty_parents(path: &Path, stop: &Path) {
    let mut cur = path.parent();
    while let Some(dir) = cur {
        if dir == stop || !dir.starts_with(stop) || fs::remove_dir(dir).is_err() {
            break;
        }
        cur = dir.parent();
    }
}
