//! `srbuild cluster query`: scriptable look-ups of single values in a
//! [`Cluster`], rendered as plain lines or JSON.

use crate::description::{Cluster, Node};
use crate::error::ClusterError;

/// Every key `query` understands.
pub const QUERY_KEYS: &[&str] = &[
    "name",
    "count",
    "nodes",
    "ids",
    "id",
    "node",
    "address",
    "cidr",
    "macs",
    "kernel-args",
    "roles",
];

/// The result of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryValue {
    Text(String),
    Number(u64),
    List(Vec<String>),
    Numbers(Vec<u64>),
}

impl QueryValue {
    /// One value per line (no trailing newline; empty for an empty list).
    pub fn to_plain(&self) -> String {
        match self {
            QueryValue::Text(s) => s.clone(),
            QueryValue::Number(n) => n.to_string(),
            QueryValue::List(v) => v.join("\n"),
            QueryValue::Numbers(v) => v.iter().map(u64::to_string).collect::<Vec<_>>().join("\n"),
        }
    }

    /// The value as JSON (string, number or array).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            QueryValue::Text(s) => serde_json::Value::from(s.as_str()),
            QueryValue::Number(n) => serde_json::Value::from(*n),
            QueryValue::List(v) => serde_json::Value::from(v.clone()),
            QueryValue::Numbers(v) => serde_json::Value::from(v.clone()),
        }
    }
}

fn select<'a>(
    cluster: &'a Cluster,
    key: &str,
    node: Option<&str>,
    mac: Option<&str>,
) -> Result<&'a Node, ClusterError> {
    match (node, mac) {
        (Some(n), _) => cluster.require_node(n),
        (None, Some(m)) => cluster.node_by_mac(m).ok_or_else(|| {
            ClusterError::Usage(format!(
                "{}: no node has MAC {m}; see `srbuild cluster list`",
                cluster.source.display()
            ))
        }),
        (None, None) => Err(ClusterError::Usage(format!(
            "query key '{key}' needs --node NODE or --mac MAC"
        ))),
    }
}

/// Looks up `key`; node-scoped keys select their node with `node` or `mac`.
pub fn query(
    cluster: &Cluster,
    key: &str,
    node: Option<&str>,
    mac: Option<&str>,
) -> Result<QueryValue, ClusterError> {
    Ok(match key {
        "name" => QueryValue::Text(cluster.name.clone()),
        "count" => QueryValue::Number(cluster.nodes.len() as u64),
        "nodes" => QueryValue::List(cluster.nodes.iter().map(|n| n.name.clone()).collect()),
        "ids" => QueryValue::Numbers(cluster.nodes.iter().map(|n| u64::from(n.id)).collect()),
        "id" => QueryValue::Number(u64::from(select(cluster, key, node, mac)?.id)),
        "node" => QueryValue::Text(select(cluster, key, node, mac)?.name.clone()),
        "address" | "cidr" => {
            let n = select(cluster, key, node, mac)?;
            let p = n.primary().ok_or_else(|| {
                ClusterError::Usage(format!(
                    "{}: node '{}' has no address; add one to its addresses = [...]",
                    cluster.source.display(),
                    n.name
                ))
            })?;
            if key == "address" {
                QueryValue::Text(p.addr.to_string())
            } else {
                QueryValue::Text(p.to_string())
            }
        }
        "macs" => QueryValue::List(select(cluster, key, node, mac)?.macs.clone()),
        "kernel-args" => QueryValue::List(select(cluster, key, node, mac)?.kernel_args.clone()),
        "roles" => QueryValue::List(select(cluster, key, node, mac)?.roles.clone()),
        _ => {
            return Err(ClusterError::UnknownKey {
                key: key.to_string(),
                valid: QUERY_KEYS.join(", "),
            })
        }
    })
}
