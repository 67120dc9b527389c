//! What a lab run sets out to show ([`Scenario`]), and the scenario matrix that CI runs
//! (root kind × scenario × nodes, [`MATRIX`]). What a scenario does is its descriptor in
//! [`crate::run::scenarios`].

use crate::run::scenarios::{ScenarioSpec, SPECS};

/// What a run sets out to show: the identity of a scenario, whose behaviour is its
/// descriptor ([`Scenario::spec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Normal,
    WrongRootPath,
    UnknownNode,
    LateServer,
    IpStatic,
    Dhcp,
    NodeDies,
    LoneNode,
    ServerDown,
    RamRoot,
    HybridRoot,
    BadRootmode,
    RamTooSmall,
    HybridMissingPath,
    Pxe,
}

impl Scenario {
    /// Its descriptor ([`crate::run::scenarios`]).
    pub fn spec(self) -> &'static ScenarioSpec {
        crate::run::scenarios::spec(self)
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

impl std::str::FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SPECS
            .iter()
            .find(|x| x.name == s)
            .map(|x| x.id)
            .ok_or_else(|| {
                format!(
                    "unknown scenario '{s}'; use one of: {}",
                    SPECS.iter().map(|x| x.name).collect::<Vec<_>>().join(", ")
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
        for s in SPECS {
            assert_eq!(s.name.parse::<Scenario>(), Ok(s.id));
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
                crate::run::kinds::by_name(m.kind).unwrap().debian.is_some()
                    && m.scenario == Scenario::Normal,
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
