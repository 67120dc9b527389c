//! The OCFS2 root: one raw disk shared by every node, formatted on the host with a slot per
//! node for the o2cb stack, filled by a seed VM, and mounted by every node with o2cb and
//! local disk heartbeat.

use super::{Check, Formatter, RootArgs, RootKind, SharedFormat, Sizes, Storage};
use crate::error::Result;
use crate::run::artifacts::run_tool;
use crate::run::scenarios::Scenario;
use std::path::Path;
use std::process::Command;

pub const KIND: RootKind = RootKind {
    name: "ocfs2",
    doc: "One raw disk shared by every node (a slot each), filled by a seed VM, mounted with o2cb and local disk heartbeat.",
    modules: &["ocfs2"],
    client_profile: "ocfs2",
    client_memory_mb: 384,
    fstype: "ocfs2",
    shared: true,
    fencing: false,
    storage: Storage::Shared(FORMATTER),
    networks: 1,
    sizes: Sizes {
        disk_mb: 256,
        source_mb: 128,
    },
    // A Debian root with systemd is about 230 MB (and an inode block per file).
    debian: Some(Sizes {
        disk_mb: 1536,
        source_mb: 1024,
    }),
    seed: Some(super::SEED),
    server: None,
    checks: &[Check::O2cb(crate::run::topology::CLUSTER)],
    scenarios: &[
        Scenario::Normal,
        Scenario::UnknownNode,
        Scenario::NodeDies,
        Scenario::Partition,
    ],
    death_seen: Some("o2dlm has evicted node"),
    recovery_seen: Some("Begin replay journal"),
    client_input: None,
    hybrid_from: None,
    options: &[],
    root_args,
};

/// `mkfs.ocfs2` for o2cb, a node slot per slot (also the iSCSI kind's LUN).
pub(super) const FORMATTER: Formatter = Formatter {
    tool: "mkfs.ocfs2",
    slots_word: "node slots",
    run: format,
    check: &["fsck.ocfs2", "-n"],
    leaks_only: None,
    settle: "",
};

fn format(disk: &Path, f: &SharedFormat) -> Result<()> {
    run_tool(
        Command::new("mkfs.ocfs2")
            .args(["-q", "-F", "-L", "labroot", "--cluster-stack=o2cb"])
            .arg(format!("--cluster-name={}", f.cluster))
            .arg("-N")
            .arg(f.slots.to_string())
            .arg(disk),
        "mkfs.ocfs2 (the shared disk)",
    )
}

pub(super) fn root_args(_: &RootArgs) -> Vec<String> {
    vec![
        "root=/dev/vda".into(),
        "rootfstype=ocfs2".into(),
        // Faster failure detection than the defaults (31 heartbeats of 2 s, 30 s idle), so
        // the node-dies scenario takes less time; still well above TCG's hiccups.
        "srbuild.o2cb.dead_threshold=11".into(),
        "srbuild.o2cb.idle_timeout_ms=15000".into(),
    ]
}
