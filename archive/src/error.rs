//! The crate's single error type, [`ArchiveError`].
//!
//! Every message names the path (or image and byte offset) concerned and says
//! what the user can do next.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while writing, listing or extracting an image.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An entry handed to the writer is malformed (bad path, bad hardlink group...).
    #[error("invalid archive entry {path:?}: {reason}; fix the entry list passed to the writer")]
    InvalidEntry { path: String, reason: String },

    /// A host file referenced by an [`crate::EntryKind::File`] could not be read.
    #[error("cannot read {}: {source}; check that the file exists and is readable", path.display())]
    ReadSource { path: PathBuf, source: io::Error },

    /// A host file is not a regular file.
    #[error("{} is not a regular file; only regular files can be copied into the image", path.display())]
    NotRegularFile { path: PathBuf },

    /// A host file changed size between stat and copy.
    #[error(
        "{} changed while building the image (expected {expected} bytes, copied {actual}); \
         rerun the build once the file is no longer being modified",
        path.display()
    )]
    SourceChanged {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    /// A host file is too large for the newc format (32-bit sizes).
    #[error(
        "{} is {size} bytes, more than the 4 GiB a newc cpio entry can hold; leave it out of the image",
        path.display()
    )]
    FileTooLarge { path: PathBuf, size: u64 },

    /// No temporary file could be created next to the output.
    #[error("cannot create a temporary file in {}: {source}; choose another -o", dir.display())]
    TempFile { dir: PathBuf, source: io::Error },

    /// The output path names a directory.
    #[error("output {} is a directory; give a file path to -o", path.display())]
    OutputIsDir { path: PathBuf },

    /// Writing the output failed because the file system is full.
    #[error(
        "disk full while writing {}: {source}; free some space or choose another -o",
        path.display()
    )]
    DiskFull { path: PathBuf, source: io::Error },

    /// Writing the output failed for another reason.
    #[error("cannot write {}: {source}; choose another -o", path.display())]
    WriteOutput { path: PathBuf, source: io::Error },

    /// The image file could not be read.
    #[error("cannot read image {}: {source}; check the path and permissions", path.display())]
    ReadImage { path: PathBuf, source: io::Error },

    /// The image path names a device, FIFO or directory.
    #[error("{} is not a regular file (a device, FIFO or directory is not an image); give the path of an image file", path.display())]
    NotAnImage { path: PathBuf },

    /// The image is malformed, truncated or not an initramfs at all.
    #[error("{image}: {message} at byte {offset} of {location}; the image is corrupt or truncated, rebuild it")]
    Corrupt {
        image: String,
        location: String,
        offset: u64,
        message: String,
    },

    /// The image uses a compression this crate cannot read.
    #[error(
        "{image}: segment {segment} at byte {offset} is {format}-compressed, which is not supported; \
         recompress the image with zstd, gzip, xz or lz4"
    )]
    Unsupported {
        image: String,
        segment: usize,
        offset: u64,
        format: &'static str,
    },

    /// Decompressed content exceeded the safety cap.
    #[error(
        "{image}: decompressed content of segment {segment} exceeds {limit} bytes; \
         refusing to continue (possible decompression bomb)"
    )]
    TooLarge {
        image: String,
        segment: usize,
        limit: u64,
    },

    /// An entry would escape the extraction directory or is otherwise unsafe.
    #[error("unsafe archive {image}: entry {entry:?} {reason}; refusing to extract it")]
    Unsafe {
        image: String,
        entry: String,
        reason: String,
    },

    /// Creating something in the extraction directory failed.
    #[error("cannot extract entry {entry:?} to {}: {source}; check the target directory", path.display())]
    Extract {
        entry: String,
        path: PathBuf,
        source: io::Error,
    },
}

impl ArchiveError {
    /// Maps an I/O error on the output stream to [`ArchiveError::DiskFull`]
    /// when it is ENOSPC/EDQUOT and [`ArchiveError::WriteOutput`] otherwise.
    pub(crate) fn output(path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        let full = source.kind() == io::ErrorKind::StorageFull
            || source.kind() == io::ErrorKind::QuotaExceeded
            || matches!(
                source.raw_os_error(),
                Some(libc::ENOSPC) | Some(libc::EDQUOT)
            );
        if full {
            ArchiveError::DiskFull { path, source }
        } else {
            ArchiveError::WriteOutput { path, source }
        }
    }
}
