//! GlusterFS bricks filled on the host: the server role's data disk for a tree too big to
//! fill under TCG (a Debian root: 380-430 s through the server's own FUSE mount). A real
//! glusterd and FUSE client on the host fill a replica-2 volume into two bricks on a fresh
//! ext4 image (`gluster-fill.sh`), inside new mount, network and PID namespaces: nothing
//! leaves this machine, the host's own glusterd state is never touched, and no process of
//! the fill outlives it. The server role then makes a volume of those bricks and serves
//! it without a fill of its own (`modules/gluster-server`).

use crate::error::{LabError, Result};
use crate::run::artifacts::{raw_image, run_tool};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The fill, run by `sh` inside the namespaces; its arguments are the image and the tree.
const FILL_SH: &str = include_str!("gluster-fill.sh");

/// The host commands the fill runs (`lab/src/host_tools.rs` names their packages).
pub const TOOLS: &[&str] = &[
    "mkfs.ext4",
    "unshare",
    "ip",
    "glusterd",
    "gluster",
    "glusterfs",
    "setfattr",
    "losetup",
];

/// Why the fill needs root, for the error a user sees without it.
const NEEDS_ROOT: &str = "a Debian root on glusterfs is filled on the host by glusterd in \
    private namespaces, which needs root (the bricks' trusted.* attributes, a loop mount): \
    run the lab as root, or use --rootfs busybox";

/// The longest a fill may take (about 25 s for a Debian root on a 2-core machine).
const FILL_LIMIT: Duration = Duration::from_secs(600);

/// Runs `cmd` to its end, or kills it once `limit` has passed: an error either way names
/// `what` and the command's last words.
fn run_bounded(cmd: Command, what: &str, limit: Duration) -> Result<()> {
    let o = crate::process::run_bounded(cmd, limit).map_err(|e| match e {
        LabError::Tool { stderr, .. } => LabError::Tool {
            what: what.to_string(),
            stderr,
        },
        e => e,
    })?;
    if !o.status.success() {
        return Err(LabError::Tool {
            what: what.to_string(),
            stderr: o.stderr.trim().to_string(),
        });
    }
    Ok(())
}

/// Whether this process may fill bricks (it must be root): checked by the lab before it
/// builds the tree, and again by [`fill`].
pub fn may_fill() -> Result<()> {
    if rustix::process::geteuid().as_raw() != 0 {
        return Err(LabError::Invalid(NEEDS_ROOT.into()));
    }
    Ok(())
}

fn absolute(p: &Path) -> Result<std::path::PathBuf> {
    std::path::absolute(p).map_err(|e| LabError::io("cannot make an absolute path of", p, e))
}

/// A fresh ext4 image of `size_mb` labelled `label` at `image`, whose `/bricks/b1` and
/// `/bricks/b2` hold a replica-2 volume filled with `tree`.
pub fn fill(tree: &Path, image: &Path, size_mb: u64, label: &str) -> Result<()> {
    may_fill()?;
    raw_image(image, size_mb)?;
    run_tool(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", label])
            .arg(image)
            .env("E2FSPROGS_FAKE_TIME", "0"),
        "mkfs.ext4 (glusterfs bricks)",
    )?;
    let t0 = std::time::Instant::now();
    let what = format!(
        "filling the glusterfs bricks of {} with {}",
        image.display(),
        tree.display()
    );
    let mut fill = Command::new("unshare");
    fill.args([
        "--mount",
        "--net",
        "--pid",
        "--fork",
        // unshare's death (ours, or the deadline's kill) ends the namespace's PID 1, and
        // with it every process of the fill and its mounts.
        "--kill-child",
        "--mount-proc",
        "--propagation",
        "private",
        "sh",
        "-c",
        FILL_SH,
        "gluster-fill",
    ])
    // Absolute, so the script does not depend on where it changes directory.
    .arg(absolute(image)?)
    .arg(absolute(tree)?);
    run_bounded(fill, &what, FILL_LIMIT)?;
    println!(
        "lab: glusterfs bricks filled on the host in {:.1} s ({})",
        t0.elapsed().as_secs_f64(),
        image.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fill_stays_in_its_namespaces_and_gives_the_bricks_up() {
        let s = super::FILL_SH;
        // Its own loopback address, never a host's.
        assert!(s.contains("ip addr add \"$addr/32\" dev lo"));
        // /run (glusterd's socket, the fill's mount points), /tmp and glusterd's state on
        // tmpfs over the host's directories, before glusterd starts.
        let tmpfs = s
            .find("for d in /run /tmp /var/lib/glusterd /var/log/glusterfs; do")
            .expect("the tmpfs loop");
        assert!(tmpfs < s.find("glusterd -p").unwrap());
        assert!(s.contains("work=/run/"));
        // The tree and the image are taken before the tmpfs mounts, which may hide them.
        let cd = s.find("cd -P -- \"$tree\"").expect("cd -P to the tree");
        let lo = s
            .find("losetup --find --show -- \"$image\"")
            .expect("losetup");
        assert!(
            lo < cd && cd < tmpfs,
            "losetup, then cd (both paths may be relative)"
        );
        assert!(
            !s.contains("cd \"$tree\""),
            "the tree is reached once, before the mounts"
        );
        // Marked whole as the very last change to the disk.
        let mark = s.find(": >\"$work/disk/bricks/.srbuild-filled\"").unwrap();
        assert!(mark > s.find("setfattr -x").unwrap());
        assert!(mark < s.find("umount \"$work/disk\"").unwrap());
        // The server makes a new volume of the bricks: the old identity must go.
        assert!(s.contains("setfattr -x trusted.glusterfs.volume-id"));
        assert!(s.contains(".glusterfs-anonymous-inode-"));
    }

    #[test]
    fn every_fill_tool_has_its_package_named() {
        for t in super::TOOLS {
            assert!(
                crate::host_tools::TOOLS.iter().any(|h| h.command == *t),
                "{t} is not in host_tools::TOOLS"
            );
            assert!(
                super::FILL_SH.contains(&format!("{t} ")) || *t == "mkfs.ext4" || *t == "unshare",
                "{t} unused"
            );
        }
    }

    #[test]
    fn a_fill_past_its_limit_is_killed_and_named() {
        let t = std::time::Instant::now();
        let e = super::run_bounded(
            {
                let mut c = std::process::Command::new("sh");
                c.args(["-c", "echo started >&2; exec sleep 30"]);
                c
            },
            "a test fill",
            std::time::Duration::from_millis(300),
        )
        .unwrap_err()
        .to_string();
        assert!(t.elapsed().as_secs() < 10, "not killed: {:?}", t.elapsed());
        assert!(
            e.contains("a test fill")
                && e.contains("still running after 0.3s; killed")
                && e.contains("started"),
            "{e}"
        );
        let e = super::run_bounded(
            {
                let mut c = std::process::Command::new("sh");
                c.args(["-c", "echo no such brick >&2; exit 3"]);
                c
            },
            "a test fill",
            std::time::Duration::from_secs(30),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no such brick"), "{e}");
        super::run_bounded(
            std::process::Command::new("true"),
            "a test fill",
            std::time::Duration::from_secs(30),
        )
        .unwrap();
    }
}
