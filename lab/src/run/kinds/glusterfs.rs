//! The GlusterFS root: a server node runs glusterd from its initramfs and serves the tree as
//! a replica-2 volume; every client mounts it over FUSE, with the client running from the
//! service chroot as a root storage daemon (`@glusterfs`).

use super::{Role, RootArgs, RootKind, Storage};
use crate::run::scenario::Scenario;
use crate::timeout::scaled;
use std::time::Duration;

pub const KIND: RootKind = RootKind {
    name: "glusterfs",
    module: "glusterfs",
    client_profile: "glusterfs",
    client_memory_mb: 512,
    fstype: "fuse.glusterfs",
    shared: true,
    storage: Storage::ServerExport,
    seed: None,
    server: Some(Role {
        node: "server",
        profile: "lab-gluster-server",
        memory_mb: 768,
        append: &["srbuild.data=LABEL=labroot", "srbuild.gluster.volume=root"],
        ready: "LAB-SERVER-READY",
        role: Some("gluster-server"),
        // The fill through its own FUSE mount keeps the client and both bricks busy.
        cpus: 2,
    }),
    checks: &["daemon glusterfs", "mmap"],
    scenarios: &[
        Scenario::Normal,
        Scenario::UnknownNode,
        Scenario::ServerDown,
        Scenario::RamRoot,
        Scenario::HybridRoot,
    ],
    death_seen: "",
    client_volfile: true,
    tools: &["cc"],
    root_args,
};

fn root_args(a: &RootArgs) -> Vec<String> {
    vec![
        format!("root=glusterfs:{}:root", a.server_ip),
        format!(
            "srbuild.mount_timeout={}",
            scaled(Duration::from_secs(150)).as_secs()
        ),
    ]
}
