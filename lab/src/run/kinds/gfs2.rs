//! The GFS2 root: one raw disk shared by every node, formatted on the host with a journal
//! per node, filled by a seed VM (lock_nolock), and mounted by every node with lock_dlm under
//! corosync and dlm_controld, which the initramfs starts and which outlive `switch_root`;
//! dlm fences a member through its BMC (`fencing`).

use super::{Check, Formatter, RootArgs, RootKind, SharedFormat, Sizes, Storage};
use crate::error::Result;
use crate::run::artifacts::run_tool;
use crate::run::scenarios::Scenario;
use crate::timeout::scaled;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const KIND: RootKind = RootKind {
    name: "gfs2",
    doc: "One raw disk shared by every node (a journal each), filled by a seed VM, mounted with lock_dlm under corosync and dlm_controld.",
    modules: &["gfs2"],
    client_profile: "gfs2",
    client_memory_mb: 512,
    fstype: "gfs2",
    shared: true,
    fencing: true,
    storage: Storage::Shared(FORMATTER),
    networks: 1,
    sizes: Sizes {
        disk_mb: 384,
        source_mb: 128,
    },
    // A Debian root with systemd is about 230 MB (and an inode block per file).
    debian: Some(Sizes {
        disk_mb: 1536,
        source_mb: 1024,
    }),
    seed: Some(super::SEED),
    server: None,
    checks: &[
        Check::Daemon("corosync"),
        Check::Daemon("dlm_controld"),
        Check::Quorum,
    ],
    scenarios: &[
        Scenario::Normal,
        Scenario::UnknownNode,
        Scenario::NodeDies,
        Scenario::LoneNode,
        Scenario::Partition,
        Scenario::FenceDeviceDown,
    ],
    death_seen: Some("dlm: closing connection to node"),
    recovery_seen: Some("Looking at journal"),
    client_input: None,
    options: &[],
    root_args,
};

/// `mkfs.gfs2` with lock_dlm, a journal per slot (also the iSCSI kinds' LUN).
pub(super) const FORMATTER: Formatter = Formatter {
    tool: "mkfs.gfs2",
    slots_word: "journals",
    run: format,
    check: &["fsck.gfs2", "-n"],
};

fn format(disk: &Path, f: &SharedFormat) -> Result<()> {
    run_tool(
        Command::new("mkfs.gfs2")
            .args(["-O", "-q", "-p", "lock_dlm", "-J", "16", "-t"])
            .arg(format!("{}:root", f.cluster))
            .arg("-j")
            .arg(f.slots.to_string())
            .arg(disk),
        "mkfs.gfs2 (the shared disk)",
    )
}

pub(super) fn root_args(a: &RootArgs) -> Vec<String> {
    // A member that cannot get quorum (one of three alone) fails fast and says so.
    let quorum = scaled(Duration::from_secs(if a.no_quorum { 25 } else { 150 }));
    vec![
        "root=/dev/vda".into(),
        "rootfstype=gfs2".into(),
        format!("srbuild.quorum_timeout={}", quorum.as_secs()),
    ]
}
