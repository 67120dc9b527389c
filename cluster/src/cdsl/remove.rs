//! `cdsl remove`: turning a CDSL back into plain content at `ROOT/PATH` (from
//! the default tree or a chosen node's tree) and dropping its copies and
//! inventory entries. Idempotent: an interrupted remove can be re-run.

use super::inventory::{CdslKind, Inventory};
use super::layout::{
    install_copy, is_link_to, is_under, local_target, lstat, prune_empty_parents, remove_any,
    remove_leftovers, replace_with_copy, shared_target, Root, Tree,
};
use super::rel_or_err;
use crate::error::ClusterError;
use std::path::Path;

/// Restores `ROOT/path` as plain content from `from_node`'s tree (default
/// tree when `None`), removes every tree's copy and the inventory entry.
/// For a shared exception, each tree gets its own copy back instead.
pub fn remove(root: &Path, path: &str, from_node: Option<u32>) -> Result<(), ClusterError> {
    let root = Root::open(root)?;
    let rel = rel_or_err(&root, path)?;
    let mut inv = Inventory::load(&root)?;
    let kind = match inv.get(&rel) {
        Some(e) => e.kind,
        None if is_link_to(&root.path(&rel)?, &local_target(&rel))? => CdslKind::HostDependent,
        None => {
            return Err(root.err(format!(
                "{rel} is not a CDSL (not in the inventory); see `srbuild cdsl list`"
            )))
        }
    };
    let trees = root.trees(&[])?;
    match kind {
        CdslKind::HostDependent => {
            let live = root.path(&rel)?;
            let shared_inside: Vec<String> = inv
                .of_kind(CdslKind::Shared)
                .iter()
                .filter(|e| is_under(&e.path, &rel))
                .map(|e| e.path.clone())
                .collect();
            let needs_restore = match lstat(&live)? {
                None => true,
                Some(_) => is_link_to(&live, &local_target(&rel))?,
            };
            if needs_restore {
                let from = from_node.map(Tree::Node).unwrap_or(Tree::Default);
                let src = root.tree_path(from, &rel)?;
                if lstat(&src)?.is_none() {
                    return Err(root.err(format!(
                        "tree {from} has no copy of {rel} to restore from; pick one with --from-node ID (see `srbuild cdsl list`)"
                    )));
                }
                let staged = root.path(&format!("{rel}.srbuild-tmp"))?;
                remove_any(&staged)?;
                install_copy(&src, &staged)?;
                // Shared exceptions become real content again.
                for s in &shared_inside {
                    let suffix = &s[rel.len()..];
                    let inside = std::path::PathBuf::from(format!("{}{suffix}", staged.display()));
                    let shared = root.shared_path(s)?;
                    if is_link_to(&inside, &shared_target(s))? && lstat(&shared)?.is_some() {
                        replace_with_copy(&shared, &inside)?;
                    }
                }
                remove_any(&live)?;
                std::fs::rename(&staged, &live)
                    .map_err(|e| ClusterError::io("rename into", &live, e))?;
            }
            for t in &trees {
                let copy = root.tree_path(*t, &rel)?;
                remove_any(&copy)?;
                remove_leftovers(&copy)?;
                prune_empty_parents(&copy, &root.path(&super::layout::tree_rel(*t))?);
            }
            let shared_dir = root.path(&format!("{}/shared", super::layout::CLUSTER_DIR))?;
            for s in &shared_inside {
                let shared = root.shared_path(s)?;
                remove_any(&shared)?;
                prune_empty_parents(&shared, &shared_dir);
                inv.remove(s);
            }
            remove_leftovers(&live)?;
        }
        CdslKind::Shared => {
            let shared = root.shared_path(&rel)?;
            let link = shared_target(&rel);
            for t in &trees {
                let entry = root.tree_path(*t, &rel)?;
                if is_link_to(&entry, &link)? {
                    if lstat(&shared)?.is_none() {
                        return Err(root.err(format!(
                            "shared content of {rel} is missing, cannot give tree {t} its copy back; restore .cluster/shared/{rel} first"
                        )));
                    }
                    replace_with_copy(&shared, &entry)?;
                }
            }
            remove_any(&shared)?;
            let shared_dir = root.path(&format!("{}/shared", super::layout::CLUSTER_DIR))?;
            prune_empty_parents(&shared, &shared_dir);
        }
    }
    inv.remove(&rel);
    inv.save(&root)
}
