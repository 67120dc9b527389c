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
    hybrid_from: None,
    options: &[],
    root_args,
};

/// `mkfs.gfs2` with lock_dlm, a journal per slot (also the iSCSI kinds' LUN).
pub(super) const FORMATTER: Formatter = Formatter {
    tool: "mkfs.gfs2",
    slots_word: "journals",
    run: format,
    check: &["fsck.gfs2", "-n"],
    leaks_only: Some(leaked_inodes_only),
    // An unmount folds the node's statfs changes into the master statfs file; a remount
    // does not.
    settle: "for f in /sys/fs/gfs2/*/statfs_sync; do [ -e \"$f\" ] && echo 1 >\"$f\"; done",
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

/// `fsck.gfs2 -n`'s report, when all it found is harmless after a node died, said in words;
/// anything else in the report, a dirty journal included, is `None`. Two findings are
/// harmless:
/// - inode blocks allocated in their bitmap that hold no inode, and the resource group
///   counts that follow. A node fenced while it was creating a file leaves one: gfs2
///   commits the allocation in one transaction and writes the inode in a later one, after
///   it got the new inode's cluster lock, which a node cut off from the others waits for
///   until it is powered off. Lost space that `fsck.gfs2 -y` frees, not damage; no
///   directory entry names it (that would be another line, and not a leak).
/// - a master statfs file that lags behind the dead node's last creates or deletes: gfs2
///   keeps each node's statfs changes in memory and folds them into its per-node
///   statfs_change file, then the master file, only now and then, so a dead node's latest
///   ones are lost. Its signature: the dinode count and the free block count are behind by
///   the same number (a dinode is one block), after the leaks are taken out; a statfs ahead
///   (a missed delete) is not accepted, the lab's writers never delete. statfs is
///   approximate by design (`df`); `fsck.gfs2 -y` recounts it.
pub(super) fn leaked_inodes_only(report: &str) -> Option<String> {
    // Whole lines, as fsck.gfs2 (gfs2-utils 3.5) prints them; `*` stands for numbers.
    const PROGRESS: &[&str] = &[
        "Initializing fsck",
        "Validating resource group index.",
        "Level 1 resource group check: Checking if all rgrp and rindex values are good.",
        "(level 1 passed)",
        "Starting *",
        "* completed in *",
        "Reconciling bitmaps.",
        "fsck.gfs2 complete",
        "Journal recovery complete.",
        // Printed with a carriage return on each side when a pass takes long (under load).
        "* percent complete.",
    ];
    // What follows from leaked blocks: the bitmap and resource group counts. Without a
    // leak, any of these is damage.
    const LEAK_FOLLOW: &[&str] = &[
        "Block * was 'inode', should be free.",
        "The bitmap inconsistency was ignored.",
        "Block * bitmap says 3 (inode) but FSCK saw 0 (free)",
        "Bitmap at block * left inconsistent",
        "RG #* free count inconsistent: is * should be *",
        "RG #* Inode count inconsistent: is * should be *",
        "Resource group counts left inconsistent",
    ];
    const STATFS: &[&str] = &[
        "The statfs file is wrong:",
        "Current statfs values:",
        "Calculated statfs values:",
        "The statfs file was not fixed.",
    ];
    let mut leaks = 0i64;
    let mut leak_follow = 0;
    // (current, calculated) of the statfs file's total blocks, free blocks and dinodes.
    let (mut blocks, mut free, mut dinodes) = (Vec::new(), Vec::new(), Vec::new());
    // Progress lines end in a carriage return, not a newline: each piece is a line.
    for line in report
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if let Some(n) = line.strip_prefix("blocks:") {
            blocks.push(first_number(n)?);
        } else if let Some(n) = line.strip_prefix("free:") {
            free.push(first_number(n)?);
        } else if let Some(n) = line.strip_prefix("dinodes:") {
            dinodes.push(first_number(n)?);
        } else if glob("Found invalid inode at block *", line) {
            leaks += 1;
        } else if LEAK_FOLLOW.iter().any(|p| glob(p, line)) {
            leak_follow += 1;
        } else if !PROGRESS.iter().chain(STATFS).any(|p| glob(p, line)) {
            return None;
        }
    }
    if leaks > MAX_LEAKS || (leaks == 0 && leak_follow > 0) {
        return None;
    }
    if let [b_now, b_calc] = blocks.as_slice() {
        if b_now != b_calc {
            return None;
        }
    }
    // The statfs file: each leaked block is one dinode more and one free block fewer than
    // counted; what is left must be the same number of dinodes and free blocks (creates
    // or deletes it missed), and few.
    let lag = match (blocks.len(), free.as_slice(), dinodes.as_slice()) {
        (0, [], []) => 0,
        (2, [f_now, f_calc], [d_now, d_calc]) => {
            let d = d_now.checked_sub(*d_calc)?;
            if Some(d) != f_calc.checked_sub(*f_now) {
                return None;
            }
            leaks.checked_sub(d)?
        }
        _ => return None,
    };
    // Behind only: the lab's writers create files and never delete one, so a master
    // statfs ahead of the count has no such explanation.
    if !(0..=MAX_STATFS_LAG).contains(&lag) || (leaks == 0 && lag == 0) {
        return None;
    }
    let mut found = Vec::new();
    if leaks > 0 {
        found.push(format!(
            "{leaks} leaked inode block(s) (a create the fenced node never finished)"
        ));
    }
    if lag != 0 {
        found.push(format!(
            "a master statfs {lag} dinode(s) and as many blocks behind (the dead node's \
             last creates, never folded in)"
        ));
    }
    Some(found.join(" and "))
}

/// The most leaked inode blocks one death can explain (a create in flight per writer).
const MAX_LEAKS: i64 = 8;

/// The most creates a dead node can have left out of the master statfs file
/// and still count as that: the lab's writers make one file a second or so.
const MAX_STATFS_LAG: i64 = 64;

/// The first decimal number in `s`.
fn first_number(s: &str) -> Option<i64> {
    s.split_whitespace().next()?.parse().ok()
}

/// Whether `line` is `pattern`, each `*` in it standing for any text.
fn glob(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(p);
        }
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.is_empty()
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

#[cfg(test)]
mod tests {
    use super::leaked_inodes_only;

    /// A `gfs2-partition` run's report (2026-12-05): one leaked inode block.
    const LEAK: &str = include_str!("../../../tests/fsck-gfs2-leak.txt");
    /// A `gfs2-node-dies` run's report (CI, 2026-12-05): the master statfs 5 dinodes and 5
    /// free blocks behind, nothing else.
    const LAG: &str = include_str!("../../../tests/fsck-gfs2-statfs-lag.txt");
    /// A `gfs2-partition` run beside another scenario (2026-12-06): the master statfs 5
    /// behind, and pass1's progress (`\r14 percent complete.\r`) glued to the next line.
    const PROGRESS: &str = include_str!("../../../tests/fsck-gfs2-progress.txt");

    #[test]
    fn progress_printed_under_load_is_not_damage() {
        assert!(PROGRESS.contains("\r14 percent complete.\rReconciling"));
        assert_eq!(
            leaked_inodes_only(PROGRESS).as_deref(),
            Some(
                "a master statfs 5 dinode(s) and as many blocks behind (the dead node's last \
                 creates, never folded in)"
            )
        );
        // A progress line does not hide what follows it on the same line.
        let hidden = PROGRESS.replace(
            "complete.\rReconciling bitmaps.",
            "complete.\rRG #1 free count inconsistent: is 5 should be 6",
        );
        assert_eq!(leaked_inodes_only(&hidden), None);
    }

    #[test]
    fn a_statfs_behind_by_the_dead_nodes_creates_is_told_from_damage() {
        assert_eq!(
            leaked_inodes_only(LAG).as_deref(),
            Some(
                "a master statfs 5 dinode(s) and as many blocks behind (the dead node's last \
                 creates, never folded in)"
            )
        );
        // Dinodes and free blocks that disagree, a statfs ahead, or too far behind: not that.
        let cases: &[&[(&str, &str)]] = &[
            // dinodes and free blocks disagree
            &[("free:    84576 (0x14a60)", "free:    84577 (0x14a61)")],
            // ahead by 5 (a missed delete)
            &[
                ("dinodes: 124 (0x7c)", "dinodes: 134 (0x86)"),
                ("free:    84581 (0x14a65)", "free:    84571 (0x14a5b)"),
            ],
            // 75 behind
            &[
                ("dinodes: 124 (0x7c)", "dinodes: 54 (0x36)"),
                ("free:    84581 (0x14a65)", "free:    84651 (0x14aab)"),
            ],
            // the total differs
            &[(
                "blocks:  98276 (0x17fe4)\nfree:    84581",
                "blocks:  98277 (0x17fe5)\nfree:    84581",
            )],
            // resource group damage without a leak
            &[(
                "Starting pass2",
                "RG #8192 free count inconsistent: is 5 should be 6\nStarting pass2",
            )],
        ];
        for case in cases {
            let mut changed = LAG.to_string();
            for (from, to) in *case {
                assert!(changed.contains(from), "{from}");
                changed = changed.replace(from, to);
            }
            assert_eq!(leaked_inodes_only(&changed), None, "{case:?}");
        }
    }

    #[test]
    fn a_leaked_inode_block_is_told_from_damage() {
        assert_eq!(
            leaked_inodes_only(LEAK).as_deref(),
            Some("1 leaked inode block(s) (a create the fenced node never finished)")
        );
        let dirty = format!(
            "{LEAK}Journal #1 (\"journal0\") is dirty\nnot replaying due to the -n option.\n"
        );
        assert_eq!(leaked_inodes_only(&dirty), None);
        let named = format!("{LEAK}Directory entry 'node1.29' referencing inode 15573 (0x3cd5) in dir inode 15546 (0x3cba) block type 0: was previously marked invalid.\n");
        assert_eq!(leaked_inodes_only(&named), None);
        let statfs_only: String = LEAK
            .lines()
            .filter(|l| !l.contains("invalid inode"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            leaked_inodes_only(&statfs_only),
            None,
            "no leak, and a statfs whose dinodes and free blocks disagree"
        );
    }
}
