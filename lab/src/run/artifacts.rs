//! Host-side tools a lab run's artifacts are made with: the kernel's path, images built
//! in-process by the builder (warnings printed), host commands (`mkfs.* -d`, `qemu-img`),
//! raw disks, the corosync authkey, and a file cut from a console. Leaf utilities: what to
//! make is decided by the plan, made by [`crate::run::materialize`].

use crate::error::{LabError, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel image for `kver` in `sysroot` (from its `/boot`, as Debian installs it).
pub fn kernel_image(sysroot: &Path, kver: &str) -> Result<PathBuf> {
    let k = sysroot.join(format!("boot/vmlinuz-{kver}"));
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
        crate::host_tools::spawn_failed(&program, e, |e| LabError::Tool {
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

/// Builds an image with the builder (in-process) from `sysroot`, prints its summary and
/// warnings, and returns its path; with a module input (`srbuild image --input NAME=FILE`) when given:
/// what a server printed for the clients' image.
pub fn build_image_with(
    profile: &str,
    (sysroot, kver): (&Path, &str),
    cluster: Option<&Path>,
    output: &Path,
    input: Option<(&str, &Path)>,
) -> Result<PathBuf> {
    let mut opts = srbuild_builder::BuildOptions::new(profile);
    opts.sysroot = sysroot.to_path_buf();
    opts.output = Some(output.to_path_buf());
    opts.kver = Some(kver.to_string());
    opts.cluster = cluster.map(Path::to_path_buf);
    if let Some((name, file)) = input {
        opts.add_input(name, file);
    }
    let from = input
        .map(|(name, file)| format!(" with {name}={}", file.display()))
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

/// The root image of `tree` at `output`, as `srbuild rootimage` makes it (gzip, mode
/// 0644), without what `exclude` names; prints its summary and warnings and returns its
/// SHA-256 (the clients' `srbuild.root_sha256=`).
pub fn root_image(tree: &Path, output: &Path, exclude: &[String]) -> Result<String> {
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).map_err(|e| LabError::io("cannot create", dir, e))?;
    }
    let m = srbuild_builder::rootimage::build_root_image(
        tree,
        output,
        srbuild_archive::Compression::Gzip,
        None,
        exclude,
    )
    .map_err(|source| LabError::Build {
        what: format!("making the root image of {}", tree.display()),
        source,
    })?;
    println!(
        "{}: {} entries, {} bytes ({} uncompressed, {}); srbuild.root_sha256={}",
        output.display(),
        m.sizes.entries,
        m.sizes.image_bytes,
        m.sizes.uncompressed_bytes,
        m.compression,
        m.image_sha256
    );
    for w in &m.warnings {
        println!("lab: warning: root image: {w}");
    }
    Ok(m.image_sha256)
}

/// The lines between a line ending in `begin` and one ending in `end` on a console,
/// without the kernel's messages that may be interleaved (`[   12.345678] …`).
pub fn cut_from_console(log: &str, begin: &str, end: &str) -> Option<String> {
    let mut lines = log.lines().map(|l| l.trim_end_matches('\r'));
    lines.by_ref().find(|l| l.trim_end().ends_with(begin))?;
    let mut out = String::new();
    for l in lines {
        if l.trim_end().ends_with(end) {
            return Some(out);
        }
        if crate::console::split_timestamp(l).0.is_none() {
            out.push_str(l);
            out.push('\n');
        }
    }
    None
}

/// A fresh corosync authkey (256 random bytes, mode 0400), as corosync-keygen makes.
pub fn authkey(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut key = [0u8; 256];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| LabError::io("cannot read", "/dev/urandom", e))?;
    srbuild_fsio::write_file(path, &key, 0o400, None)
        .map_err(|e| LabError::io("cannot write", path, e))
}

/// Writes `text` as `tree/rel` with `mode`, creating its parent directories.
pub(crate) fn write_file(tree: &Path, rel: &str, text: &str, mode: u32) -> Result<()> {
    let p = tree.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LabError::io("cannot create", parent, e))?;
    }
    srbuild_fsio::write_file(&p, text.as_bytes(), mode, None)
        .map_err(|e| LabError::io("cannot write", &p, e))
}

/// A fresh sparse raw image of `size_mb`.
pub fn raw_image(image: &Path, size_mb: u64) -> Result<()> {
    let f = srbuild_fsio::AtomicFile::create(image)
        .map_err(|e| LabError::io("cannot create disk image", image, e))?;
    f.file()
        .set_len(size_mb << 20)
        .and_then(|()| f.commit(0o644, None))
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
    const B: &str = "LAB-VOLFILE-BEGIN";
    const E: &str = "LAB-VOLFILE-END";

    #[test]
    fn the_volfile_is_cut_from_the_console_without_kernel_lines() {
        let log = "srbuild: gluster-server: client volfile names 2 xlators\r\nLAB-VOLFILE-BEGIN\r\nvolume a\r\n    type protocol/client\r\n[   12.345678] random: crng init done\r\nend-volume\r\nLAB-VOLFILE-END\r\nLAB-SERVER-READY\r\n";
        assert_eq!(
            super::cut_from_console(log, B, E).unwrap(),
            "volume a\n    type protocol/client\nend-volume\n"
        );
        assert_eq!(
            super::cut_from_console("LAB-VOLFILE-BEGIN\nvolume a\n", B, E),
            None
        );
        assert_eq!(super::cut_from_console("nothing", B, E), None);
    }
}
