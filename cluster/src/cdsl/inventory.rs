//! The CDSL inventory `ROOT/.cluster/cdsl.inventory`: which paths are
//! host-dependent or shared. Written atomically and always before the tree
//! is changed, so an interrupted operation stays visible to `check`.

use super::layout::{Root, CLUSTER_DIR};
use crate::error::ClusterError;
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Relative path of the inventory file.
pub const INVENTORY_REL: &str = ".cluster/cdsl.inventory";

/// What kind of CDSL an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CdslKind {
    /// Each node has its own copy (`.cluster/cdsl/<id>/PATH`).
    #[serde(rename = "hostdependent")]
    HostDependent,
    /// An exception inside a host-dependent directory, shared by all nodes.
    Shared,
}

impl fmt::Display for CdslKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CdslKind::HostDependent => "hostdependent",
            CdslKind::Shared => "shared",
        })
    }
}

/// One inventory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdslEntry {
    /// Relative to the root, no leading '/': `etc/hostname`.
    pub path: String,
    pub kind: CdslKind,
}

/// The whole inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(default)]
    pub cdsl: Vec<CdslEntry>,
}

impl Inventory {
    /// Reads the inventory (empty when the file does not exist).
    pub fn load(root: &Root) -> Result<Inventory, ClusterError> {
        let path = root.path(INVENTORY_REL)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Inventory::default()),
            Err(e) => return Err(ClusterError::io("read", &path, e)),
        };
        toml::from_str(&text).map_err(|e| {
            let (line, col) =
                crate::description::line_col(&text, e.span().map(|s| s.start).unwrap_or(0));
            root.err(format!(
                "{INVENTORY_REL}:{line}:{col}: {}; fix or remove the entry",
                e.message().trim()
            ))
        })
    }

    /// Writes the inventory atomically (sorted by path).
    pub fn save(&self, root: &Root) -> Result<(), ClusterError> {
        let path = root.path(INVENTORY_REL)?;
        root.make_parents(&path)?;
        let mut sorted = self.clone();
        sorted.cdsl.sort_by(|a, b| a.path.cmp(&b.path));
        let body = toml::to_string(&sorted)
            .map_err(|e| root.err(format!("cannot serialise the inventory: {e}")))?;
        let text = format!(
            "# srbuild CDSL inventory: paths of the shared root that are host-dependent\n# (per-node copies under {CLUSTER_DIR}/cdsl/<id>/) or shared exceptions\n# inside them ({CLUSTER_DIR}/shared/). Managed by `srbuild cdsl`.\n{body}"
        );
        write_atomic(&path, text.as_bytes())
    }

    /// The entry for `path`.
    pub fn get(&self, path: &str) -> Option<&CdslEntry> {
        self.cdsl.iter().find(|e| e.path == path)
    }

    /// Adds or updates an entry; returns whether anything changed.
    pub fn upsert(&mut self, path: &str, kind: CdslKind) -> bool {
        match self.cdsl.iter_mut().find(|e| e.path == path) {
            Some(e) if e.kind == kind => false,
            Some(e) => {
                e.kind = kind;
                true
            }
            None => {
                self.cdsl.push(CdslEntry {
                    path: path.to_string(),
                    kind,
                });
                true
            }
        }
    }

    /// Drops the entry for `path`; returns whether it existed.
    pub fn remove(&mut self, path: &str) -> bool {
        let before = self.cdsl.len();
        self.cdsl.retain(|e| e.path != path);
        before != self.cdsl.len()
    }

    /// Entries of `kind`, sorted by path (parents before children).
    pub fn of_kind(&self, kind: CdslKind) -> Vec<&CdslEntry> {
        let mut v: Vec<&CdslEntry> = self.cdsl.iter().filter(|e| e.kind == kind).collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }
}
