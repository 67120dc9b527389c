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
    // Streams: each entry is printed as it is read, so memory stays bounded
    // however large the image inflates.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    // A closed pipe (`| head`) ends the listing quietly; any other write error is one.
    let mut write_error: Option<std::io::Error> = None;
    let listed = srbuild_archive::for_each_entry(&a.file, |e| {
        writeln!(out, "{}", srbuild_archive::format_listing(e)).map_err(|source| {
            write_error = Some(std::io::Error::new(source.kind(), source.to_string()));
            srbuild_archive::ArchiveError::ReadImage {
                path: a.file.clone(),
                source,
            }
        })
    });
    let written = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write the listing to stdout: {e}"))
        }
        _ => Ok(()),
    };
    if let Some(e) = write_error {
        return written(Err(e));
    }
    listed?;
    written(out.flush())
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
    let hardlinks = if stats.hardlinks > 0 {
        format!(" ({} of them hardlinks)", stats.hardlinks)
    } else {
        String::new()
    };
    println!(
        "srbuild: extracted {} files{hardlinks}, {} directories, {} symlinks, {} device nodes into {}{}",
        stats.files,
        stats.dirs,
        stats.symlinks,
        stats.devices,
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
