//! What a lab run sets out to show ([`Scenario`]), and the scenario matrix that CI runs
//! (root kind × scenario × nodes, [`MATRIX`]).

/// What a run sets out to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every node boots the shared root and sees the others' writes.
    Normal,
    /// Clients ask for an export that does not exist: `FAILED stage=mount-root`.
    WrongRootPath,
    /// A client whose MAC is not in the cluster description: `FAILED stage=identity`.
    UnknownNode,
    /// The server starts 20 s after the clients, which must retry and pass.
    LateServer,
    /// Clients get their address from `ip=` in the kernel's syntax (not the description).
    IpStatic,
    /// Clients get their address with `ip=dhcp` from the server's DHCP service.
    Dhcp,
    /// Once every node passed, one node's QEMU is killed; the survivors must go on writing
    /// to the shared root.
    NodeDies,
    /// Only the first of the described members boots: `FAILED stage=cluster` (no quorum).
    LoneNode,
    /// The server never starts: the clients retry, then `FAILED stage=mount-root` naming it.
    ServerDown,
    /// `srbuild.rootmode=ram`: the root is copied into a tmpfs; once every node passed, the
    /// server is stopped and the nodes must go on writing.
    RamRoot,
    /// `srbuild.rootmode=hybrid srbuild.hybrid=/usr`: all but /usr in RAM, /usr read-only
    /// from the network.
    HybridRoot,
    /// `srbuild.rootmode=bogus`: `FAILED stage=cmdline` naming it.
    BadRootmode,
    /// `srbuild.rootmode=ram srbuild.ramsize=1M`: `FAILED stage=mount-root` before copying.
    RamTooSmall,
    /// `srbuild.rootmode=hybrid srbuild.hybrid=/no-such-dir`: `FAILED stage=mount-root`
    /// naming the path.
    HybridMissingPath,
    /// Clients boot with no `-kernel`: QEMU's iPXE ROM gets an address and the node's
    /// iPXE script from the server's dnsmasq, which serves exactly what `srbuild cluster
    /// netboot` wrote; then the kernel and initrd over TFTP. A node with an unknown MAC
    /// must get nothing (iPXE: "No configuration methods succeeded").
    Pxe,
}

/// Every scenario, in the order `--help` lists them.
pub const ALL: &[Scenario] = &[
    Scenario::Normal,
    Scenario::WrongRootPath,
    Scenario::UnknownNode,
    Scenario::LateServer,
    Scenario::IpStatic,
    Scenario::Dhcp,
    Scenario::NodeDies,
    Scenario::LoneNode,
    Scenario::ServerDown,
    Scenario::RamRoot,
    Scenario::HybridRoot,
    Scenario::BadRootmode,
    Scenario::RamTooSmall,
    Scenario::HybridMissingPath,
    Scenario::Pxe,
];

impl Scenario {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::WrongRootPath => "wrong-root-path",
            Scenario::UnknownNode => "unknown-node",
            Scenario::LateServer => "late-server",
            Scenario::IpStatic => "ip-static",
            Scenario::Dhcp => "dhcp",
            Scenario::NodeDies => "node-dies",
            Scenario::LoneNode => "lone-node",
            Scenario::ServerDown => "server-down",
            Scenario::RamRoot => "ram-root",
            Scenario::HybridRoot => "hybrid-root",
            Scenario::BadRootmode => "bad-rootmode",
            Scenario::RamTooSmall => "ram-too-small",
            Scenario::HybridMissingPath => "hybrid-missing-path",
            Scenario::Pxe => "pxe",
        }
    }

    /// The stage a client must fail at, or `None` when it must reach LAB-PASS.
    pub fn expected_failure(self) -> Option<&'static str> {
        match self {
            Scenario::WrongRootPath => Some("mount-root"),
            Scenario::UnknownNode => Some("identity"),
            Scenario::LoneNode => Some("cluster"),
            Scenario::ServerDown => Some("mount-root"),
            Scenario::BadRootmode => Some("cmdline"),
            Scenario::RamTooSmall | Scenario::HybridMissingPath => Some("mount-root"),
            _ => None,
        }
    }
}

impl std::str::FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.iter().copied().find(|x| x.name() == s).ok_or_else(|| {
            format!(
                "unknown scenario '{s}'; use one of: {}",
                ALL.iter().map(|x| x.name()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of the CI matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixEntry {
    /// The scenario's name in CI output and under `target/lab-ci/`.
    pub name: &'static str,
    /// The root kind (`--root`).
    pub kind: &'static str,
    pub scenario: Scenario,
    /// Client nodes (`--nodes`).
    pub nodes: usize,
    /// The root filesystem (`--rootfs`).
    pub rootfs: crate::run::rootfs::RootFs,
}

const fn e(
    name: &'static str,
    kind: &'static str,
    scenario: Scenario,
    nodes: usize,
) -> MatrixEntry {
    MatrixEntry {
        name,
        kind,
        scenario,
        nodes,
        rootfs: crate::run::rootfs::RootFs::Busybox,
    }
}

/// The scenarios `cargo xtask ci` boots, in order.
pub const MATRIX: &[MatrixEntry] = &[
    e("nfs-3-clients", "nfs", Scenario::Normal, 3),
    e("ext3-2-nodes", "ext3", Scenario::Normal, 2),
    e("gfs2-3-nodes", "gfs2", Scenario::Normal, 3),
    e("ocfs2-2-nodes", "ocfs2", Scenario::Normal, 2),
    e("gfs2-node-dies", "gfs2", Scenario::NodeDies, 3),
    e("ocfs2-node-dies", "ocfs2", Scenario::NodeDies, 2),
    e("gfs2-lone-node", "gfs2", Scenario::LoneNode, 3),
    e("glusterfs-3-clients", "glusterfs", Scenario::Normal, 3),
    e(
        "glusterfs-server-down",
        "glusterfs",
        Scenario::ServerDown,
        1,
    ),
    e("nfs-ram-root", "nfs", Scenario::RamRoot, 2),
    e("nfs-hybrid-root", "nfs", Scenario::HybridRoot, 2),
    e("glusterfs-ram-root", "glusterfs", Scenario::RamRoot, 2),
    e("nfs-bad-rootmode", "nfs", Scenario::BadRootmode, 1),
    e("nfs-ram-too-small", "nfs", Scenario::RamTooSmall, 1),
    e(
        "nfs-hybrid-missing-path",
        "nfs",
        Scenario::HybridMissingPath,
        1,
    ),
    e("nfs-wrong-root-path", "nfs", Scenario::WrongRootPath, 1),
    e("nfs-unknown-node", "nfs", Scenario::UnknownNode, 1),
    e("nfs-late-server", "nfs", Scenario::LateServer, 2),
    e("nfs-ip-static", "nfs", Scenario::IpStatic, 1),
    e("nfs-dhcp", "nfs", Scenario::Dhcp, 2),
    e("nfs-pxe", "nfs", Scenario::Pxe, 2),
    // A real Debian 12 root with systemd: per-node machine-id, hostname, /var/log and
    // /var/tmp as CDSLs, /tmp a tmpfs per node, the agent as a unit, and a clean power-off.
    MatrixEntry {
        name: "nfs-debian-2-clients",
        kind: "nfs",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian,
    },
    // The same on the shared disks: systemd must leave the cluster stack's mounts alone,
    // and the last node down recovers the other's journal before it powers off.
    MatrixEntry {
        name: "gfs2-debian-2-nodes",
        kind: "gfs2",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian,
    },
    MatrixEntry {
        name: "ocfs2-debian-2-nodes",
        kind: "ocfs2",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for s in ALL {
            assert_eq!(s.name().parse::<Scenario>(), Ok(*s));
        }
        let err = "bogus".parse::<Scenario>().unwrap_err();
        assert!(err.contains("unknown scenario 'bogus'") && err.contains("node-dies"));
    }

    #[test]
    fn every_matrix_entry_is_supported_by_its_kind() {
        for m in MATRIX {
            let kind = crate::run::kinds::by_name(m.kind).unwrap();
            kind.check(m.scenario, m.nodes, m.nodes)
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        }
        for m in MATRIX
            .iter()
            .filter(|m| m.rootfs == crate::run::rootfs::RootFs::Debian)
        {
            assert!(
                crate::run::plan::DEBIAN_KINDS.contains(&m.kind) && m.scenario == Scenario::Normal,
                "{}: --rootfs debian is not planned for {} {}",
                m.name,
                m.kind,
                m.scenario
            );
        }
        let mut names: Vec<&str> = MATRIX.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MATRIX.len(), "matrix names are unique");
    }
}
