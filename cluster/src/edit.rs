//! In-place edits of `cluster.toml` (`addnode`, `removenode`) with
//! `toml_edit`, keeping comments and layout; every result is validated with
//! the same validator before it is written atomically.

use crate::description::{normalize_mac, Cluster, Node};
use crate::error::ClusterError;
use crate::fsutil::edit_atomic;
use std::path::Path;
use std::str::FromStr;
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

/// How `addnode` picks the node id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdChoice {
    /// The lowest id in 1..=255 not yet used.
    #[default]
    Auto,
    Fixed(u32),
}

impl FromStr for IdChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            return Ok(IdChoice::Auto);
        }
        s.parse::<u32>()
            .map(IdChoice::Fixed)
            .map_err(|_| format!("'{s}' is not a node id; use a number 1..=255 or 'auto'"))
    }
}

/// A node to append with [`add_node`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewNode {
    pub name: String,
    pub id: IdChoice,
    pub macs: Vec<String>,
    /// `ADDR/PREFIX` strings.
    pub addresses: Vec<String>,
    pub kernel_args: Vec<String>,
    pub roles: Vec<String>,
}

fn parse_doc(text: &str, source: &Path) -> Result<DocumentMut, ClusterError> {
    text.parse::<DocumentMut>().map_err(|e| ClusterError::Edit {
        file: source.to_path_buf(),
        message: format!("cannot parse: {e}"),
    })
}

fn string_array(items: &[String]) -> Array {
    items.iter().map(String::as_str).collect()
}

/// Appends `new` to the description in `text`; returns the new text and node.
pub fn add_node_to_text(
    text: &str,
    source: &Path,
    new: &NewNode,
) -> Result<(String, Node), ClusterError> {
    let refuse = |message: String| ClusterError::Edit {
        file: source.to_path_buf(),
        message: format!(
            "refusing to add node '{}': {message}; the file was not changed",
            new.name
        ),
    };
    let before = Cluster::parse(text, source)
        .map_err(|e| refuse(format!("the file is invalid before the edit:\n{e}")))?;
    if before.node(&new.name).is_some() {
        return Err(refuse(format!(
            "a node called '{}' already exists; pick another name or removenode it first",
            new.name
        )));
    }
    if new.macs.is_empty() {
        return Err(refuse("give at least one --mac".into()));
    }
    let id = match new.id {
        IdChoice::Fixed(id) => id,
        IdChoice::Auto => (1..=255u32)
            .find(|id| !before.nodes.iter().any(|n| n.id == *id))
            .ok_or_else(|| refuse("all node ids 1..=255 are taken".into()))?,
    };
    let mut macs = Vec::new();
    for m in &new.macs {
        macs.push(normalize_mac(m).map_err(refuse)?);
    }

    let mut doc = parse_doc(text, source)?;
    let mut table = Table::new();
    table.decor_mut().set_prefix("\n");
    table.insert("name", value(new.name.as_str()));
    table.insert("id", value(i64::from(id)));
    table.insert("macs", value(string_array(&macs)));
    if !new.addresses.is_empty() {
        table.insert("addresses", value(string_array(&new.addresses)));
    }
    if !new.kernel_args.is_empty() {
        table.insert("kernel_args", value(string_array(&new.kernel_args)));
    }
    if !new.roles.is_empty() {
        table.insert("roles", value(string_array(&new.roles)));
    }
    match doc.get_mut("node") {
        None => {
            let mut aot = ArrayOfTables::new();
            aot.push(table);
            doc.insert("node", Item::ArrayOfTables(aot));
        }
        Some(Item::ArrayOfTables(aot)) => aot.push(table),
        Some(_) => return Err(refuse("'node' is not an array of [[node]] tables".into())),
    }
    let out = doc.to_string();
    let after = Cluster::parse(&out, source)
        .map_err(|e| refuse(format!("the result would be invalid:\n{e}")))?;
    let node = after
        .node(&new.name)
        .cloned()
        .ok_or_else(|| refuse("the new node is missing after the edit".into()))?;
    Ok((out, node))
}

/// Appends a `[[node]]` table to the file at `path` (an atomic edit of the real file; see
/// `fsutil::edit_atomic` for links, owner, mode and `force`).
pub fn add_node(path: &Path, new: &NewNode, force: bool) -> Result<Node, ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|e| ClusterError::io("read", path, e))?;
    let (out, node) = add_node_to_text(&text, path, new)?;
    edit_atomic(path, out.as_bytes(), force)?;
    Ok(node)
}

/// Removes node `name` (and its name from failover domains) from `text`.
pub fn remove_node_from_text(
    text: &str,
    source: &Path,
    name: &str,
) -> Result<String, ClusterError> {
    let before = Cluster::parse(text, source).map_err(|e| ClusterError::Edit {
        file: source.to_path_buf(),
        message: format!("refusing to edit an invalid file:\n{e}"),
    })?;
    before.require_node(name)?;
    let mut doc = parse_doc(text, source)?;
    if let Some(Item::ArrayOfTables(aot)) = doc.get_mut("node") {
        let idx = aot
            .iter()
            .position(|t| t.get("name").and_then(Item::as_str) == Some(name));
        if let Some(idx) = idx {
            aot.remove(idx);
        }
    }
    if let Some(Item::ArrayOfTables(domains)) = doc.get_mut("failover_domain") {
        for d in domains.iter_mut() {
            if let Some(arr) = d.get_mut("nodes").and_then(Item::as_array_mut) {
                let first_was_removed = arr.get(0).and_then(|v| v.as_str()) == Some(name);
                arr.retain(|v| v.as_str() != Some(name));
                if first_was_removed {
                    if let Some(first) = arr.get_mut(0) {
                        first.decor_mut().set_prefix("");
                    }
                }
            }
        }
    }
    let out = doc.to_string();
    Cluster::parse(&out, source).map_err(|e| ClusterError::Edit {
        file: source.to_path_buf(),
        message: format!("refusing to remove '{name}': the result would be invalid:\n{e}"),
    })?;
    Ok(out)
}

/// Removes node `name` from the file at `path` (an atomic edit of the real file).
pub fn remove_node(path: &Path, name: &str, force: bool) -> Result<(), ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|e| ClusterError::io("read", path, e))?;
    let out = remove_node_from_text(&text, path, name)?;
    edit_atomic(path, out.as_bytes(), force)
}
