//! The build plan: a sorted map from archive path to what goes there. Owns conflict
//! detection (two different sources for one path), parent directories, and the conversion
//! to archive entries (including hardlink groups of host files).

use crate::error::{BuildError, Result};
use srbuild_archive::{Entry, EntryKind};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// What one archive path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file copied from the host (the real path, sysroot prefix included).
    Host(PathBuf),
    Bytes(Vec<u8>),
    Dir,
    Symlink(String),
    CharDev(u32, u32),
}

/// One planned entry.
#[derive(Debug, Clone)]
pub struct PlanEntry {
    pub source: Source,
    pub mode: u32,
    /// Who asked for it, for conflict messages.
    pub by: String,
    /// Why it is there, structured (for `srbuild why` and the manifest); `None` when
    /// only `by` says (generated files, the skeleton, parent directories).
    pub cause: Option<Cause>,
}

/// What brought a planned entry in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Another planned entry (its archive path) needed it.
    Object { path: String, via: Via },
    /// A profile's or module's list named it: `list` (`binaries`, `files`, …) of `by`.
    Listed { list: &'static str, by: String },
}

/// How one planned entry pulls in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A library in an ELF object's `DT_NEEDED`.
    Needed,
    /// The dynamic loader in an ELF program's `PT_INTERP`.
    Interp,
    /// A script's `#!` interpreter.
    Shebang,
    /// What a symlink points to (the file or the next link).
    Symlink,
    /// A kernel module that another one depends on (`modules.dep`).
    ModuleDep,
    /// A kernel module named in another's `softdep`.
    Softdep,
    /// Firmware a kernel module names (`firmware=` in its `.modinfo`).
    Firmware,
    /// A directory on the way to a path the object needed.
    Directory,
}

impl Via {
    /// The words between two paths in a chain: `A ← DT_NEEDED of B`.
    pub fn words(self) -> &'static str {
        match self {
            Via::Needed => "DT_NEEDED of",
            Via::Interp => "PT_INTERP of",
            Via::Shebang => "#! interpreter of",
            Via::Symlink => "target of symlink",
            Via::ModuleDep => "modules.dep of",
            Via::Softdep => "softdep of",
            Via::Firmware => "firmware of",
            Via::Directory => "on the way to",
        }
    }

    /// A short stable name, for the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Via::Needed => "DT_NEEDED",
            Via::Interp => "PT_INTERP",
            Via::Shebang => "shebang",
            Via::Symlink => "symlink",
            Via::ModuleDep => "modules.dep",
            Via::Softdep => "softdep",
            Via::Firmware => "firmware",
            Via::Directory => "directory",
        }
    }
}

/// Archive path (no leading `/`) → entry, kept sorted.
#[derive(Debug, Default)]
pub struct Plan {
    entries: BTreeMap<String, PlanEntry>,
}

fn describe(s: &Source) -> String {
    match s {
        Source::Host(p) => format!("file {}", p.display()),
        Source::Bytes(_) => "generated content".into(),
        Source::Dir => "a directory".into(),
        Source::Symlink(t) => format!("symlink to {t}"),
        Source::CharDev(a, b) => format!("device {a}:{b}"),
    }
}

impl Plan {
    /// Adds an entry. The same source twice is fine; a different one is a [`BuildError::Conflict`].
    pub fn insert(&mut self, path: &str, source: Source, mode: u32, by: &str) -> Result<()> {
        let path = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_string();
        if path.is_empty() {
            return Ok(());
        }
        if let Some(old) = self.entries.get(&path) {
            if old.source == source {
                return Ok(());
            }
            return Err(BuildError::Conflict {
                path,
                first: format!("{} (from {})", describe(&old.source), old.by),
                second: format!("{} (from {by})", describe(&source)),
            });
        }
        self.entries.insert(
            path,
            PlanEntry {
                source,
                mode,
                by: by.to_string(),
                cause: None,
            },
        );
        Ok(())
    }

    /// Records why `path` is planned, if it was planned for `by` and has no cause yet: the
    /// first request that planned an entry explains it, as `by` does.
    pub fn set_cause(&mut self, path: &str, by: &str, cause: Cause) {
        if let Some(e) = self.entries.get_mut(path.trim_start_matches('/')) {
            if e.by == by && e.cause.is_none() {
                e.cause = Some(cause);
            }
        }
    }

    /// Adds generated content, replacing nothing.
    pub fn insert_bytes(&mut self, path: &str, bytes: Vec<u8>, mode: u32, by: &str) -> Result<()> {
        self.insert(path, Source::Bytes(bytes), mode, by)
    }

    pub fn get(&self, path: &str) -> Option<&PlanEntry> {
        self.entries.get(path.trim_start_matches('/'))
    }

    pub fn contains(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &PlanEntry)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds every missing parent directory (mode 0755).
    pub fn fill_parents(&mut self) -> Result<()> {
        let mut missing = Vec::new();
        for path in self.entries.keys() {
            let mut p = path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                match self.entries.get(parent) {
                    Some(e) if e.source == Source::Dir => {}
                    Some(e) => {
                        return Err(BuildError::Conflict {
                            path: path.clone(),
                            first: format!("{parent} is {} (from {})", describe(&e.source), e.by),
                            second: format!("{path} needs {parent} to be a directory"),
                        })
                    }
                    None => missing.push(parent.to_string()),
                }
                p = parent;
            }
        }
        for m in missing {
            self.entries.entry(m).or_insert(PlanEntry {
                source: Source::Dir,
                mode: 0o755,
                by: "parent directory".into(),
                cause: None,
            });
        }
        Ok(())
    }

    /// Converts to archive entries in path order; host files sharing an inode become one
    /// hardlink group.
    pub fn to_entries(&self) -> Result<Vec<Entry>> {
        self.entries(false)
    }

    /// [`Plan::to_entries`], with each host file an [`EntryKind::HashedFile`]: the writer
    /// hashes what it copies, so a manifest needs no second read.
    pub fn to_hashed_entries(&self) -> Result<Vec<Entry>> {
        self.entries(true)
    }

    fn entries(&self, hashed: bool) -> Result<Vec<Entry>> {
        let mut inode_of: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
        let mut out = Vec::with_capacity(self.entries.len());
        for (path, e) in &self.entries {
            let kind = match &e.source {
                Source::Host(p) => {
                    let meta = std::fs::metadata(p).map_err(|err| BuildError::read(p, err))?;
                    if meta.nlink() > 1 {
                        inode_of
                            .entry((meta.dev(), meta.ino()))
                            .or_default()
                            .push(out.len());
                    }
                    if hashed {
                        EntryKind::HashedFile {
                            source: p.clone(),
                            digest: Default::default(),
                        }
                    } else {
                        EntryKind::File { source: p.clone() }
                    }
                }
                Source::Bytes(b) => EntryKind::Bytes(b.clone()),
                Source::Dir => EntryKind::Dir,
                Source::Symlink(t) => EntryKind::Symlink(t.clone()),
                Source::CharDev(a, b) => EntryKind::CharDev {
                    major: *a,
                    minor: *b,
                },
            };
            out.push(Entry {
                path: path.clone(),
                mode: e.mode & 0o7777,
                kind,
                hardlink_group: None,
            });
        }
        let mut groups: Vec<Vec<usize>> = inode_of.into_values().filter(|v| v.len() > 1).collect();
        groups.sort();
        for (g, members) in groups.into_iter().enumerate() {
            for i in members {
                out[i].hardlink_group = Some(g as u64);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_source_twice_is_fine_different_is_a_conflict() {
        let mut p = Plan::default();
        p.insert(
            "usr/bin/sh",
            Source::Symlink("busybox".into()),
            0o777,
            "base",
        )
        .unwrap();
        p.insert(
            "/usr/bin/sh",
            Source::Symlink("busybox".into()),
            0o777,
            "other",
        )
        .unwrap();
        let err = p
            .insert("usr/bin/sh", Source::Symlink("dash".into()), 0o777, "nfs")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("usr/bin/sh") && err.contains("busybox") && err.contains("dash"),
            "{err}"
        );
    }

    #[test]
    fn parents_are_filled_and_must_be_directories() {
        let mut p = Plan::default();
        p.insert_bytes("a/b/c", b"x".to_vec(), 0o644, "t").unwrap();
        p.fill_parents().unwrap();
        let paths: Vec<_> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(paths, vec!["a", "a/b", "a/b/c"]);
        let mut q = Plan::default();
        q.insert("a", Source::Symlink("x".into()), 0o777, "t")
            .unwrap();
        q.insert_bytes("a/b", vec![], 0o644, "t").unwrap();
        assert!(q.fill_parents().is_err());
    }
}
