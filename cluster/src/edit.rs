//! In-place edits of `cluster.toml` (`addnode`, `removenode`) with
//! `toml_edit`, keeping comments and layout; every result is validated with
//! the same validator before it is written atomically.

use crate::description::{check_kernel_arg, normalize_mac, valid_node_name, Cidr, Cluster, Node};
use crate::error::{shown, ClusterError, Diagnostic};
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

/// Checks what the user typed, before it goes into the file, naming the option it came
/// from. The whole file is validated again after the edit (ids, MACs and addresses must
/// not clash with other nodes).
fn check_input(new: &NewNode) -> Result<(), String> {
    if !valid_node_name(&new.name) {
        return Err(format!(
            "the node name {} is not usable; use 1-63 characters from a-z 0-9 - \
             (hostname-like, no leading/trailing '-')",
            shown(&new.name)
        ));
    }
    if let IdChoice::Fixed(id) = new.id {
        if !(1..=255).contains(&id) {
            return Err(format!(
                "--id {id} is out of range; use 1..=255 (corosync/o2cb/dlm need it) or 'auto'"
            ));
        }
    }
    for a in &new.addresses {
        a.parse::<Cidr>()
            .map_err(|e| format!("--ip {}: malformed address: {e}", shown(a)))?;
    }
    for a in &new.kernel_args {
        check_kernel_arg(a).map_err(|e| format!("--kernel-arg: {e}"))?;
    }
    for r in &new.roles {
        if !valid_node_name(r) {
            return Err(format!(
                "--role {}: not a role name; use a-z 0-9 - (e.g. nfs-server)",
                shown(r)
            ));
        }
    }
    Ok(())
}

/// Where an edit inserted lines: `out` is `text` with `count` lines inserted before line
/// `first` (1-based) and nothing else changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insertion {
    first: usize,
    count: usize,
}

impl Insertion {
    /// Finds the inserted block, or `None` when `out` is not `text` plus one block of lines.
    fn between(text: &str, out: &str) -> Option<Insertion> {
        let a: Vec<&str> = text.split('\n').collect();
        let b: Vec<&str> = out.split('\n').collect();
        if b.len() <= a.len() {
            return None;
        }
        let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let suffix = a
            .iter()
            .rev()
            .zip(b.iter().rev())
            .take(a.len() - prefix)
            .take_while(|(x, y)| x == y)
            .count();
        (prefix + suffix == a.len()).then_some(Insertion {
            first: prefix + 1,
            count: b.len() - a.len(),
        })
    }

    fn holds(&self, line: usize) -> bool {
        (self.first..self.first + self.count).contains(&line)
    }

    /// The line of the file before the edit that `line` (outside the block) was.
    fn original_line(&self, line: usize) -> usize {
        if line >= self.first + self.count {
            line - self.count
        } else {
            line
        }
    }
}

/// The command-line option that set the key on `line` of the new node's table.
fn option_of(line: &str) -> &'static str {
    match line.split('=').next().map(str::trim) {
        Some("name") => "the node name",
        Some("id") => "--id",
        Some("macs") => "--mac",
        Some("addresses") => "--ip",
        Some("kernel_args") => "--kernel-arg",
        Some("roles") => "--role",
        _ => "the new node",
    }
}

/// Rewrites the diagnostics of the edited text `out` for the user: a problem inside the
/// new node's table names the option it came from (the edited file exists nowhere), a
/// problem elsewhere cites the line of the file as it is.
fn explain(text: &str, out: &str, diags: &[Diagnostic]) -> String {
    let Some(ins) = Insertion::between(text, out) else {
        // Not a plain insertion: no line number would be right.
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        return format!("the result would be invalid: {}", messages.join("; "));
    };
    let out_lines: Vec<&str> = out.split('\n').collect();
    let mut input = Vec::new();
    let mut file = Vec::new();
    for d in diags {
        if ins.holds(d.line) {
            let key_line = out_lines.get(d.line - 1).copied().unwrap_or("");
            input.push(format!("{}: {}", option_of(key_line), d.message));
        } else {
            file.push(
                Diagnostic {
                    line: ins.original_line(d.line),
                    ..d.clone()
                }
                .to_string(),
            );
        }
    }
    let mut parts = Vec::new();
    if !input.is_empty() {
        parts.push(input.join("; "));
    }
    if !file.is_empty() {
        parts.push(format!(
            "with it, the file would be invalid here:\n{}",
            file.join("\n")
        ));
    }
    parts.join("; ")
}

/// Appends `new` to the description in `text`; returns the new text and node. Errors name
/// the option a bad value came from, and cite lines of `text` for problems in the file.
pub fn add_node_to_text(
    text: &str,
    source: &Path,
    new: &NewNode,
) -> Result<(String, Node), ClusterError> {
    let refuse = |message: String| ClusterError::Edit {
        file: source.to_path_buf(),
        message: format!(
            "refusing to add node {}: {message}; the file was not changed",
            shown(&new.name)
        ),
    };
    let before = Cluster::parse(text, source)
        .map_err(|e| refuse(format!("the file is invalid before the edit:\n{e}")))?;
    check_input(new).map_err(refuse)?;
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
        macs.push(normalize_mac(m).map_err(|e| refuse(format!("--mac: {e}")))?);
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
    let after = Cluster::parse(&out, source).map_err(|e| match e {
        ClusterError::Invalid(diags) => refuse(explain(text, &out, &diags)),
        other => refuse(format!("the result would be invalid: {other}")),
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn diag(line: usize, message: &str) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("c.toml"),
            line,
            column: 3,
            message: message.into(),
        }
    }

    #[test]
    fn inserted_lines_are_found_and_later_lines_map_back() {
        let text = "a\nb\nc\n";
        let out = "a\nb\nNEW1\nNEW2\nc\n";
        let ins = Insertion::between(text, out).unwrap();
        assert_eq!(ins, Insertion { first: 3, count: 2 });
        assert!(ins.holds(3) && ins.holds(4) && !ins.holds(5) && !ins.holds(2));
        assert_eq!(ins.original_line(5), 3);
        assert_eq!(ins.original_line(2), 2);
        // Appended to a file without a final newline.
        let ins = Insertion::between("a\nb", "a\nb\n\n[[node]]\n").unwrap();
        assert_eq!(ins, Insertion { first: 3, count: 3 });
        // Anything but one inserted block: no mapping.
        assert_eq!(Insertion::between("a\nb\n", "a\nX\nb\nY\n"), None);
        assert_eq!(Insertion::between("a\nb\n", "a\nb\n"), None);
    }

    #[test]
    fn explain_names_the_option_inside_the_new_node_and_original_lines_outside() {
        let text = "[cluster]\nname = \"x\"\n\n[[failover_domain]]\nname = \"d\"\n";
        let out = "[cluster]\nname = \"x\"\n\n[[node]]\nname = \"n\"\nid = 3\nmacs = [\"m\"]\n\n[[failover_domain]]\nname = \"d\"\n";
        let said = explain(
            text,
            out,
            &[diag(7, "duplicate MAC m"), diag(10, "something about d")],
        );
        assert!(said.starts_with("--mac: duplicate MAC m;"), "{said}");
        // Line 10 of the edited text is line 5 of the file.
        assert!(said.contains("c.toml:5:3: something about d"), "{said}");
        assert!(!said.contains("c.toml:10"), "{said}");
        assert!(explain(text, out, &[diag(6, "dup id")]).starts_with("--id: dup id"));
        assert!(explain(text, out, &[diag(5, "bad")]).starts_with("the node name: bad"));
        // Not a plain insertion: the messages without any line.
        let said = explain(
            text,
            "[cluster]\nname = \"y\"\n[[node]]\n",
            &[diag(2, "bad")],
        );
        assert_eq!(said, "the result would be invalid: bad");
    }
}
