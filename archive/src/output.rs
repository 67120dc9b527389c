//! Atomic creation of the image file ([`write_image`]): temporary file next
//! to the output, compress + write, fsync, chmod 0644, rename over the target.

use std::fs::{self, File, Permissions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::compress::{compress_into, Compression};
use crate::entry::Entry;
use crate::error::ArchiveError;
use crate::write::{write_cpio, CountingWriter};

/// Sizes reported after writing an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Number of entries written (excluding the trailer).
    pub entries: usize,
    /// Size of the uncompressed cpio archive.
    pub uncompressed_bytes: u64,
    /// Size of the image file.
    pub compressed_bytes: u64,
}

/// Replaces the placeholder path of output errors by the real output path.
fn at_output(output: &Path, err: ArchiveError) -> ArchiveError {
    match err {
        ArchiveError::WriteOutput { source, .. } | ArchiveError::DiskFull { source, .. } => {
            ArchiveError::output(output, source)
        }
        other => other,
    }
}

/// Writes a newc cpio of `entries` (already sorted by path, parents
/// included) compressed with `compression`, atomically to `output`.
///
/// On failure the previous file at `output` (if any) is left untouched and
/// no temporary file remains.
pub fn write_image(
    output: &Path,
    entries: &[Entry],
    compression: Compression,
    mtime: u32,
) -> Result<WriteStats, ArchiveError> {
    if output.is_dir() {
        return Err(ArchiveError::OutputIsDir {
            path: output.to_path_buf(),
        });
    }
    if output.file_name().is_none() {
        return Err(ArchiveError::OutputIsDir {
            path: output.to_path_buf(),
        });
    }
    let dir: PathBuf = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".srbuild-tmp-")
        .tempfile_in(&dir)
        .map_err(|source| ArchiveError::TempFile {
            dir: dir.clone(),
            source,
        })?;
    // From here on, dropping `tmp` on an error path deletes the temporary file.
    let out_err = |e| ArchiveError::output(output, e);
    let file: &File = tmp.as_file();
    let mut counted = CountingWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let uncompressed = compress_into(compression, &mut counted, |w| write_cpio(entries, mtime, w))
        .map_err(|e| at_output(output, e))?;
    counted.flush().map_err(out_err)?;
    let compressed = counted.count;
    drop(counted.into_inner());
    file.set_permissions(Permissions::from_mode(0o644))
        .map_err(out_err)?;
    file.sync_all().map_err(out_err)?;
    tmp.persist(output).map_err(|e| out_err(e.error))?;
    // Make the rename durable too; failure here does not undo a good image.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(WriteStats {
        entries: entries.len(),
        uncompressed_bytes: uncompressed,
        compressed_bytes: compressed,
    })
}

/// Reads a whole image file, mapping errors to [`ArchiveError::ReadImage`].
pub(crate) fn read_whole(path: &Path) -> Result<Vec<u8>, ArchiveError> {
    fs::read(path).map_err(|source| ArchiveError::ReadImage {
        path: path.to_path_buf(),
        source,
    })
}
