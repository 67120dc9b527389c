//! Tests of a node's `iscsi_initiator`: an iSCSI name is kept, anything else and a name two
//! nodes share are refused with the file, line, node and key, and `cluster show` lists it.

use srbuild_cluster::{Cluster, ClusterError};
use std::path::Path;

const TEMPLATE: &str = r#"[cluster]
name = "lab"

[[node]]
name = "node1"
id = 1
macs = ["52:54:00:77:00:11"]
addresses = ["10.77.0.11/24"]
{N1}
[[node]]
name = "node2"
id = 2
macs = ["52:54:00:77:00:12"]
addresses = ["10.77.0.12/24"]
{N2}"#;

fn parse(n1: &str, n2: &str) -> Result<Cluster, ClusterError> {
    let t = TEMPLATE.replace("{N1}", n1).replace("{N2}", n2);
    Cluster::parse(&t, Path::new("site/cluster.toml"))
}

/// The one problem of a description with these extra lines, and its line.
fn one_error(n1: &str, n2: &str) -> (usize, String) {
    match parse(n1, n2) {
        Ok(_) => panic!("accepted {n1:?} {n2:?}"),
        Err(ClusterError::Invalid(d)) => {
            assert_eq!(d.len(), 1, "{d:?}");
            assert_eq!(d[0].file, Path::new("site/cluster.toml"));
            (d[0].line, d[0].to_string())
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn an_iscsi_name_is_kept_per_node() {
    let c = parse(
        "iscsi_initiator = \"iqn.2026-12.org.example:node1\"",
        "iscsi_initiator = \"eui.02004567A425678D\"",
    )
    .unwrap();
    assert_eq!(
        c.node("node1").unwrap().iscsi_initiator.as_deref(),
        Some("iqn.2026-12.org.example:node1")
    );
    assert_eq!(
        c.node("node2").unwrap().iscsi_initiator.as_deref(),
        Some("eui.02004567A425678D")
    );
    assert_eq!(parse("", "").unwrap().nodes[0].iscsi_initiator, None);
}

#[test]
fn a_name_that_is_not_an_iscsi_name_is_an_error_naming_node_and_key() {
    for bad in [
        "node1",
        "iqn.2026-12.org.Example:node1",
        "iqn.26-12.org.example",
        "iqn.2026-12.org.example:a b",
        "iqn.2026-12.org.example:$(reboot)",
        "eui.02004567a425678d",
    ] {
        let (line, e) = one_error(&format!("iscsi_initiator = \"{bad}\""), "");
        assert_eq!(line, 9, "{bad}: {e}");
        for want in ["node 'node1'", "iscsi_initiator", "is not an iSCSI name"] {
            assert!(e.contains(want), "{bad}: {want}: {e}");
        }
    }
    let long = format!("iqn.2026-12.org.example:{}", "x".repeat(200));
    assert!(one_error(&format!("iscsi_initiator = \"{long}\""), "")
        .1
        .contains("is not an iSCSI name"));
}

#[test]
fn two_nodes_with_one_initiator_name_is_an_error_naming_both() {
    let same = "iscsi_initiator = \"iqn.2026-12.org.example:shared\"";
    let (line, e) = one_error(same, same);
    assert_eq!(line, 15, "{e}");
    for want in [
        "node 'node2'",
        "node 'node1'",
        "iqn.2026-12.org.example:shared",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn a_name_init_would_give_another_node_or_one_on_a_non_member_is_an_error() {
    let (line, e) = one_error("iscsi_initiator = \"iqn.2026-12.org.srbuild:node2\"", "");
    assert_eq!(line, 9, "{e}");
    for want in [
        "node 'node1'",
        "is the name node 'node2' gets when it has none",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
    // node2 with a name of its own frees the made-up one.
    assert!(parse(
        "iscsi_initiator = \"iqn.2026-12.org.srbuild:node2\"",
        "iscsi_initiator = \"iqn.2026-12.org.example:n2\""
    )
    .is_ok());
    let (line, e) = one_error(
        "",
        "member = false\niscsi_initiator = \"iqn.2026-12.org.example:n2\"",
    );
    assert_eq!(line, 16, "{e}");
    assert!(
        e.contains("node 'node2': iscsi_initiator: the node is not a member"),
        "{e}"
    );
}
