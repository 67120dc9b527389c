//! What a lab run boots: the kernel, the images (built in-process by the builder, warnings
//! printed), the test root tree (the builder's plan written as a tree, plus the agent, its
//! checks and a per-node `/etc/hostname` CDSL) and the disk images made from it with
//! `mkfs.ext4 -d` / `mkfs.ext3 -d`, `qemu-img` and the kinds' own formatters.

use crate::error::{LabError, Result};
use crate::run::rootfs::RootFs;
use crate::run::topology::LabNode;
use std::path::{Path, PathBuf};
use std::process::Command;

const AGENT: &str = include_str!("agent.sh");
const MMAP_CHECK: &str = include_str!("mmap-check.c");

/// The kernel image for `kver` (from `/boot`, as Debian installs it).
pub fn kernel_image(kver: &str) -> Result<PathBuf> {
    let k = PathBuf::from(format!("/boot/vmlinuz-{kver}"));
    if k.exists() {
        Ok(k)
    } else {
        Err(LabError::Invalid(format!(
            "kernel image {} not found; install linux-image-amd64 (or pass --kver)",
            k.display()
        )))
    }
}

/// Runs a host tool; a missing tool names its package, a failure carries its stderr.
pub fn run_tool(cmd: &mut Command, what: &str) -> Result<()> {
    let program = cmd.get_program().to_os_string();
    let out = cmd.output().map_err(|e| {
        LabError::spawn_failed(&program, e, |e| LabError::Tool {
            what: what.to_string(),
            stderr: format!("cannot run {program:?}: {e}"),
        })
    })?;
    if !out.status.success() {
        return Err(LabError::Tool {
            what: what.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Builds an image with the builder (in-process), prints its summary and warnings, and
/// returns its path.
pub fn build_image(
    profile: &str,
    kver: &str,
    cluster: Option<&Path>,
    output: &Path,
) -> Result<PathBuf> {
    build_image_with(profile, kver, cluster, output, None)
}

/// [`build_image`], with the client xlators taken from a GlusterFS volfile when given.
fn build_image_with(
    profile: &str,
    kver: &str,
    cluster: Option<&Path>,
    output: &Path,
    volfile: Option<&Path>,
) -> Result<PathBuf> {
    let mut opts = srbuild_builder::BuildOptions::new(profile);
    opts.output = Some(output.to_path_buf());
    opts.kver = Some(kver.to_string());
    opts.cluster = cluster.map(Path::to_path_buf);
    if let Some(v) = volfile {
        opts.add_input("gluster-volfile", v);
    }
    let from = volfile
        .map(|v| format!(" from the volfile {}", v.display()))
        .unwrap_or_default();
    let report = srbuild_builder::build_image(&opts).map_err(|source| LabError::Build {
        what: format!("building the {profile} image{from}"),
        source,
    })?;
    println!("{}{from}", report.summary());
    for w in &report.warnings {
        println!("lab: warning: {profile} image: {w}");
    }
    Ok(output.to_path_buf())
}

/// The lines between `LAB-VOLFILE-BEGIN` and `LAB-VOLFILE-END` on a console, without the
/// kernel's messages that may be interleaved (`[   12.345678] …`).
pub fn volfile_from_console(log: &str) -> Option<String> {
    let mut lines = log.lines().map(|l| l.trim_end_matches('\r'));
    lines
        .by_ref()
        .find(|l| l.trim_end().ends_with("LAB-VOLFILE-BEGIN"))?;
    let mut out = String::new();
    for l in lines {
        if l.trim_end().ends_with("LAB-VOLFILE-END") {
            return Some(out);
        }
        if crate::console::split_timestamp(l).0.is_none() {
            out.push_str(l);
            out.push('\n');
        }
    }
    None
}

/// Builds the clients' image from the volfile their server printed.
pub fn image_from_volfile(i: &crate::run::plan::VolfileImage) -> Result<()> {
    let log = std::fs::read_to_string(&i.server_log)
        .map_err(|e| LabError::io("cannot read", &i.server_log, e))?;
    let text = volfile_from_console(&log).ok_or_else(|| LabError::Role {
        node: "server".into(),
        why: "it said it was ready but printed no client volfile (LAB-VOLFILE-BEGIN … END)".into(),
        log: i.server_log.clone(),
    })?;
    std::fs::write(&i.volfile, text).map_err(|e| LabError::io("cannot write", &i.volfile, e))?;
    build_image_with(
        &i.profile,
        &i.kver,
        Some(&i.cluster),
        &i.output,
        Some(&i.volfile),
    )?;
    Ok(())
}

/// A fresh corosync authkey (256 random bytes, mode 0400), as corosync-keygen makes.
pub fn authkey(path: &Path) -> Result<()> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut key = [0u8; 256];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| LabError::io("cannot read", "/dev/urandom", e))?;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .and_then(|mut f| f.write_all(&key))
        .map_err(|e| LabError::io("cannot write", path, e))
}

/// What the test root's agent is told.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The nodes whose files every node must see (shared roots).
    pub expect: Vec<String>,
    pub shared: bool,
    /// Seconds to wait for the others' files.
    pub wait_s: u64,
    /// `/lab/checks`: `fstype T`, `daemon NAME`, `quorum`, `o2cb NAME`.
    pub checks: Vec<String>,
    /// After passing, keep writing to the root (`LAB-BEAT` lines) for the fault scenario.
    pub beat: bool,
}

/// Assembles the test root tree in `tree` (which is replaced) for `clients`.
pub fn root_tree(
    tree: &Path,
    kver: &str,
    cluster: &Path,
    clients: &[LabNode],
    agent: &AgentConfig,
    rootfs: RootFs,
) -> Result<()> {
    match rootfs {
        RootFs::Busybox => busybox_root(tree, kver)?,
        RootFs::Debian => {
            let tar = crate::run::rootfs::debian_tarball(&crate::run::rootfs::cache_dir())?;
            crate::run::rootfs::unpack_debian(tree, &tar, AGENT)?;
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
    w("lab/checks", &lines(&agent.checks), 0o644)?;
    if agent.checks.iter().any(|c| c == "mmap") {
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
    if rootfs == RootFs::Debian {
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

/// The fast root: busybox and its links from the host (the builder's resolver, written
/// straight into the tree), the agent as `/sbin/init`.
fn busybox_root(tree: &Path, kver: &str) -> Result<()> {
    if tree.exists() {
        std::fs::remove_dir_all(tree)
            .map_err(|e| LabError::io("cannot clear the root tree", tree, e))?;
    }
    let mut opts = srbuild_builder::BuildOptions::new("lab-root");
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

/// Writes `text` as `tree/rel` with `mode`, creating its parent directories.
pub(crate) fn write_file(tree: &Path, rel: &str, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let p = tree.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LabError::io("cannot create", parent, e))?;
    }
    std::fs::write(&p, text).map_err(|e| LabError::io("cannot write", &p, e))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| LabError::io("cannot chmod", &p, e))
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

/// A fresh sparse raw image of `size_mb`.
pub fn raw_image(image: &Path, size_mb: u64) -> Result<()> {
    let _ = std::fs::remove_file(image);
    let f = std::fs::File::create(image)
        .map_err(|e| LabError::io("cannot create disk image", image, e))?;
    f.set_len(size_mb << 20)
        .map_err(|e| LabError::io("cannot size disk image", image, e))
}

/// `mkfs.<fs> -d SRC` into a fresh raw image of `size_mb`.
pub fn mkfs_from_dir(fs: &str, src: &Path, image: &Path, size_mb: u64, label: &str) -> Result<()> {
    raw_image(image, size_mb)?;
    run_tool(
        Command::new(format!("mkfs.{fs}"))
            .args(["-q", "-F", "-L", label, "-d"])
            .arg(src)
            .arg(image)
            .env("E2FSPROGS_FAKE_TIME", "0"),
        &format!("mkfs.{fs} -d {}", src.display()),
    )
}

/// A qcow2 overlay over a raw base image (each ext3 node writes only its own copy).
pub fn overlay(base: &Path, overlay: &Path) -> Result<()> {
    let _ = std::fs::remove_file(overlay);
    run_tool(
        Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(
                base.canonicalize()
                    .map_err(|e| LabError::io("base image", base, e))?,
            )
            .arg(overlay),
        "qemu-img create (overlay)",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_volfile_is_cut_from_the_console_without_kernel_lines() {
        let log = "srbuild: gluster-server: client volfile names 2 xlators\r\nLAB-VOLFILE-BEGIN\r\nvolume a\r\n    type protocol/client\r\n[   12.345678] random: crng init done\r\nend-volume\r\nLAB-VOLFILE-END\r\nLAB-SERVER-READY\r\n";
        assert_eq!(
            super::volfile_from_console(log).unwrap(),
            "volume a\n    type protocol/client\nend-volume\n"
        );
        assert_eq!(
            super::volfile_from_console("LAB-VOLFILE-BEGIN\nvolume a\n"),
            None
        );
        assert_eq!(super::volfile_from_console("nothing"), None);
    }
}
