//! Atomic creation of the image file ([`write_image`]): temporary file next
//! to the output, compress + write, fsync, chmod, rename over the target, all through
//! `srbuild_fsio::AtomicFile` (by descriptor, never by path after the create).
//!
//! The mode is 0600 for a new image (an image can carry a cluster's identity and keys;
//! dracut writes with umask 077 for the same reason), the mode of the image it replaces, or
//! the one asked for.

use srbuild_fsio::AtomicFile;
use std::ffi::CString;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Once;

use crate::compress::{compress_into, Compression};
use crate::entry::Entry;
use crate::error::ArchiveError;
use crate::write::{write_cpio, CountingWriter};
use sha2::{Digest, Sha256};

/// Sizes reported after writing an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Number of entries written (excluding the trailer).
    pub entries: usize,
    /// Size of the uncompressed cpio archive.
    pub uncompressed_bytes: u64,
    /// Size of the image file.
    pub compressed_bytes: u64,
    /// SHA-256 of the image file's bytes, hashed as they were written (never read back by
    /// path, where another writer of the directory could have replaced the file).
    pub sha256: [u8; 32],
}

/// Prefix of our temporary files: `.srbuild-tmp-<pid>-<random>`.
const TMP_PREFIX: &str = ".srbuild-tmp-";

/// The temporary image being written, for the signal handler (a leaked C string: the
/// handler may read it at any moment, so it is never freed).
static CURRENT_TMP: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

/// Makes SIGINT, SIGTERM and SIGHUP (those not ignored) remove the temporary image being
/// written. It does not end the process: whoever owns the process decides that (the
/// `srbuild image` command then lets the signal take its default course; it calls this
/// first, so the file goes before). A library user that wants this calls it itself.
pub fn install_signal_cleanup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for sig in caught_signals() {
            // SAFETY: the action only loads an atomic and calls unlink(2), both
            // async-signal-safe.
            let _ = unsafe {
                signal_hook::low_level::register(sig, || {
                    let p = CURRENT_TMP.load(Ordering::SeqCst);
                    if !p.is_null() {
                        libc::unlink(p);
                    }
                })
            };
        }
    });
}

/// SIGINT, SIGTERM and SIGHUP, less those the process ignores (`nohup`, a background job):
/// those must stay ignored.
pub fn caught_signals() -> Vec<i32> {
    [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ]
    .into_iter()
    .filter(|&sig| {
        // SAFETY: a query only (no new action); `old` is a plain struct.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
        rc != 0 || old.sa_sigaction != libc::SIG_IGN
    })
    .collect()
}

/// Removes our temporary files in `dir` that a process which no longer exists left behind
/// (killed with SIGKILL, or a power cut). Files of live processes, of other users, and any
/// other name are left alone.
pub fn sweep_stale_temp_files(dir: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let me = unsafe { libc::geteuid() };
    let mut removed = 0;
    // Without our own /proc (another pid namespace's view), liveness cannot be told.
    if !Path::new(&format!("/proc/{}", std::process::id())).exists() {
        return 0;
    }
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(TMP_PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        // Ours, and untouched for ten minutes: a build in another pid namespace sharing
        // the directory (NFS, a container) keeps writing to its file.
        let ours = e.metadata().is_ok_and(|m| {
            m.is_file()
                && m.uid() == me
                && m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() >= 600)
        });
        if ours && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            removed += usize::from(fs::remove_file(e.path()).is_ok());
        }
    }
    removed
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
/// no temporary file remains. The mode is that of the file it replaces, or 0600.
pub fn write_image(
    output: &Path,
    entries: &[Entry],
    compression: Compression,
    mtime: u32,
) -> Result<WriteStats, ArchiveError> {
    write_image_with_mode(output, entries, compression, mtime, None)
}

/// The mode a new image gets when none is asked for and none is replaced.
pub const DEFAULT_MODE: u32 = 0o600;

/// The bits an existing image's mode may pass on to its replacement.
pub const KEPT_MODE_MASK: u32 = 0o755;

/// [`write_image`] with an explicit mode (`None`: keep the replaced file's, or 0600).
pub fn write_image_with_mode(
    output: &Path,
    entries: &[Entry],
    compression: Compression,
    mtime: u32,
    mode: Option<u32>,
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
    sweep_stale_temp_files(&dir);
    // The cleanup signals wait while the temporary file is created and registered: one
    // arriving in between would otherwise leave a file the handler does not know about.
    let blocked = BlockedSignals::new();
    let prefix = format!("{TMP_PREFIX}{}-", std::process::id());
    let tmp = AtomicFile::create_with_prefix(output, prefix.as_ref()).map_err(|source| {
        ArchiveError::TempFile {
            dir: dir.clone(),
            source,
        }
    })?;
    if let Ok(c) = CString::new(tmp.temp_path().as_os_str().as_encoded_bytes()) {
        CURRENT_TMP.store(c.into_raw(), Ordering::SeqCst);
    }
    drop(blocked);
    let result = write_tmp(output, tmp, entries, compression, mtime, mode);
    CURRENT_TMP.store(std::ptr::null_mut(), Ordering::SeqCst);
    result
}

/// SIGINT, SIGTERM and SIGHUP blocked for this thread until dropped (then a pending one
/// is delivered).
struct BlockedSignals(libc::sigset_t);

impl BlockedSignals {
    fn new() -> Self {
        // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it, and
        // pthread_sigmask only reads `set` and writes `old`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            BlockedSignals(old)
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}

fn write_tmp(
    output: &Path,
    tmp: AtomicFile,
    entries: &[Entry],
    compression: Compression,
    mtime: u32,
    mode: Option<u32>,
) -> Result<WriteStats, ArchiveError> {
    // From here on, dropping `tmp` on an error path deletes the temporary file.
    let out_err = |e| ArchiveError::output(output, e);
    let file: &File = tmp.file();
    let mut counted = CountingWriter::new(HashingWriter {
        inner: BufWriter::with_capacity(256 * 1024, file),
        hash: Sha256::new(),
    });
    let uncompressed = compress_into(compression, &mut counted, |w| write_cpio(entries, mtime, w))
        .map_err(|e| at_output(output, e))?;
    counted.flush().map_err(out_err)?;
    let compressed = counted.count;
    let HashingWriter { inner, hash } = counted.into_inner();
    drop(inner);
    let sha256: [u8; 32] = hash.finalize().into();
    // A replaced image keeps its mode, never through a link at the output's name, and
    // never with group or other write or a setuid, setgid or sticky bit, which an explicit
    // mode may not have either.
    let mode = mode.unwrap_or_else(|| {
        fs::symlink_metadata(output)
            .ok()
            .filter(|m| m.is_file())
            .map_or(DEFAULT_MODE, |m| m.permissions().mode() & KEPT_MODE_MASK)
    });
    // fchmod, fsync, renameat and a sync of the directory, all through descriptors.
    tmp.commit(mode & 0o7777, None).map_err(out_err)?;
    Ok(WriteStats {
        entries: entries.len(),
        uncompressed_bytes: uncompressed,
        compressed_bytes: compressed,
        sha256,
    })
}

/// A writer that hashes every byte it passes on.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
