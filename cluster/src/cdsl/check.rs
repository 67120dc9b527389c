//! `cdsl list` (what each CDSL looks like on disk) and `cdsl check`
//! (consistency of inventory and tree: dangling links, missing copies,
//! unrecorded CDSL links, links escaping the root, interrupted runs).

use super::inventory::{CdslKind, Inventory};
use super::layout::{
    escapes, is_link_to, is_under, local_target, lstat, shared_target, Root, Tree, CLUSTER_DIR,
    LOCAL_MOUNT, SHARED_MOUNT, TMP_SUFFIXES,
};
use crate::error::ClusterError;
use std::fmt;
use std::path::Path;

/// The state of one inventory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdslStatus {
    pub path: String,
    pub kind: CdslKind,
    /// Host-dependent: node trees holding a copy. Shared: node trees holding the link.
    pub nodes: Vec<u32>,
    /// Whether the default tree has a copy (host-dependent) or the link (shared).
    pub has_default: bool,
    /// Whether `ROOT/PATH` is the CDSL symlink (host-dependent) or the shared
    /// content exists (shared).
    pub in_place: bool,
}

/// One problem found by [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckProblem {
    /// Relative path the problem is about.
    pub path: String,
    pub message: String,
}

impl fmt::Display for CheckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn describe(path: &Path) -> Result<String, ClusterError> {
    Ok(match lstat(path)? {
        None => "missing".into(),
        Some(m) if m.file_type().is_symlink() => format!(
            "a symlink to {}",
            std::fs::read_link(path).unwrap_or_default().display()
        ),
        Some(m) if m.is_dir() => "a directory".into(),
        Some(_) => "a regular file".into(),
    })
}

/// Every inventory entry with the trees that hold it.
pub fn list(root: &Path) -> Result<Vec<CdslStatus>, ClusterError> {
    let root = Root::open(root)?;
    let inv = Inventory::load(&root)?;
    let ids = root.existing_node_ids()?;
    let mut out = Vec::new();
    let mut entries = inv.cdsl.clone();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    for e in entries {
        let present = |t: Tree| -> Result<bool, ClusterError> {
            let p = root.tree_path(t, &e.path)?;
            match e.kind {
                CdslKind::HostDependent => Ok(lstat(&p)?.is_some()),
                CdslKind::Shared => is_link_to(&p, &shared_target(&e.path)),
            }
        };
        let mut nodes = Vec::new();
        for id in &ids {
            if present(Tree::Node(*id))? {
                nodes.push(*id);
            }
        }
        let has_default = present(Tree::Default)?;
        let in_place = match e.kind {
            CdslKind::HostDependent => is_link_to(&root.path(&e.path)?, &local_target(&e.path))?,
            CdslKind::Shared => lstat(&root.shared_path(&e.path)?)?.is_some(),
        };
        out.push(CdslStatus {
            path: e.path,
            kind: e.kind,
            nodes,
            has_default,
            in_place,
        });
    }
    Ok(out)
}

/// Checks inventory and tree; `node_ids` are the cluster's nodes (trees that
/// exist are checked as well). Returns the problems (empty = consistent).
pub fn check(root: &Path, node_ids: &[u32]) -> Result<Vec<CheckProblem>, ClusterError> {
    let root = Root::open(root)?;
    let inv = Inventory::load(&root)?;
    let mut problems = Vec::new();
    let mut push = |path: &str, message: String| {
        problems.push(CheckProblem {
            path: path.to_string(),
            message,
        })
    };
    let existing = root.existing_node_ids()?;
    let mut ids: Vec<u32> = existing.clone();
    ids.extend_from_slice(node_ids);
    ids.sort_unstable();
    ids.dedup();

    for e in &inv.cdsl {
        if let Err(m) = super::normalize_rel(&e.path) {
            push(&e.path, format!("invalid inventory entry: {m}"));
            continue;
        }
        match e.kind {
            CdslKind::HostDependent => {
                // Paths passing through symlinks are reported, not followed.
                let live = match root.path(&e.path) {
                    Ok(p) => p,
                    Err(err) => {
                        push(&e.path, err.to_string());
                        continue;
                    }
                };
                let target = local_target(&e.path);
                if !is_link_to(&live, &target)? {
                    push(
                        &e.path,
                        format!(
                            "inventory says host-dependent but ROOT/{} is {} (expected a symlink to {target}); re-run `srbuild cdsl create --hostdependent {}` to finish, or `srbuild cdsl remove {}`",
                            e.path,
                            describe(&live)?,
                            e.path,
                            e.path
                        ),
                    );
                }
                let has_default = lstat(&root.tree_path(Tree::Default, &e.path)?)?.is_some();
                for id in &ids {
                    let has_tree = existing.contains(id);
                    let has_copy = lstat(&root.tree_path(Tree::Node(*id), &e.path)?)?.is_some();
                    if has_tree && !has_copy {
                        push(
                            &e.path,
                            format!("node {id} has its own tree but no copy; /{} dangles on node {id}: run `srbuild cdsl addnode {id}` or create again", e.path),
                        );
                    } else if !has_tree && !has_default {
                        push(
                            &e.path,
                            format!("node {id} has no copy and there is no default copy; /{} dangles on node {id}: run `srbuild cdsl addnode {id}`", e.path),
                        );
                    }
                }
                if ids.is_empty() && !has_default {
                    push(
                        &e.path,
                        "no node tree and no default copy: the link dangles everywhere".into(),
                    );
                }
            }
            CdslKind::Shared => {
                let shared = root.shared_path(&e.path)?;
                if lstat(&shared)?.is_none() {
                    push(
                        &e.path,
                        format!("shared content {CLUSTER_DIR}/shared/{} is missing: the links to it dangle; re-run `srbuild cdsl create --shared {}`", e.path, e.path),
                    );
                }
                let link = shared_target(&e.path);
                for t in root.trees(&[])? {
                    let entry = root.tree_path(t, &e.path)?;
                    if !entry.parent().is_some_and(|p| p.is_dir()) || is_link_to(&entry, &link)? {
                        continue;
                    }
                    push(
                        &e.path,
                        format!("tree {t} has {} instead of the link to {link}; re-run `srbuild cdsl create --shared {}`", describe(&entry)?, e.path),
                    );
                }
            }
        }
    }

    // Walk the whole tree (never following links, one file system).
    for entry in walkdir::WalkDir::new(root.dir())
        .follow_links(false)
        .same_file_system(true)
        .min_depth(1)
    {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                push("(walk)", format!("cannot read part of the tree: {err}"));
                continue;
            }
        };
        let rel_path = entry
            .path()
            .strip_prefix(root.dir())
            .unwrap_or(entry.path());
        let rel = rel_path.to_string_lossy().into_owned();
        let name = entry.file_name().to_string_lossy();
        if TMP_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            push(
                &rel,
                "leftover of an interrupted srbuild run; re-run the create/remove it belonged to"
                    .into(),
            );
        }
        if !entry.path_is_symlink() {
            continue;
        }
        let target = match std::fs::read_link(entry.path()) {
            Ok(t) => t,
            Err(err) => {
                push(&rel, format!("cannot read link: {err}"));
                continue;
            }
        };
        let dir = rel_path.parent().unwrap_or(Path::new(""));
        if escapes(dir, &target) {
            push(
                &rel,
                format!(
                    "symlink target {} climbs out of the root with '..'; fix the link",
                    target.display()
                ),
            );
            continue;
        }
        let t = target.to_string_lossy();
        let in_cluster = is_under(&rel, CLUSTER_DIR);
        if let Some(rest) = t.strip_prefix(&format!("{LOCAL_MOUNT}/")) {
            if in_cluster {
                continue;
            }
            let recorded = inv
                .get(rest)
                .is_some_and(|e| e.kind == CdslKind::HostDependent && e.path == rel);
            if !recorded {
                push(
                    &rel,
                    format!("symlink into {LOCAL_MOUNT} ({t}) is not in the inventory; run `srbuild cdsl create --hostdependent {rest}` or replace the link"),
                );
            }
        } else if let Some(rest) = t.strip_prefix(&format!("{SHARED_MOUNT}/")) {
            if lstat(&root.shared_path(rest)?)?.is_none() {
                push(
                    &rel,
                    format!("dangling symlink to {t}: {CLUSTER_DIR}/shared/{rest} is missing"),
                );
            }
            if !inv.get(rest).is_some_and(|e| e.kind == CdslKind::Shared) {
                push(
                    &rel,
                    format!("symlink to {t} is not in the inventory; run `srbuild cdsl create --shared {rest}`"),
                );
            }
        }
    }
    Ok(problems)
}
