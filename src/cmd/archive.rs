//! `srbuild ls` and `srbuild extract`.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  srbuild ls initrd-nfs-6.1.0-56-amd64.img\n  srbuild ls /boot/initrd.img-6.1.0-56-amd64 | grep '\\.ko$'"
)]
pub struct LsArgs {
    /// Image file (zstd, gzip, xz, lz4 or uncompressed; several segments allowed)
    file: PathBuf,
}

pub fn ls(a: LsArgs) -> Result<()> {
    use std::io::Write;
    let entries = srbuild_archive::list_image(&a.file)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in &entries {
        if writeln!(out, "{}", srbuild_archive::format_listing(e)).is_err() {
            return Ok(()); // closed pipe (| head)
        }
    }
    let _ = out.flush();
    Ok(())
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  srbuild extract initrd-nfs-6.1.0-56-amd64.img /tmp/nfs-image\n\nDevice nodes are created only when running as root; entries that would land outside DIR (through '..' or a symlink) stop the extraction."
)]
pub struct ExtractArgs {
    /// Image file
    file: PathBuf,
    /// Target directory (created if missing)
    dir: PathBuf,
}

pub fn extract(a: ExtractArgs) -> Result<()> {
    // Device nodes are created only when running as root.
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let stats = srbuild_archive::extract_image(&a.file, &a.dir, root)?;
    println!(
        "srbuild: extracted {} files, {} directories, {} symlinks into {}{}",
        stats.files,
        stats.dirs,
        stats.symlinks,
        a.dir.display(),
        if stats.skipped_devices > 0 {
            format!(
                " ({} device nodes skipped: not root)",
                stats.skipped_devices
            )
        } else {
            String::new()
        }
    );
    Ok(())
}
