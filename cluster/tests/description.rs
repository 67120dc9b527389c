//! Tests of cluster.toml parsing and validation.

use srbuild_cluster::{Cidr, Cluster, ClusterError};
use std::path::Path;

const SAMPLE: &str = include_str!("common_sample.toml");

fn parse(text: &str) -> Result<Cluster, ClusterError> {
    Cluster::parse(text, Path::new("cluster.toml"))
}

/// Parses `text`, expects failure, returns the message.
fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn base_with(extra: &str) -> String {
    format!("{SAMPLE}\n{extra}")
}

/// Line (1-based) of the `nth` occurrence of `needle`.
fn line_of(text: &str, needle: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth)
        .map(|(i, _)| i + 1)
        .expect("needle present")
}

/// Line (1-based) of the last occurrence of `needle`.
fn last_line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .last()
        .map(|(i, _)| i + 1)
        .expect("needle present")
}

#[test]
fn sample_parses() {
    let c = parse(SAMPLE).unwrap();
    assert_eq!(c.name, "lab");
    assert_eq!(c.nodes.len(), 2);
    assert_eq!(
        c.nodes[1].macs,
        vec!["52:54:00:77:00:12", "52:54:00:77:01:12"]
    );
    assert_eq!(c.networks[0].gateway.unwrap().to_string(), "10.77.0.254");
    assert_eq!(c.networks[0].dns.len(), 1);
    assert_eq!(c.failover_domains[0].nodes, vec!["node1", "node2"]);
    assert_eq!(c.node("node2").unwrap().id, 2);
    assert_eq!(c.node_by_mac("52-54-00-77-01-12").unwrap().name, "node2");
    assert_eq!(
        c.node_by_mac("52:54:00:77:00:11".to_uppercase().as_str())
            .unwrap()
            .name,
        "node1"
    );
    assert!(c.node_by_mac("52:54:00:00:00:00").is_none());
    let net = c.network_of(&c.nodes[0].addresses[0]).unwrap();
    assert_eq!(net.name, "lan");
    assert_eq!(c.source, Path::new("cluster.toml"));
}

#[test]
fn cidr_helpers() {
    let c: Cidr = "10.77.0.11/24".parse().unwrap();
    assert_eq!(c.to_string(), "10.77.0.11/24");
    assert_eq!(c.netmask(), "255.255.255.0");
    assert_eq!(c.network().to_string(), "10.77.0.0");
    assert!(c.contains(&"10.77.0.200".parse().unwrap()));
    assert!(!c.contains(&"10.77.1.1".parse().unwrap()));
    assert!(!c.contains(&"::1".parse().unwrap()));
    let z: Cidr = "0.0.0.0/0".parse().unwrap();
    assert_eq!(z.netmask(), "0.0.0.0");
    assert!(z.contains(&"1.2.3.4".parse().unwrap()));
    let v6: Cidr = "fd00::1/64".parse().unwrap();
    assert!(v6.contains(&"fd00::99".parse().unwrap()));
    assert_eq!(v6.netmask(), "ffff:ffff:ffff:ffff::");
    assert!("10.0.0.1".parse::<Cidr>().is_err());
    assert!("10.0.0.1/33".parse::<Cidr>().is_err());
    assert!("10.0.0/24".parse::<Cidr>().is_err());
}

#[test]
fn load_reads_file_and_reports_missing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cluster.toml");
    std::fs::write(&p, SAMPLE).unwrap();
    let c = Cluster::load(&p).unwrap();
    assert_eq!(c.source, p);
    let e = Cluster::load(&dir.path().join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.toml"), "{e}");
}

#[test]
fn unknown_key_names_line() {
    let text = SAMPLE.replace(
        "roles = [\"nfs-server\"]",
        "roles = [\"nfs-server\"]\nrole = \"x\"",
    );
    let e = err(&text);
    let line = line_of(&text, "role = \"x\"", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn membership_is_per_node_and_defaults_to_member() {
    // Roles are free-form: a node with a role is still a member unless it says otherwise.
    let c = parse(SAMPLE).unwrap();
    assert!(c.nodes.iter().all(|n| n.is_member()));
    let text = SAMPLE.replace(
        "roles = [\"nfs-server\"]",
        "roles = [\"nfs-server\"]\nmember = false",
    );
    let c = parse(&text).unwrap();
    let members: Vec<&str> = c
        .nodes
        .iter()
        .filter(|n| n.is_member())
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(members, ["node2"]);
    let text = SAMPLE.replace(
        "roles = [\"nfs-server\"]",
        "roles = [\"nfs-server\"]\nmember = \"no\"",
    );
    let e = err(&text);
    let line = line_of(&text, "member = \"no\"", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(e.contains("bool"), "{e}");
}

#[test]
fn unknown_top_level_table_names_line() {
    let text = base_with("[[nodes]]\nname = \"x\"\n");
    let e = err(&text);
    let line = line_of(&text, "[[nodes]]", 0);
    assert!(e.contains(&format!("cluster.toml:{line}:")), "{e}");
}

#[test]
fn missing_cluster_table() {
    let e = err("[[node]]\nname = \"a\"\nid = 1\nmacs = [\"52:54:00:00:00:01\"]\n");
    assert!(e.contains("cluster.toml:1:1: missing [cluster]"), "{e}");
}

#[test]
fn bad_cluster_name() {
    let e = err("[cluster]\nname = \"bad name!\"\n");
    assert!(e.starts_with("cluster.toml:2:"), "{e}");
    assert!(e.contains("invalid cluster name"), "{e}");
}

#[test]
fn missing_node_field() {
    let text = base_with("[[node]]\nname = \"node3\"\nmacs = [\"52:54:00:77:00:13\"]\n");
    let e = err(&text);
    assert!(e.contains("missing field `id`"), "{e}");
    let line = line_of(&text, "name = \"node3\"", 0);
    assert!(
        e.contains(&format!("cluster.toml:{}:", line - 1))
            || e.contains(&format!("cluster.toml:{line}:")),
        "{e}"
    );
}

#[test]
fn duplicate_node_name() {
    let text = base_with("[[node]]\nname = \"node1\"\nid = 3\nmacs = [\"52:54:00:77:00:13\"]\n");
    let e = err(&text);
    let line = line_of(&text, "name = \"node1\"", 1);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(e.contains("duplicate node name 'node1'"), "{e}");
}

#[test]
fn invalid_node_name() {
    let text = base_with("[[node]]\nname = \"Node_3\"\nid = 3\nmacs = [\"52:54:00:77:00:13\"]\n");
    let e = err(&text);
    let line = line_of(&text, "Node_3", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(e.contains("invalid node name"), "{e}");
}

#[test]
fn duplicate_id() {
    let text = base_with("[[node]]\nname = \"node3\"\nid = 2\nmacs = [\"52:54:00:77:00:13\"]\n");
    let e = err(&text);
    let line = line_of(&text, "id = 2", 1);
    assert!(
        e.starts_with(&format!(
            "cluster.toml:{line}:6: duplicate node id 2 (also on node2)"
        )),
        "{e}"
    );
}

#[test]
fn id_out_of_range() {
    for bad in ["0", "256", "-1"] {
        let text = base_with(&format!(
            "[[node]]\nname = \"node3\"\nid = {bad}\nmacs = [\"52:54:00:77:00:13\"]\n"
        ));
        let e = err(&text);
        let line = line_of(&text, &format!("id = {bad}"), 0);
        assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
        assert!(e.contains("out of range"), "{e}");
    }
}

#[test]
fn duplicate_mac_any_case_and_separator() {
    let text = base_with("[[node]]\nname = \"node3\"\nid = 3\nmacs = [\"52-54-00-77-00-11\"]\n");
    let e = err(&text);
    let line = line_of(&text, "52-54-00-77-00-11", 0);
    assert!(
        e.starts_with(&format!("cluster.toml:{line}:9: duplicate MAC 52:54:00:77:00:11 (also on node1); give each node its own MAC")),
        "{e}"
    );
}

#[test]
fn malformed_mac() {
    for bad in [
        "52:54:00:77:00",
        "52:54:00:77:00:zz",
        "5254.0077.0013",
        "52:54:00:77:00:113",
    ] {
        let text = base_with(&format!(
            "[[node]]\nname = \"node3\"\nid = 3\nmacs = [\"{bad}\"]\n"
        ));
        let e = err(&text);
        let line = last_line_of(&text, bad);
        assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
        assert!(e.contains("malformed MAC"), "{e}");
    }
}

#[test]
fn node_without_mac() {
    let text = base_with("[[node]]\nname = \"node3\"\nid = 3\nmacs = []\n");
    let e = err(&text);
    let line = line_of(&text, "macs = []", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(e.contains("no MAC"), "{e}");
}

#[test]
fn duplicate_ip() {
    let text = base_with("[[node]]\nname = \"node3\"\nid = 3\nmacs = [\"52:54:00:77:00:13\"]\naddresses = [\"10.77.0.12/24\"]\n");
    let e = err(&text);
    let line = line_of(&text, "10.77.0.12/24", 1);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(
        e.contains("duplicate IP address 10.77.0.12 (also on node2)"),
        "{e}"
    );
}

#[test]
fn malformed_address_and_cidr() {
    for bad in ["10.77.0.300/24", "10.77.0.13", "10.77.0.13/40", "node/24"] {
        let text = base_with(&format!(
            "[[node]]\nname = \"node3\"\nid = 3\nmacs = [\"52:54:00:77:00:13\"]\naddresses = [\"{bad}\"]\n"
        ));
        let e = err(&text);
        let line = line_of(&text, bad, 0);
        assert!(
            e.starts_with(&format!("cluster.toml:{line}:")),
            "{bad}: {e}"
        );
        assert!(e.contains("malformed address"), "{e}");
    }
    let text = SAMPLE.replace("10.77.0.0/24", "10.77.0.0");
    let e = err(&text);
    let line = line_of(&text, "cidr = ", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(e.contains("malformed network CIDR"), "{e}");
}

#[test]
fn malformed_gateway_and_dns() {
    let text = SAMPLE.replace("10.77.0.254", "gw");
    let e = err(&text);
    let line = line_of(&text, "gateway", 0);
    assert!(
        e.starts_with(&format!("cluster.toml:{line}:")) && e.contains("malformed gateway"),
        "{e}"
    );
    let text = SAMPLE.replace("[\"10.77.0.1\"]", "[\"dns1\"]");
    let e = err(&text);
    let line = line_of(&text, "dns =", 0);
    assert!(
        e.starts_with(&format!("cluster.toml:{line}:")) && e.contains("malformed DNS"),
        "{e}"
    );
}

#[test]
fn address_outside_networks() {
    let text = base_with("[[node]]\nname = \"node3\"\nid = 3\nmacs = [\"52:54:00:77:00:13\"]\naddresses = [\"10.99.0.13/24\"]\n");
    let e = err(&text);
    let line = line_of(&text, "10.99.0.13", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(
        e.contains("outside every declared network (lan 10.77.0.0/24)"),
        "{e}"
    );
}

#[test]
fn address_anywhere_without_networks() {
    let text = "[cluster]\nname = \"x\"\n[[node]]\nname = \"a\"\nid = 1\nmacs = [\"52:54:00:00:00:01\"]\naddresses = [\"192.168.5.5/16\"]\n";
    let c = parse(text).unwrap();
    assert!(c.network_of(&c.nodes[0].addresses[0]).is_none());
}

#[test]
fn failover_domain_unknown_node() {
    let text = base_with("[[failover_domain]]\nname = \"db\"\nnodes = [\"node1\", \"node9\"]\n");
    let e = err(&text);
    let line = line_of(&text, "node9", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
    assert!(
        e.contains("unknown node 'node9'; known nodes: node1, node2"),
        "{e}"
    );
}

#[test]
fn syntax_error_names_line() {
    let text = base_with("[[node]\nname = \"x\"\n");
    let e = err(&text);
    let line = last_line_of(&text, "[[node]");
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
}

#[test]
fn several_problems_reported_together() {
    let text = base_with("[[node]]\nname = \"node1\"\nid = 1\nmacs = [\"52:54:00:77:00:11\"]\n");
    let e = err(&text);
    assert_eq!(e.lines().count(), 3, "{e}");
    assert!(e.lines().all(|l| l.starts_with("cluster.toml:")), "{e}");
}

#[test]
fn wrong_type_names_line() {
    let text = SAMPLE.replace("id = 1", "id = \"one\"");
    let e = err(&text);
    let line = line_of(&text, "id = \"one\"", 0);
    assert!(e.starts_with(&format!("cluster.toml:{line}:")), "{e}");
}

#[test]
fn kernel_args_and_roles_that_would_inject_lines_are_refused() {
    for (bad, what) in [
        ("x\\nchain http://evil/", "contains '\\n'"),
        ("a b", "contains ' '"),
        ("q\\\"uote", "contains '\"'"),
        ("", "empty kernel argument"),
    ] {
        let text = SAMPLE.replacen(
            "kernel_args = [\"console=ttyS0\"]",
            &format!("kernel_args = [\"{bad}\"]"),
            1,
        );
        assert_ne!(text, SAMPLE, "the sample has node1");
        let e = err(&text);
        assert!(
            e.contains("node 'node1'") && e.contains(what),
            "{bad:?}: {e}"
        );
        assert!(e.starts_with("cluster.toml:"), "{e}");
    }
    let text = SAMPLE.replacen("roles = [\"nfs-server\"]", "roles = [\"nfs-server\\n\"]", 1);
    assert_ne!(text, SAMPLE);
    assert!(err(&text).contains("invalid role"));
}

#[test]
fn broadcast_macs_and_network_or_broadcast_addresses_are_refused() {
    let mac = SAMPLE.replacen("52:54:00:77:00:11", "ff:ff:ff:ff:ff:ff", 1);
    assert_ne!(mac, SAMPLE);
    assert!(err(&mac).contains("multicast, broadcast"), "{}", err(&mac));
    let mac = SAMPLE.replacen("52:54:00:77:00:11", "01:00:5e:00:00:01", 1);
    assert!(err(&mac).contains("multicast"));
    for (addr, what) in [("10.77.0.0/24", "network"), ("10.77.0.255/24", "broadcast")] {
        let text = SAMPLE.replacen("10.77.0.11/24", addr, 1);
        assert_ne!(text, SAMPLE);
        let e = err(&text);
        assert!(e.contains(&format!("the {what} address")), "{e}");
    }
    let long = format!(
        "{SAMPLE}\n[[node]]\nname = \"{}\"\nid = 99\nmacs = [\"52:54:00:77:00:99\"]\n",
        "x".repeat(100_000)
    );
    assert!(err(&long).len() < 1000, "a huge name is not echoed in full");
}

#[test]
fn corosync_crypto_is_checked() {
    let with =
        |extra: &str| SAMPLE.replacen("name = \"lab\"\n", &format!("name = \"lab\"\n{extra}"), 1);
    let c = parse(&with(
        "crypto_cipher = \"aes256\"\ncrypto_hash = \"sha256\"\nauthkey = \"keys/authkey\"\n",
    ))
    .unwrap();
    assert_eq!(
        (c.crypto.cipher.as_str(), c.crypto.hash.as_str()),
        ("aes256", "sha256")
    );
    assert_eq!(c.crypto.authkey.as_deref(), Some(Path::new("keys/authkey")));
    let e = err(&with("crypto_cipher = \"aes256\"\nauthkey = \"k\"\n"));
    assert!(e.contains("needs a crypto_hash"), "{e}");
    let e = err(&with(
        "crypto_cipher = \"rot13\"\ncrypto_hash = \"sha256\"\nauthkey = \"k\"\n",
    ));
    assert!(e.contains("aes256") && e.contains("rot13"), "{e}");
    let e = err(&with(
        "crypto_cipher = \"aes128\"\ncrypto_hash = \"sha1\"\n",
    ));
    assert!(e.contains("authkey"), "{e}");
    assert_eq!(parse(SAMPLE).unwrap().crypto.cipher, "none");
}

#[test]
fn corosync_token_is_checked_and_named_with_its_line() {
    let with =
        |extra: &str| SAMPLE.replacen("name = \"lab\"\n", &format!("name = \"lab\"\n{extra}"), 1);
    assert_eq!(parse(SAMPLE).unwrap().token_ms, None);
    assert_eq!(
        parse(&with("token_ms = 10000\n")).unwrap().token_ms,
        Some(10000)
    );
    for bad in [
        "token_ms = 999\n",
        "token_ms = -5\n",
        "token_ms = 300001\n",
        "token_ms = 99999999999\n",
    ] {
        let e = err(&with(bad));
        let value = bad.trim_end().trim_start_matches("token_ms = ");
        assert!(
            e.contains(&format!("token_ms = {value} is out of range"))
                && e.contains("1000 to 300000"),
            "{bad}: {e}"
        );
        // The file and the line of the value (the [cluster] table's second line).
        assert!(e.contains("cluster.toml:4:"), "{bad}: {e}");
    }
    let e = err(&with("token_ms = \"10s\"\n"));
    assert!(
        e.contains("cluster.toml:4:") && e.contains("\"10s\""),
        "{e}"
    );
}
