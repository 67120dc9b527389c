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

/// The fill, run by `sh` inside the namespaces; its arguments are the image, the tree and a
/// scratch directory.
const FILL_SH: &str = include_str!("gluster-fill.sh");

/// Why the fill needs root, for the error a user sees without it.
const NEEDS_ROOT: &str = "a Debian root on glusterfs is filled on the host by glusterd in \
    private namespaces, which needs root (the bricks' trusted.* attributes, a loop mount): \
    run the lab as root, or use --rootfs busybox";

/// A fresh ext4 image of `size_mb` labelled `label` at `image`, whose `/bricks/b1` and
/// `/bricks/b2` hold a replica-2 volume filled with `tree`.
pub fn fill(tree: &Path, image: &Path, size_mb: u64, label: &str) -> Result<()> {
    if rustix::process::geteuid().as_raw() != 0 {
        return Err(LabError::Invalid(NEEDS_ROOT.into()));
    }
    raw_image(image, size_mb)?;
    run_tool(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", label])
            .arg(image)
            .env("E2FSPROGS_FAKE_TIME", "0"),
        "mkfs.ext4 (glusterfs bricks)",
    )?;
    let scratch = tempfile::Builder::new()
        .prefix("gluster-fill.")
        .tempdir_in(image.parent().unwrap_or(Path::new(".")))
        .map_err(|e| LabError::io("cannot create a scratch directory next to", image, e))?;
    let t0 = std::time::Instant::now();
    run_tool(
        Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "sh",
                "-c",
                FILL_SH,
                "gluster-fill",
            ])
            .arg(image)
            .arg(tree)
            .arg(scratch.path()),
        &format!(
            "filling the glusterfs bricks of {} with {}",
            image.display(),
            tree.display()
        ),
    )?;
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
        // glusterd's state on tmpfs, over the host's directories.
        for d in ["/var/lib/glusterd", "/var/log/glusterfs", "/run/gluster"] {
            assert!(s.contains(d), "{d}");
        }
        // The server makes a new volume of the bricks: the old identity must go.
        assert!(s.contains("setfattr -x trusted.glusterfs.volume-id"));
        assert!(s.contains(".glusterfs-anonymous-inode-"));
    }
}
