//! The lab's cluster layout: node names, ids, MACs and addresses on the lab's private
//! segment, the scenarios, and the cluster description written for them. Pure data.

use std::fmt::Write as _;

/// The lab's private subnet. It exists only between the QEMU guests on the lab hub.
pub const SUBNET: &str = "10.77.0";
pub const SERVER_ID: u32 = 100;

/// What kind of root the clients boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    /// One NFS export served by a server node; every client mounts it.
    Nfs,
    /// One ext3 base image; every node boots its own copy-on-write overlay.
    Ext3,
}

impl RootKind {
    pub fn for_profile(profile: &str) -> Option<RootKind> {
        match profile {
            "nfs" => Some(RootKind::Nfs),
            "ext3" => Some(RootKind::Ext3),
            _ => None,
        }
    }
}

/// What a run sets out to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every node boots the shared root and sees the others' writes.
    Normal,
    /// Clients ask for an export that does not exist: `FAILED stage=mount-root`.
    WrongRootPath,
    /// A client whose MAC is not in the cluster description: `FAILED stage=identity`.
    UnknownNode,
    /// The NFS server starts 20 s after the clients, which must retry and pass.
    LateServer,
    /// Clients get their address from `ip=` in the kernel's syntax (not the description).
    IpStatic,
    /// Clients get their address with `ip=dhcp` from the server's DHCP service.
    Dhcp,
}

impl std::str::FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "normal" => Ok(Scenario::Normal),
            "wrong-root-path" => Ok(Scenario::WrongRootPath),
            "unknown-node" => Ok(Scenario::UnknownNode),
            "late-server" => Ok(Scenario::LateServer),
            "ip-static" => Ok(Scenario::IpStatic),
            "dhcp" => Ok(Scenario::Dhcp),
            other => Err(format!(
                "unknown scenario '{other}'; use normal, wrong-root-path, unknown-node, late-server, ip-static or dhcp"
            )),
        }
    }
}

impl Scenario {
    /// The console line a client must end with: `None` for LAB-PASS, or the failing stage.
    pub fn expected_failure(self) -> Option<&'static str> {
        match self {
            Scenario::WrongRootPath => Some("mount-root"),
            Scenario::UnknownNode => Some("identity"),
            _ => None,
        }
    }

    /// A console line client `n` must also have printed for a pass to count.
    pub fn expected_line(self, n: &LabNode) -> Option<String> {
        match self {
            Scenario::IpStatic => Some(format!("srbuild: ip {}/24 on eth0", static_ip(n))),
            Scenario::Dhcp => Some(format!("srbuild: dhcp on eth0: {}/24", n.ip)),
            _ => None,
        }
    }
}

/// The address the ip-static scenario gives client `n` with `ip=` (not its described one).
pub fn static_ip(n: &LabNode) -> String {
    format!("{SUBNET}.{}", 50 + n.id)
}

/// One lab node.
#[derive(Debug, Clone)]
pub struct LabNode {
    pub name: String,
    pub id: u32,
    pub mac: String,
    pub ip: String,
    pub server: bool,
}

/// Client `i` (1-based).
pub fn client(i: usize) -> LabNode {
    LabNode {
        name: format!("node{i}"),
        id: i as u32,
        mac: format!("52:54:00:77:00:{:02x}", 0x10 + i),
        ip: format!("{SUBNET}.{}", 10 + i),
        server: false,
    }
}

pub fn server() -> LabNode {
    LabNode {
        name: "server".into(),
        id: SERVER_ID,
        mac: "52:54:00:77:00:fe".into(),
        ip: format!("{SUBNET}.1"),
        server: true,
    }
}

/// The cluster description of a lab: the server (if any) and the clients.
pub fn cluster_toml(nodes: &[LabNode]) -> String {
    let mut s = String::from(
        "# Written by srbuild lab: the lab's own private segment (QEMU guests only).\n[cluster]\nname = \"lab\"\n\n[[network]]\nname = \"lab\"\n",
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
            if n.server {
                "\nroles = [\"nfs-server\"]"
            } else {
                ""
            }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_description_is_valid() {
        let nodes = vec![server(), client(1), client(2), client(3)];
        let text = cluster_toml(&nodes);
        let c = srbuild_cluster::Cluster::parse(&text, std::path::Path::new("lab.toml")).unwrap();
        assert_eq!(c.nodes.len(), 4);
        assert_eq!(c.node_by_mac("52:54:00:77:00:12").unwrap().name, "node2");
        assert!("late-server".parse::<Scenario>().is_ok());
        assert!("bogus"
            .parse::<Scenario>()
            .unwrap_err()
            .contains("unknown scenario"));
    }
}
