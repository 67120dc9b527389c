//! CDSL management (context-dependent symlinks) in a shared root tree.
//!
//! Host-dependent files live under `ROOT/.cluster/cdsl/<nodeid>/PATH` with
//! `ROOT/.cluster/cdsl/default/PATH` as fallback, and `ROOT/PATH` becomes a
//! symlink to `/.cdsl.local/PATH` (each node bind-mounts its own tree, or
//! `default`, on `/.cdsl.local` at boot). Shared exceptions inside a
//! host-dependent directory live under `ROOT/.cluster/shared/PATH`, and each
//! tree's `PATH` links to `/.cluster/shared/PATH`. The inventory
//! `ROOT/.cluster/cdsl.inventory` lists them all.

pub mod check;
pub mod create;
pub mod inventory;
pub mod layout;
pub mod remove;

pub use check::{check, list, CdslStatus, CheckProblem};
pub use create::{
    add_node, create_hostdependent, create_shared, node_copy_path, write_node_file, CreateReport,
};
pub use inventory::{CdslEntry, CdslKind, Inventory};
pub use layout::{normalize_rel, Root, Tree};
pub use remove::remove;

use crate::error::ClusterError;
use std::path::Path;

/// Node ids that have a tree under `ROOT/.cluster/cdsl/`.
pub fn existing_node_ids(root: &Path) -> Result<Vec<u32>, ClusterError> {
    Root::open(root)?.existing_node_ids()
}

pub(crate) fn rel_or_err(root: &Root, path: &str) -> Result<String, ClusterError> {
    normalize_rel(path).map_err(|m| root.err(m))
}
