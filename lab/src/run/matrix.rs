//! The scenario matrix that CI runs (root kind × scenario × nodes × root filesystem,
//! [`MATRIX`]).

use crate::run::releases::{Release, RELEASES};
use crate::run::rootfs::RootFs;
use crate::run::scenarios::Scenario;

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
    /// `--distro`: the release whose sysroot builds the images and boots its kernel (and
    /// the Debian root's release); `None`: the host's `/`.
    pub distro: Option<&'static Release>,
}

/// An entry booted from Debian 13's sysroot (kernel 6.12), its root `rootfs`; a Debian
/// root is then Debian 13's too (systemd 257).
const fn deb13(
    name: &'static str,
    kind: &'static str,
    nodes: usize,
    rootfs: RootFs,
) -> MatrixEntry {
    MatrixEntry {
        name,
        kind,
        scenario: Scenario::Normal,
        nodes,
        rootfs,
        distro: Some(&RELEASES[1]),
    }
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
        distro: None,
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
    // The shared disk over iSCSI: a target node (tgtd) serves the seeded disk as a LUN.
    e("gfs2-iscsi-3-nodes", "gfs2-iscsi", Scenario::Normal, 3),
    e("ocfs2-iscsi-2-nodes", "ocfs2-iscsi", Scenario::Normal, 2),
    e(
        "gfs2-iscsi-target-down",
        "gfs2-iscsi",
        Scenario::ServerDown,
        1,
    ),
    // The target requires CHAP; the client's image holds another secret.
    e("gfs2-iscsi-bad-chap", "gfs2-iscsi", Scenario::BadChap, 1),
    // A shared LVM volume group (lvmlockd, dlm) on the LUN, the root an LV activated
    // shared on every node; an LV the group does not have, and a group that is not shared,
    // refused at mount-root.
    e("gfs2-lvm-3-nodes", "gfs2-lvm", Scenario::Normal, 3),
    e("gfs2-lvm-missing-lv", "gfs2-lvm", Scenario::MissingLv, 1),
    e("gfs2-lvm-unshared-vg", "gfs2-lvm", Scenario::UnsharedVg, 1),
    // Two paths to the LUN (two networks), dm-multipath; one path cut and restored.
    e(
        "gfs2-multipath-path-fails",
        "gfs2-multipath",
        Scenario::PathFails,
        2,
    ),
    // Fencing: a member dying while its BMC is unreachable; a member cut off while running
    // (gfs2: fenced through its BMC; ocfs2: o2quo fences itself).
    e("gfs2-partition", "gfs2", Scenario::Partition, 3),
    e(
        "gfs2-fence-device-down",
        "gfs2",
        Scenario::FenceDeviceDown,
        2,
    ),
    e("ocfs2-partition", "ocfs2", Scenario::Partition, 2),
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
    // iPXE over HTTP: boot.ipxe over TFTP, the node's script, kernel and initrd from nginx.
    e("nfs-pxe-http", "nfs", Scenario::PxeHttp, 2),
    // A root image fetched over HTTP (nginx on the server) into RAM, checked against its
    // SHA-256; a server that comes late; a hash that is not the image's.
    e("http-ram-3-clients", "http", Scenario::Normal, 3),
    e("http-server-late", "http", Scenario::LateServer, 2),
    e("http-bad-hash", "http", Scenario::BadHash, 1),
    // Hybrid: the image without /usr, which stays read-only on NFS from the same server.
    e("http-hybrid-root", "http", Scenario::HybridRoot, 2),
    // A real Debian 12 root with systemd: per-node machine-id, hostname, /var/log and
    // /var/tmp as CDSLs, /tmp a tmpfs per node, the agent as a unit, and a clean power-off.
    MatrixEntry {
        name: "nfs-debian-2-clients",
        kind: "nfs",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian(None),
        distro: None,
    },
    // The same on the shared disks: systemd leaves the cluster stack's mounts alone, and
    // each node leaves the cluster through the exitrd (root unmounted, dlm_controld and
    // corosync stopped): with fencing on, nobody may be fenced.
    MatrixEntry {
        name: "gfs2-debian-2-nodes",
        kind: "gfs2",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian(None),
        distro: None,
    },
    // And on a shared LVM volume over iSCSI: the session and lvmlockd serve the root until
    // the exitrd has unmounted it, deactivated the LV and left the VG's lockspace.
    MatrixEntry {
        name: "gfs2-lvm-debian-2-nodes",
        kind: "gfs2-lvm",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian(None),
        distro: None,
    },
    MatrixEntry {
        name: "ocfs2-debian-2-nodes",
        kind: "ocfs2",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian(None),
        distro: None,
    },
    // A Debian root on glusterfs (FUSE): filled on the host, and its systemd shutdown leaves
    // the FUSE root before the final kill loop stops the FUSE daemon (module fuse-shutdown).
    MatrixEntry {
        name: "glusterfs-debian-2-clients",
        kind: "glusterfs",
        scenario: Scenario::Normal,
        nodes: 2,
        rootfs: crate::run::rootfs::RootFs::Debian(None),
        distro: None,
    },
    // Debian 13 (trixie): every image built from its sysroot and its kernel 6.12 booted,
    // with the busybox root and with a Debian 13 root under systemd 257.
    deb13("nfs-3-clients-deb13", "nfs", 3, RootFs::Busybox),
    deb13("gfs2-3-nodes-deb13", "gfs2", 3, RootFs::Busybox),
    deb13("ocfs2-2-nodes-deb13", "ocfs2", 2, RootFs::Busybox),
    deb13("glusterfs-3-clients-deb13", "glusterfs", 3, RootFs::Busybox),
    deb13("nfs-debian-2-clients-deb13", "nfs", 2, RootFs::Debian(None)),
    // The exitrd ends corosync only once dlm_controld's leave has gone round its ring:
    // dlm_controld 4.3.0 fences a member that vanished from dlm:controld (docs/lab.md).
    deb13("gfs2-debian-2-nodes-deb13", "gfs2", 2, RootFs::Debian(None)),
    deb13(
        "ocfs2-debian-2-nodes-deb13",
        "ocfs2",
        2,
        RootFs::Debian(None),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_matrix_entry_is_supported_by_its_kind() {
        for m in MATRIX {
            let kind = crate::run::kinds::by_name(m.kind).unwrap();
            kind.check(m.scenario, m.nodes, m.nodes)
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        }
        for m in MATRIX.iter().filter(|m| m.rootfs.is_debian()) {
            assert!(
                crate::run::kinds::by_name(m.kind).unwrap().debian.is_some()
                    && m.scenario == Scenario::Normal,
                "{}: --rootfs debian is not planned for {} {}",
                m.name,
                m.kind,
                m.scenario
            );
        }
        // An entry named for Debian 13 boots Debian 13, and only those do.
        for m in MATRIX {
            assert_eq!(
                m.name.ends_with("-deb13"),
                m.distro.map(|r| r.number) == Some("13"),
                "{}: distro {:?}",
                m.name,
                m.distro.map(|r| r.number)
            );
            assert_eq!(
                m.distro.map(|r| r.suite),
                m.name.ends_with("-deb13").then_some("trixie")
            );
        }
        let mut names: Vec<&str> = MATRIX.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MATRIX.len(), "matrix names are unique");
    }
}
