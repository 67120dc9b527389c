//! The NFS root: a server node exports one tree from its data disk, every client mounts it.

use super::{Role, RootArgs, RootKind, Storage};
use crate::run::scenario::Scenario;
use crate::timeout::scaled;
use std::time::Duration;

pub const KIND: RootKind = RootKind {
    name: "nfs",
    module: "nfs",
    client_profile: "nfs",
    client_memory_mb: 384,
    fstype: "nfs",
    shared: true,
    storage: Storage::ServerExport,
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
    ],
    death_seen: "",
    client_volfile: false,
    tools: &[],
    root_args,
};

fn root_args(a: &RootArgs) -> Vec<String> {
    // The server's export is its NFSv4 root (fsid=0): v4 mounts "/", v3 the real path.
    let v3 = a.nfs_version.starts_with('3');
    let path = match (a.wrong_root, v3) {
        (true, _) => "/srv/no-such-export",
        (false, true) => "/srv/root",
        (false, false) => "/",
    };
    vec![
        // lookupcache=positive: a node looking for another node's new file asks the server.
        format!(
            "root=nfs:{}:{path}:vers={},lookupcache=positive",
            a.server_ip, a.nfs_version
        ),
        format!(
            "srbuild.mount_timeout={}",
            scaled(Duration::from_secs(150)).as_secs()
        ),
    ]
}
