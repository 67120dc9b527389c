//! What a lab run boots: the kernel, the images (built in-process by the builder), the test
//! root tree (busybox, the agent, per-node `/etc/hostname` as a CDSL) and the disk images
//! made from it with `mkfs.ext4 -d` / `mkfs.ext3 -d` (no root, loop device or mount).

use crate::error::{LabError, Result};
use crate::run::topology::{LabNode, RootKind};
use std::path::{Path, PathBuf};
use std::process::Command;

const AGENT: &str = include_str!("agent.sh");

/// The kernel image for `kver` (from `/boot`, as Debian installs it).
pub fn kernel_image(kver: &str) -> Result<PathBuf> {
    let k = PathBuf::from(format!("/boot/vmlinuz-{kver}"));
    if k.exists() {
        Ok(k)
    } else {
        Err(LabError::Setup(format!(
            "kernel image {} not found; install linux-image-amd64 (or pass --kver)",
            k.display()
        )))
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let program = cmd.get_program().to_os_string();
    let out = cmd.output().map_err(|e| {
        LabError::spawn_failed(&program, e, |e| {
            LabError::Setup(format!("{what}: cannot run {program:?}: {e}"))
        })
    })?;
    if !out.status.success() {
        return Err(LabError::Setup(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Builds an image with the builder (in-process) and returns its path.
pub fn build_image(
    profile: &str,
    kver: &str,
    cluster: &Path,
    output: &Path,
    extra_args: &[String],
) -> Result<PathBuf> {
    let mut opts = srbuild_builder::BuildOptions::new(profile);
    opts.output = Some(output.to_path_buf());
    opts.kver = Some(kver.to_string());
    opts.cluster = Some(cluster.to_path_buf());
    opts.kernel_args = extra_args.to_vec();
    let report = srbuild_builder::build_image(&opts)
        .map_err(|e| LabError::Setup(format!("building the {profile} image: {e}")))?;
    println!("{}", report.summary());
    Ok(output.to_path_buf())
}

/// Assembles the test root tree in `tree` for `clients`; `shared` says whether every node
/// sees one tree (NFS) or its own copy (ext3 overlays).
pub fn root_tree(
    tree: &Path,
    kver: &str,
    cluster: &Path,
    clients: &[LabNode],
    shared: bool,
    wait_s: u64,
) -> Result<()> {
    if tree.exists() {
        std::fs::remove_dir_all(tree)
            .map_err(|e| LabError::io("cannot clear the root tree", tree, e))?;
    }
    let img = tree.with_extension("cpio");
    // The builder's resolver picks busybox and its links from the host; unpack its plan.
    let mut opts = srbuild_builder::BuildOptions::new("lab-root");
    opts.output = Some(img.clone());
    opts.kver = Some(kver.to_string());
    opts.compression = srbuild_builder::Compression::None;
    srbuild_builder::build_image(&opts)
        .map_err(|e| LabError::Setup(format!("building the root tree: {e}")))?;
    srbuild_archive::extract_image(&img, tree, false)
        .map_err(|e| LabError::Setup(format!("unpacking the root tree: {e}")))?;
    let _ = std::fs::remove_file(&img);
    for leftover in ["init", "etc/srbuild", "usr/lib/srbuild", "sysroot"] {
        let p = tree.join(leftover);
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
    let w = |rel: &str, text: &str, mode: u32| -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let p = tree.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| LabError::io("cannot create", parent, e))?;
        }
        std::fs::write(&p, text).map_err(|e| LabError::io("cannot write", &p, e))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| LabError::io("cannot chmod", &p, e))
    };
    // usr/sbin exists through the builder's merged-/usr links.
    w("usr/sbin/init", AGENT, 0o755)?;
    let names: Vec<String> = clients.iter().map(|c| c.name.clone()).collect();
    w("lab/expect", &format!("{}\n", names.join("\n")), 0o644)?;
    w(
        "lab/mode",
        if shared { "shared\n" } else { "local\n" },
        0o644,
    )?;
    w("lab/wait", &format!("{wait_s}\n"), 0o644)?;
    w("etc/hostname", "unconfigured\n", 0o644)?;
    // systemd-based initramfs images (dracut) refuse to switch into a root without it.
    w(
        "etc/os-release",
        "NAME=\"srbuild lab root\"\nID=srbuild-lab\nPRETTY_NAME=\"srbuild lab root\"\n",
        0o644,
    )?;
    w(
        "etc/cluster.toml",
        &std::fs::read_to_string(cluster).unwrap_or_default(),
        0o644,
    )?;
    for d in [
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "lab/seen",
        ".cdsl.local",
    ] {
        std::fs::create_dir_all(tree.join(d))
            .map_err(|e| LabError::io("cannot create", tree.join(d), e))?;
    }
    // Per-node /etc/hostname through srbuild's own CDSL tools.
    let ids: Vec<u32> = clients.iter().map(|c| c.id).collect();
    srbuild_cluster::cdsl::create_hostdependent(tree, "etc/hostname", &ids)
        .map_err(|e| LabError::Setup(format!("cdsl create etc/hostname: {e}")))?;
    for c in clients {
        srbuild_cluster::cdsl::write_node_file(
            tree,
            srbuild_cluster::cdsl::Tree::Node(c.id),
            "etc/hostname",
            format!("{}\n", c.name).as_bytes(),
        )
        .map_err(|e| LabError::Setup(format!("cdsl write etc/hostname for {}: {e}", c.name)))?;
    }
    Ok(())
}

/// `mkfs.<fs> -d SRC` into a fresh raw image of `size_mb`.
pub fn mkfs_from_dir(fs: &str, src: &Path, image: &Path, size_mb: u64, label: &str) -> Result<()> {
    let _ = std::fs::remove_file(image);
    let f = std::fs::File::create(image)
        .map_err(|e| LabError::io("cannot create disk image", image, e))?;
    f.set_len(size_mb << 20)
        .map_err(|e| LabError::io("cannot size disk image", image, e))?;
    drop(f);
    run(
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
    run(
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

/// Root kind's disk layout: the NFS server's data disk holds the tree under `/root`.
pub fn disks_for(kind: RootKind, work: &Path, tree: &Path) -> Result<PathBuf> {
    match kind {
        RootKind::Nfs => {
            let data = work.join("data");
            let _ = std::fs::remove_dir_all(&data);
            std::fs::create_dir_all(&data).map_err(|e| LabError::io("cannot create", &data, e))?;
            std::fs::rename(tree, data.join("root"))
                .map_err(|e| LabError::io("cannot move the root tree", tree, e))?;
            let img = work.join("nfs-data.img");
            mkfs_from_dir("ext4", &data, &img, 256, "labroot")?;
            Ok(img)
        }
        RootKind::Ext3 => {
            let img = work.join("ext3-base.img");
            mkfs_from_dir("ext3", tree, &img, 128, "labroot")?;
            Ok(img)
        }
    }
}
