//! Creating CDSLs (`create --hostdependent`, `create --shared`), seeding a
//! new node's tree (`addnode`) and writing a node's own copy of a file.
//! Every step is idempotent: re-running after an interruption completes it.

use super::inventory::{CdslKind, Inventory};
use super::layout::{
    install_copy, is_link_to, is_under, local_target, lstat, remove_leftovers,
    replace_with_symlink, shared_target, Root, Tree,
};
use super::rel_or_err;
use crate::error::ClusterError;
use std::path::{Path, PathBuf};

/// What a create call did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateReport {
    /// The normalised path (`etc/hostname`).
    pub path: String,
    /// Trees that got a copy (or link) now.
    pub created: Vec<Tree>,
    /// Trees that already had one and were left alone.
    pub kept: Vec<Tree>,
    /// Whether the CDSL symlink was put in place by this call.
    pub linked: bool,
    /// Whether the inventory already listed the path (a resumed run).
    pub resumed: bool,
}

fn hostdependent_ancestor(inv: &Inventory, rel: &str) -> Option<String> {
    inv.of_kind(CdslKind::HostDependent)
        .into_iter()
        .find(|e| e.path != rel && is_under(rel, &e.path))
        .map(|e| e.path.clone())
}

/// `a/b/../c` → `a/c`, clamped at the root as under chroot (`..` of the root is the root).
fn normalize(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The relative link target that leads from directory `from` to `to` (both root-relative).
fn relative_target(from: &[&str], to: &[&str]) -> String {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// The link target a symlink that lived at `orig` (root-relative) with relative target
/// `target` needs at `.cdsl.local/orig`, where nodes see it, to lead to the same place; or
/// `None` when it needs no change (it points inside `cdsl`, the moved path itself).
pub(crate) fn relocated_target(cdsl: &str, orig: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let dir = orig.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let joined = format!("{dir}/{target}");
    let dest = normalize(&joined);
    let inside = normalize(cdsl);
    if dest.len() >= inside.len() && dest[..inside.len()] == inside[..] && orig != cdsl {
        return None;
    }
    let local = format!(".cdsl.local/{dir}");
    let seen_at = normalize(&local);
    Some(relative_target(&seen_at, &dest))
}

/// Rewrites the relative symlinks of a node copy of `cdsl` so that, seen on a node through
/// `/.cdsl.local`, they still lead where they did (`etc/resolv.conf -> ../run/resolv.conf`
/// becomes `../../run/resolv.conf`). Links inside the moved tree stay as they are.
fn fix_relative_links(copy: &Path, cdsl: &str) -> Result<(), ClusterError> {
    for e in walkdir::WalkDir::new(copy)
        .follow_links(false)
        .follow_root_links(false)
    {
        let e = e.map_err(|err| ClusterError::io("walk", copy, err.into()))?;
        if !e.path_is_symlink() {
            continue;
        }
        let sub = e.path().strip_prefix(copy).unwrap_or(Path::new(""));
        let orig = if sub.as_os_str().is_empty() {
            cdsl.to_string()
        } else {
            format!("{cdsl}/{}", sub.display())
        };
        let target = std::fs::read_link(e.path())
            .map_err(|err| ClusterError::io("read link", e.path(), err))?;
        if let Some(new) = relocated_target(cdsl, &orig, &target.to_string_lossy()) {
            std::fs::remove_file(e.path())
                .and_then(|()| std::os::unix::fs::symlink(&new, e.path()))
                .map_err(|err| ClusterError::io("rewrite link", e.path(), err))?;
        }
    }
    Ok(())
}

/// Makes `path` host-dependent: copies `ROOT/path` into the default tree and
/// the tree of every node in `node_ids` (and every existing node tree), then
/// replaces `ROOT/path` with a symlink to `/.cdsl.local/path`.
pub fn create_hostdependent(
    root: &Path,
    path: &str,
    node_ids: &[u32],
) -> Result<CreateReport, ClusterError> {
    let root = Root::open(root)?;
    let rel = rel_or_err(&root, path)?;
    let mut inv = Inventory::load(&root)?;
    if let Some(e) = inv.get(&rel) {
        if e.kind == CdslKind::Shared {
            return Err(root.err(format!(
                "{rel} is a shared exception; `remove {rel}` it first"
            )));
        }
    }
    if let Some(a) = hostdependent_ancestor(&inv, &rel) {
        return Err(root.err(format!(
            "{rel} is inside host-dependent {a}; edit the node copies under .cluster/cdsl/<id>/{rel} or use `create --shared {rel}`"
        )));
    }
    if let Some(inner) = inv
        .cdsl
        .iter()
        .find(|e| e.path != rel && is_under(&e.path, &rel))
    {
        return Err(root.err(format!(
            "{rel} contains the CDSL {}; `remove {}` it first",
            inner.path, inner.path
        )));
    }
    let live = root.path(&rel)?;
    let target = local_target(&rel);
    let already_linked = is_link_to(&live, &target)?;
    let trees = root.trees(node_ids)?;

    // Where the content comes from.
    let source: PathBuf = if !already_linked && lstat(&live)?.is_some() {
        live.clone()
    } else {
        let mut found = None;
        for t in &trees {
            let p = root.tree_path(*t, &rel)?;
            if lstat(&p)?.is_some() {
                found = Some(p);
                break;
            }
        }
        match found {
            Some(p) => p,
            None if already_linked => {
                return Err(root.err(format!(
                    "{rel} links to {target} but no tree has a copy; replace the link with the real content and run create again"
                )))
            }
            None => {
                return Err(root.err(format!("{rel} does not exist in {}; create it first", root.dir().display())))
            }
        }
    };

    let mut report = CreateReport {
        path: rel.clone(),
        resumed: inv.get(&rel).is_some(),
        ..CreateReport::default()
    };
    // Record first, so an interrupted run is visible to `check`.
    if inv.upsert(&rel, CdslKind::HostDependent) {
        inv.save(&root)?;
    }
    for t in trees {
        let dst = root.tree_path(t, &rel)?;
        if lstat(&dst)?.is_some() {
            report.kept.push(t);
            continue;
        }
        root.make_parents(&dst)?;
        install_copy(&source, &dst)?;
        fix_relative_links(&dst, &rel)?;
        report.created.push(t);
    }
    if !already_linked {
        replace_with_symlink(&live, &target)?;
        report.linked = true;
    }
    remove_leftovers(&live)?;
    Ok(report)
}

/// Makes `path` (inside a host-dependent directory) shared by all nodes: its
/// content moves to `.cluster/shared/path` and each tree's entry becomes a
/// symlink to `/.cluster/shared/path`.
pub fn create_shared(
    root: &Path,
    path: &str,
    node_ids: &[u32],
) -> Result<CreateReport, ClusterError> {
    let root = Root::open(root)?;
    let rel = rel_or_err(&root, path)?;
    let mut inv = Inventory::load(&root)?;
    if inv
        .get(&rel)
        .is_some_and(|e| e.kind == CdslKind::HostDependent)
    {
        return Err(root.err(format!(
            "{rel} is itself host-dependent; `remove {rel}` it first"
        )));
    }
    let Some(ancestor) = hostdependent_ancestor(&inv, &rel) else {
        return Err(root.err(format!(
            "{rel} is not inside a host-dependent directory; make its directory host-dependent first (`create --hostdependent DIR`)"
        )));
    };
    let shared = root.shared_path(&rel)?;
    let link = shared_target(&rel);
    let trees = root.trees(node_ids)?;
    let mut report = CreateReport {
        path: rel.clone(),
        resumed: inv.get(&rel).is_some(),
        ..CreateReport::default()
    };
    let have_shared = lstat(&shared)?.is_some();
    let mut source = None;
    if !have_shared {
        for t in &trees {
            let p = root.tree_path(*t, &rel)?;
            if lstat(&p)?.is_some() && !is_link_to(&p, &link)? {
                source = Some(p);
                break;
            }
        }
        if source.is_none() {
            return Err(root.err(format!(
                "{rel} exists in no tree of host-dependent {ancestor}; create it in .cluster/cdsl/default/{rel} first"
            )));
        }
    }
    if inv.upsert(&rel, CdslKind::Shared) {
        inv.save(&root)?;
    }
    if let Some(src) = source {
        root.make_parents(&shared)?;
        install_copy(&src, &shared)?;
    }
    for t in trees {
        let entry = root.tree_path(t, &rel)?;
        if is_link_to(&entry, &link)? {
            report.kept.push(t);
            continue;
        }
        // Only trees that hold the parent directory get the link.
        if !entry.parent().is_some_and(|p| p.is_dir()) {
            continue;
        }
        replace_with_symlink(&entry, &link)?;
        report.created.push(t);
    }
    report.linked = true;
    Ok(report)
}

/// Seeds `.cluster/cdsl/<node_id>` from the default tree for every inventory
/// entry it lacks; returns the paths seeded.
pub fn add_node(root: &Path, node_id: u32) -> Result<Vec<String>, ClusterError> {
    let root = Root::open(root)?;
    if !(1..=255).contains(&node_id) {
        return Err(root.err(format!("node id {node_id} out of range; use 1..=255")));
    }
    let inv = Inventory::load(&root)?;
    let tree = Tree::Node(node_id);
    let tree_dir = root.path(&super::layout::tree_rel(tree))?;
    std::fs::create_dir_all(&tree_dir)
        .map_err(|e| ClusterError::io("create directory", &tree_dir, e))?;
    let mut seeded = Vec::new();
    for e in inv.of_kind(CdslKind::HostDependent) {
        let dst = root.tree_path(tree, &e.path)?;
        if lstat(&dst)?.is_some() {
            continue;
        }
        let src = root.tree_path(Tree::Default, &e.path)?;
        if lstat(&src)?.is_none() {
            return Err(root.err(format!(
                "no default copy of {} to seed node {node_id} from; put one in .cluster/cdsl/default/{}",
                e.path, e.path
            )));
        }
        root.make_parents(&dst)?;
        install_copy(&src, &dst)?;
        seeded.push(e.path.clone());
    }
    for e in inv.of_kind(CdslKind::Shared) {
        let entry = root.tree_path(tree, &e.path)?;
        let link = shared_target(&e.path);
        if !is_link_to(&entry, &link)? && entry.parent().is_some_and(|p| p.is_dir()) {
            replace_with_symlink(&entry, &link)?;
            seeded.push(e.path.clone());
        }
    }
    Ok(seeded)
}

/// The checked path of `path` inside `tree` (it must be host-dependent or
/// below a host-dependent directory).
pub fn node_copy_path(root: &Path, tree: Tree, path: &str) -> Result<PathBuf, ClusterError> {
    let root = Root::open(root)?;
    let rel = rel_or_err(&root, path)?;
    let inv = Inventory::load(&root)?;
    if !inv
        .of_kind(CdslKind::HostDependent)
        .iter()
        .any(|e| is_under(&rel, &e.path))
    {
        return Err(root.err(format!(
            "{rel} is not host-dependent; run `create --hostdependent` on it (or its directory) first"
        )));
    }
    if let Some(s) = inv
        .of_kind(CdslKind::Shared)
        .iter()
        .find(|e| is_under(&rel, &e.path))
    {
        return Err(root.err(format!(
            "{rel} is inside the shared exception {}; it has no per-node copy",
            s.path
        )));
    }
    root.tree_path(tree, &rel)
}

/// Writes `contents` as `tree`'s own copy of `path` (e.g. a node's
/// `/etc/hostname`), creating parent directories.
pub fn write_node_file(
    root: &Path,
    tree: Tree,
    path: &str,
    contents: &[u8],
) -> Result<PathBuf, ClusterError> {
    let dst = node_copy_path(root, tree, path)?;
    if lstat(&dst)?.is_some_and(|m| m.file_type().is_symlink() || m.is_dir()) {
        return Err(ClusterError::Usage(format!(
            "{} is a symlink or directory; refusing to write through it",
            dst.display()
        )));
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ClusterError::io("create directory", parent, e))?;
    }
    crate::fsutil::write_atomic(&dst, contents)?;
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::relocated_target;

    #[test]
    fn relative_links_are_relocated_to_where_nodes_see_them() {
        // The link itself is the CDSL.
        assert_eq!(
            relocated_target("etc/resolv.conf", "etc/resolv.conf", "../run/resolv.conf"),
            Some("../../run/resolv.conf".into())
        );
        // Again (a resumed create copies an already rewritten link): the same result.
        assert_eq!(
            relocated_target(
                "etc/resolv.conf",
                "etc/resolv.conf",
                "../../run/resolv.conf"
            ),
            Some("../../run/resolv.conf".into())
        );
        // A link inside a host-dependent directory that points inside it: unchanged.
        assert_eq!(relocated_target("etc/app", "etc/app/current", "v2"), None);
        assert_eq!(relocated_target("etc/app", "etc/app/x/y", "../v2"), None);
        // ... and one that points out of it: relocated.
        assert_eq!(
            relocated_target("etc/app", "etc/app/lib", "../../usr/lib/app"),
            Some("../../../usr/lib/app".into())
        );
        // Absolute targets mean the same everywhere.
        assert_eq!(relocated_target("etc/x", "etc/x", "/run/x"), None);
    }
}
