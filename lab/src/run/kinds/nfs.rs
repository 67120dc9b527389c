//! The NFS root: a server node exports one tree from its data disk, every client mounts it.

use super::{KindOption, Role, RoleDisk, RootArgs, RootKind, Sizes, Storage};
use crate::run::scenarios::Scenario;
use crate::timeout::scaled;
use std::time::Duration;

pub const KIND: RootKind = RootKind {
    name: "nfs",
    doc: "A server node exports one tree from its data disk; every client mounts it.",
    modules: &["nfs"],
    client_profile: "nfs",
    client_memory_mb: 384,
    fstype: "nfs",
    shared: true,
    fencing: false,
    storage: Storage::ServerExport,
    networks: 1,
    sizes: Sizes {
        disk_mb: 256,
        source_mb: 0,
    },
    // A Debian root with systemd is about 180 MB.
    debian: Some(Sizes {
        disk_mb: 1024,
        source_mb: 0,
    }),
    seed: None,
    server: Some(Role {
        node: "server",
        profile: "lab-nfs-server",
        memory_mb: 512,
        append: &[
            "srbuild.export=/srv/root",
            "srbuild.data=LABEL=labroot",
            "srbuild.nfsgrace=10",
        ],
        ready: "LAB-SERVER-READY",
        role: Some("nfs-server"),
        cpus: 1,
        disks: &[RoleDisk::Data],
    }),
    checks: &[],
    scenarios: &[
        Scenario::Normal,
        Scenario::WrongRootPath,
        Scenario::UnknownNode,
        Scenario::LateServer,
        Scenario::IpStatic,
        Scenario::Dhcp,
        Scenario::ServerDown,
        Scenario::RamRoot,
        Scenario::HybridRoot,
        Scenario::BadRootmode,
        Scenario::RamTooSmall,
        Scenario::HybridMissingPath,
        Scenario::Pxe,
        Scenario::PxeHttp,
    ],
    death_seen: None,
    recovery_seen: None,
    client_input: None,
    hybrid_from: None,
    options: &[KindOption {
        key: "version",
        default: "4.2",
        allowed: &["4.2", "4.1", "4", "3"],
        doc: "NFS version of the clients' root mount",
    }],
    root_args,
};

fn root_args(a: &RootArgs) -> Vec<String> {
    // The server's export is its NFSv4 root (fsid=0): v4 mounts "/", v3 the real path.
    let version = a.opts.get("version").map(String::as_str).unwrap_or("4.2");
    let v3 = version.starts_with('3');
    let path = match (a.wrong_root, v3) {
        (true, _) => "/srv/no-such-export",
        (false, true) => "/srv/root",
        (false, false) => "/",
    };
    vec![
        // lookupcache=positive: a node looking for another node's new file asks the server.
        format!(
            "root=nfs:{}:{path}:vers={},lookupcache=positive",
            a.server_ip, version
        ),
        format!(
            "srbuild.mount_timeout={}",
            scaled(Duration::from_secs(150)).as_secs()
        ),
    ]
}
