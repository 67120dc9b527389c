//! The test root tree: the builder's plan written as a tree (or an unpacked Debian root),
//! the agent and what it is told (`/lab/*`), the cluster description, and per-node CDSLs.

use crate::error::{LabError, Result};
use crate::run::artifacts::{run_tool, write_file};
use crate::run::kinds::Check;
use crate::run::rootfs::RootFs;
use crate::run::topology::LabNode;
use std::path::Path;
use std::process::Command;

const AGENT: &str = include_str!("agent.sh");
const MMAP_CHECK: &str = include_str!("mmap-check.c");

/// What the test root's agent is told.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The nodes whose files every node must see (shared roots).
    pub expect: Vec<String>,
    pub shared: bool,
    /// Seconds to wait for the others' files.
    pub wait_s: u64,
    /// `/lab/checks`, one line each.
    pub checks: Vec<Check>,
    /// After passing, keep writing to the root (`LAB-BEAT` lines) for the fault scenario.
    pub beat: bool,
}

/// Assembles the test root tree in `tree` (which is replaced) for `clients`.
pub fn root_tree(
    tree: &Path,
    sysroot: &Path,
    kver: &str,
    cluster: &Path,
    clients: &[LabNode],
    agent: &AgentConfig,
    rootfs: RootFs,
) -> Result<()> {
    match rootfs {
        RootFs::Busybox => busybox_root(tree, sysroot, kver)?,
        RootFs::Debian(release) => {
            let release = release.unwrap_or_else(crate::run::releases::default_release);
            let tar =
                crate::run::rootfs::debian_tarball(&crate::run::rootfs::cache_dir(), release)?;
            crate::run::rootfs::unpack_debian(tree, &tar, AGENT, release)?;
        }
    }
    let w = |rel: &str, text: &str, mode: u32| write_file(tree, rel, text, mode);
    w("lab/expect", &lines(&agent.expect), 0o644)?;
    w(
        "lab/mode",
        if agent.shared { "shared\n" } else { "local\n" },
        0o644,
    )?;
    w("lab/wait", &format!("{}\n", agent.wait_s), 0o644)?;
    let checks: Vec<String> = agent.checks.iter().map(|c| c.to_string()).collect();
    w("lab/checks", &lines(&checks), 0o644)?;
    if agent.checks.contains(&Check::Mmap) {
        // A static helper for the writable shared mmap check (busybox has none).
        let src = tree.join("lab/mmap-check.c");
        w("lab/mmap-check.c", MMAP_CHECK, 0o644)?;
        run_tool(
            Command::new("cc")
                .args(["-static", "-Os", "-o"])
                .arg(tree.join("usr/bin/lab-mmap"))
                .arg(&src),
            "cc -static lab-mmap",
        )?;
    }
    if agent.beat {
        w("lab/beat", "1\n", 0o644)?;
    }
    let description =
        std::fs::read_to_string(cluster).map_err(|e| LabError::io("cannot read", cluster, e))?;
    w("etc/cluster.toml", &description, 0o644)?;
    for d in ["lab/seen", ".cdsl.local"] {
        std::fs::create_dir_all(tree.join(d))
            .map_err(|e| LabError::io("cannot create", tree.join(d), e))?;
    }
    // A relative link made host-dependent must still resolve on a node (the agent reads it
    // through /.cdsl.local).
    w("lab/shared-data", "lab shared data\n", 0o644)?;
    std::os::unix::fs::symlink("../lab/shared-data", tree.join("etc/lab-link"))
        .map_err(|e| LabError::io("cannot create", tree.join("etc/lab-link"), e))?;
    // Per-node /etc/hostname through srbuild's own CDSL tools.
    let ids: Vec<u32> = clients.iter().map(|c| c.id).collect();
    srbuild_cluster::cdsl::create_hostdependent(tree, "etc/lab-link", &ids).map_err(|source| {
        LabError::Cdsl {
            what: "cdsl create etc/lab-link".into(),
            source,
        }
    })?;
    if rootfs.is_debian() {
        // hostname, machine-id and /var/log per node, as a real site would prepare it.
        return crate::run::rootfs::make_hostdependent(tree, clients);
    }
    srbuild_cluster::cdsl::create_hostdependent(tree, "etc/hostname", &ids).map_err(|source| {
        LabError::Cdsl {
            what: "cdsl create etc/hostname".into(),
            source,
        }
    })?;
    for c in clients {
        srbuild_cluster::cdsl::write_node_file(
            tree,
            srbuild_cluster::cdsl::Tree::Node(c.id),
            "etc/hostname",
            format!("{}\n", c.name).as_bytes(),
        )
        .map_err(|source| LabError::Cdsl {
            what: format!("cdsl write etc/hostname for {}", c.name),
            source,
        })?;
    }
    Ok(())
}

/// The fast root: busybox and its links from the sysroot (the builder's resolver, written
/// straight into the tree), the agent as `/sbin/init`.
fn busybox_root(tree: &Path, sysroot: &Path, kver: &str) -> Result<()> {
    if tree.exists() {
        std::fs::remove_dir_all(tree)
            .map_err(|e| LabError::io("cannot clear the root tree", tree, e))?;
    }
    let mut opts = srbuild_builder::BuildOptions::new("lab-root");
    opts.sysroot = sysroot.to_path_buf();
    opts.kver = Some(kver.to_string());
    opts.runtime = false;
    let planned =
        srbuild_builder::tree::build_tree(&opts, tree).map_err(|source| LabError::Build {
            what: format!("building the root tree in {}", tree.display()),
            source,
        })?;
    for w in &planned.warnings {
        println!("lab: warning: root tree: {w}");
    }
    let w = |rel: &str, text: &str, mode: u32| write_file(tree, rel, text, mode);
    // usr/sbin exists through the builder's merged-/usr links.
    w("usr/sbin/init", AGENT, 0o755)?;
    w("etc/hostname", "unconfigured\n", 0o644)?;
    // systemd-based initramfs images (dracut) refuse to switch into a root without it.
    w(
        "etc/os-release",
        "NAME=\"srbuild lab root\"\nID=srbuild-lab\nPRETTY_NAME=\"srbuild lab root\"\n",
        0o644,
    )?;
    Ok(())
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}
