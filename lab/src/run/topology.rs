//! The lab's cluster layout: node names, ids, MACs and addresses on the lab's private
//! segment, and the cluster description written for them. Pure data.

use std::fmt::Write as _;

/// The lab's private subnet. It exists only between the QEMU guests on the lab hub.
pub const SUBNET: &str = "10.77.0";
/// The cluster's name (corosync `cluster_name`, the gfs2 lock table, the o2cb cluster).
pub const CLUSTER: &str = "lab";

/// One lab node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabNode {
    pub name: String,
    pub id: u32,
    pub mac: String,
    pub ip: String,
    /// A service role in the cluster description (`nfs-server`, `seed`), or none for a
    /// cluster member.
    pub role: Option<&'static str>,
}

/// Client `i` (1-based).
pub fn client(i: usize) -> LabNode {
    LabNode {
        name: format!("node{i}"),
        id: i as u32,
        mac: format!("52:54:00:77:00:{:02x}", 0x10 + i),
        ip: format!("{SUBNET}.{}", 10 + i),
        role: None,
    }
}

/// Service node `k` (0-based: the server is 0, the seed 1), named `name`.
pub fn service(k: u32, name: &str, role: &'static str) -> LabNode {
    LabNode {
        name: name.to_string(),
        id: 100 + k,
        mac: format!("52:54:00:77:00:{:02x}", 0xfe - k),
        ip: format!("{SUBNET}.{}", 1 + k),
        role: Some(role),
    }
}

/// Node `n`'s MAC and address on L2 segment `k` ([`crate::segments`]; 0 is the lab's
/// first, the described one): the same host part on subnet `10.(77+k).0`, and the MAC's
/// fourth byte `0x77 + k`.
pub fn on_segment(n: &LabNode, k: usize) -> (String, String) {
    let host = n.ip.rsplit('.').next().unwrap_or("0");
    let mac_tail = n.mac.get(12..).unwrap_or("00:00");
    (
        format!("52:54:00:{:02x}:{mac_tail}", 0x77 + k),
        format!("10.{}.0.{host}", 77 + k),
    )
}

/// Address `ip` (on the first segment) moved to segment `k`: the same host part on subnet
/// `10.(77+k).0`, as [`on_segment`] gives a node.
pub fn ip_on_segment(ip: &str, k: usize) -> String {
    if k == 0 {
        return ip.to_string();
    }
    let host = ip.rsplit('.').next().unwrap_or("0");
    format!("10.{}.0.{host}", 77 + k)
}

/// Kernel arguments that address node `n` on segments `1..networks` (NIC `ethK` is on
/// segment `K`): `ip=` in the kernel's syntax, which the image's network stage applies.
pub fn segment_args(n: &LabNode, networks: usize) -> Vec<String> {
    (1..networks)
        .map(|k| {
            let (_, ip) = on_segment(n, k);
            format!("ip={ip}:::255.255.255.0::eth{k}:none")
        })
        .collect()
}

/// The address the ip-static scenario gives client `n` with `ip=` (not its described one).
pub fn static_ip(n: &LabNode) -> String {
    format!("{SUBNET}.{}", 50 + n.id)
}

/// corosync's token timeout in the lab's clusters. Its default of 3 s is for real CPUs: an
/// emulated guest on a loaded host can stall for longer than that (soft lockups of 26 s
/// were seen with two scenarios side by side), and a member that does is taken for dead
/// and fenced, even while it powers off cleanly. A site on slow or shared hardware sets it
/// the same way (`token_ms` in `[cluster]`).
pub const LAB_TOKEN_MS: u32 = 10_000;

/// The cluster description of a lab; with `authkey` (a file next to it), corosync runs
/// with knet crypto (aes256, sha256), as a real site would.
///
/// `fences` holds each member's `[node.fence]` section by node name
/// ([`crate::run::fencing::fence_toml`]), written right after that node's table.
pub fn cluster_toml(
    nodes: &[LabNode],
    authkey: Option<&str>,
    fences: &std::collections::BTreeMap<String, String>,
    initiators: Option<&str>,
    chap: Option<(&str, &str)>,
) -> String {
    let crypto = authkey
        .map(|k| {
            format!("crypto_cipher = \"aes256\"\ncrypto_hash = \"sha256\"\nauthkey = \"{k}\"\n")
        })
        .unwrap_or_default();
    let mut s = format!(
        "# Written by srbuild lab: the lab's own private segment (QEMU guests only).\n\
         [cluster]\nname = \"{CLUSTER}\"\ntoken_ms = {LAB_TOKEN_MS}\n{crypto}\n[[network]]\nname = \"lab\"\n"
    );
    let _ = writeln!(s, "cidr = \"{SUBNET}.0/24\"\n");
    for n in nodes {
        let _ = writeln!(
            s,
            "[[node]]\nname = \"{}\"\nid = {}\nmacs = [\"{}\"]\naddresses = [\"{}/24\"]{}\n",
            n.name,
            n.id,
            n.mac,
            n.ip,
            // A service node serves the cluster; it is not a cluster-stack member.
            n.role
                .map(|r| format!("\nroles = [\"{r}\"]\nmember = false"))
                .unwrap_or_default()
        );
        // A client's iSCSI initiator name (`PREFIX:NODE`), from the description.
        if let (Some(p), None) = (initiators, n.role) {
            let _ = writeln!(s, "iscsi_initiator = \"{p}:{}\"\n", n.name);
        }
        if let Some(f) = fences.get(&n.name) {
            let _ = writeln!(s, "{f}");
        }
    }
    // The CHAP account the iSCSI target requires, its secret in a file next to this one.
    if let Some((user, file)) = chap {
        let _ = writeln!(
            s,
            "[iscsi]\nchap_user = \"{user}\"\nchap_secret_file = \"{file}\""
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_description_is_valid_and_service_nodes_are_not_members() {
        let nodes = vec![service(0, "server", "nfs-server"), client(1), client(2)];
        let text = cluster_toml(&nodes, Some("authkey"), &Default::default(), None, None);
        let c =
            srbuild_cluster::Cluster::parse(&text, std::path::Path::new("/lab/lab.toml")).unwrap();
        assert_eq!(c.crypto.cipher, "aes256");
        assert_eq!(
            c.crypto.authkey.as_deref(),
            Some(std::path::Path::new("/lab/authkey"))
        );
        assert_eq!(c.nodes.len(), 3);
        assert_eq!(c.node_by_mac("52:54:00:77:00:12").unwrap().name, "node2");
        let members: Vec<&str> = c
            .nodes
            .iter()
            .filter(|n| n.is_member())
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(members, ["node1", "node2"]);
        assert_eq!(service(1, "seed", "seed").ip, "10.77.0.2");
    }

    #[test]
    fn each_member_gets_its_fence_section_inside_its_own_node_table() {
        let nodes = vec![service(0, "target", "iscsi-target"), client(1), client(2)];
        let mut fences = std::collections::BTreeMap::new();
        for n in &nodes[1..] {
            let addr = crate::run::fencing::bmc_address(n).unwrap();
            let pw = format!("bmc-{}.password", n.name);
            let f = crate::run::fencing::fence_toml(&n.name, addr, "fUser123456", &pw).unwrap();
            fences.insert(n.name.clone(), f);
        }
        let text = cluster_toml(&nodes, Some("authkey"), &fences, None, None);
        let v: toml::Value = toml::from_str(&text).unwrap();
        let node = v["node"].as_array().unwrap();
        assert!(node[0].get("fence").is_none(), "a service node has no BMC");
        for (n, ip) in [(&node[1], "10.77.0.201"), (&node[2], "10.77.0.202")] {
            let f = &n["fence"];
            assert_eq!(f["agent"].as_str(), Some("ipmilan"));
            assert_eq!(f["address"].as_str(), Some(ip));
            assert_eq!(f["port"].as_integer(), Some(623));
            assert_eq!(f["cipher"].as_integer(), Some(3));
            assert_eq!(f["user"].as_str(), Some("fUser123456"));
        }
        assert_eq!(
            node[2]["fence"]["password_file"].as_str(),
            Some("bmc-node2.password")
        );
        assert_eq!(node[2]["name"].as_str(), Some("node2"));
    }

    #[test]
    fn a_second_segment_keeps_the_host_part_on_its_own_subnet_and_macs() {
        let n = client(2);
        assert_eq!(
            on_segment(&n, 1),
            ("52:54:00:78:00:12".to_string(), "10.78.0.12".to_string())
        );
        assert_eq!(on_segment(&n, 0), (n.mac.clone(), n.ip.clone()));
        assert_eq!(
            segment_args(&service(0, "server", "s"), 2),
            ["ip=10.78.0.1:::255.255.255.0::eth1:none"]
        );
        assert!(segment_args(&n, 1).is_empty());
    }
}
