//! The GlusterFS root: a server node runs glusterd from its initramfs and serves the tree as
//! a replica-2 volume; every client mounts it over FUSE, with the client running from the
//! service chroot as a root storage daemon (`@glusterfs`).

use super::{Check, Role, RoleDisk, RootArgs, RootKind, ServerOutput, Sizes, Storage};
use crate::run::scenarios::Scenario;
use crate::timeout::scaled;
use std::time::Duration;

pub const KIND: RootKind = RootKind {
    name: "glusterfs",
    doc: "A server node runs glusterd and serves the tree as a replica-2 volume; every client mounts it over FUSE.",
    modules: &["glusterfs"],
    client_profile: "glusterfs",
    client_memory_mb: 512,
    fstype: "fuse.glusterfs",
    shared: true,
    fencing: false,
    storage: Storage::Volume,
    networks: 1,
    sizes: Sizes {
        disk_mb: 256,
        source_mb: 0,
    },
    // A Debian root (about 180 MB) is filled on the host ([`Storage::Volume`]); both bricks
    // are on the data disk. Its systemd shutdown leaves the FUSE root first (module
    // fuse-shutdown, in the glusterfs profile).
    debian: Some(Sizes {
        disk_mb: 1024,
        source_mb: 0,
    }),
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
        disks: &[RoleDisk::Data],
    }),
    checks: &[Check::Daemon("glusterfs"), Check::Mmap],
    scenarios: &[
        Scenario::Normal,
        Scenario::UnknownNode,
        Scenario::ServerDown,
        Scenario::RamRoot,
        Scenario::HybridRoot,
    ],
    death_seen: None,
    recovery_seen: None,
    // The client volfile the server prints, for the image's client xlators.
    client_input: Some(ServerOutput {
        begin: "LAB-VOLFILE-BEGIN",
        end: "LAB-VOLFILE-END",
        file: "client.vol",
        input: "gluster-volfile",
    }),
    hybrid_from: None,
    options: &[],
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
