//! [`AtomicFile`]: a temporary file created beside its target through the directory's
//! descriptor, renamed over the target only once it is complete, removed otherwise.

use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The owner and group a finished file is given (`fchown`), when not the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// A temporary file in the target's directory, open for writing. [`AtomicFile::commit`]
/// sets its mode (and owner), syncs it and renames it over the target; dropping it
/// without a commit removes it (`unlinkat` on the directory's descriptor).
pub struct AtomicFile {
    dir: OwnedFd,
    dir_path: PathBuf,
    tmp_name: OsString,
    target_name: OsString,
    file: Option<File>,
}

/// How many random names are tried before giving up (each collision is an `EEXIST`).
const NAME_TRIES: usize = 16;

impl AtomicFile {
    /// A temporary file beside `target`, named `.<target name>.srbuild-tmp.<pid>.<random>`.
    pub fn create(target: &Path) -> io::Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        let name = target.file_name().ok_or_else(|| no_name(target))?;
        let mut prefix = OsString::from(".");
        // At most 200 bytes of the name: the whole stays under NAME_MAX (255).
        let short = &name.as_bytes()[..name.len().min(200)];
        prefix.push(OsStr::from_bytes(short));
        prefix.push(format!(".srbuild-tmp.{}.", std::process::id()));
        Self::create_with_prefix(target, &prefix)
    }

    /// A temporary file beside `target` whose name is `prefix` followed by random
    /// characters (callers that sweep their own stale temporary files by prefix).
    pub fn create_with_prefix(target: &Path, prefix: &OsStr) -> io::Result<Self> {
        let target_name = target
            .file_name()
            .ok_or_else(|| no_name(target))?
            .to_owned();
        let dir_path = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = rustix::fs::open(
            &dir_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut last = None;
        for _ in 0..NAME_TRIES {
            let mut tmp_name = prefix.to_owned();
            tmp_name.push(fastrand::alphanumeric().to_string());
            for _ in 0..9 {
                tmp_name.push(fastrand::alphanumeric().to_string());
            }
            match create_new_at(&dir, &tmp_name) {
                Ok(fd) => {
                    return Ok(AtomicFile {
                        dir,
                        dir_path,
                        tmp_name,
                        target_name,
                        file: Some(File::from(fd)),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// The temporary file's path (for a signal handler that removes it on the way out).
    pub fn temp_path(&self) -> PathBuf {
        self.dir_path.join(&self.tmp_name)
    }

    /// The open temporary file; write through it (it is also [`Write`]).
    pub fn file(&self) -> &File {
        self.file.as_ref().expect("file is present until commit")
    }

    /// Gives the file `owner` now (`fchown`), for callers to whom a refusal is not an
    /// error (only root may give files away): they ignore the result and commit without
    /// an owner.
    pub fn set_owner(&self, owner: Owner) -> io::Result<()> {
        fchown(self.file(), owner)
    }

    /// Gives the file `mode` (`fchmod`) and `owner` (`fchown`), syncs it, renames it over
    /// the target (`renameat`) and syncs the directory. On an error the temporary file
    /// is removed and the target is untouched.
    pub fn commit(mut self, mode: u32, owner: Option<Owner>) -> io::Result<()> {
        let file = self.file.as_ref().expect("file is present until commit");
        if let Some(o) = owner {
            // Before the mode: fchown clears setuid/setgid bits.
            self.set_owner(o)?;
        }
        rustix::fs::fchmod(file, Mode::from_raw_mode(mode & 0o7777))?;
        rustix::fs::fsync(file)?;
        self.check_still_ours(file)?;
        rustix::fs::renameat(&self.dir, &self.tmp_name, &self.dir, &self.target_name)?;
        self.file = None;
        // The rename is done; a failed directory sync does not undo it.
        let _ = rustix::fs::fsync(&self.dir);
        Ok(())
    }

    /// Refuses to rename when the temporary name no longer leads to the file written
    /// here (someone who can write to the directory swapped it): the rename would put
    /// their file, or their link, in place of the target.
    fn check_still_ours(&self, file: &File) -> io::Result<()> {
        let ours = rustix::fs::fstat(file)?;
        let there = rustix::fs::statat(&self.dir, &self.tmp_name, AtFlags::SYMLINK_NOFOLLOW);
        match there {
            Ok(st) if (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino) => Ok(()),
            _ => Err(io::Error::other(format!(
                "the temporary file {} was replaced by someone else while it was written; \
                 nothing was renamed into place (check who can write to {})",
                self.temp_path().display(),
                self.dir_path.display()
            ))),
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = rustix::fs::unlinkat(&self.dir, &self.tmp_name, AtFlags::empty());
        }
    }
}

/// Gives the open `file` to `owner` (`fchown`, through the descriptor).
pub fn fchown(file: &File, owner: Owner) -> io::Result<()> {
    let (u, g) = (Uid::from_raw(owner.uid), Gid::from_raw(owner.gid));
    Ok(rustix::fs::fchown(file, Some(u), Some(g))?)
}

/// `openat(dir, name, O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC|O_WRONLY, 0600)`: fails with
/// `EEXIST` on anything already there, a link included.
pub(crate) fn create_new_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?)
}

fn no_name(target: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} names no file", target.display()),
    )
}

/// Replaces `target` with a file holding `bytes`, of `mode` and `owner` (see
/// [`AtomicFile`]). A link at `target` is replaced, never written through.
pub fn write_file(target: &Path, bytes: &[u8], mode: u32, owner: Option<Owner>) -> io::Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes)?;
    f.commit(mode, owner)
}

/// Replaces `target` with a copy of `source`, of `mode` and `owner`. The source is opened
/// here, read-only (with `O_NOFOLLOW` when `source_nofollow`: a link there is refused),
/// and must be a regular file; its bytes go through the temporary file's descriptor.
/// Returns the number of bytes copied.
pub fn copy_file(
    source: &Path,
    target: &Path,
    mode: u32,
    owner: Option<Owner>,
    source_nofollow: bool,
) -> io::Result<u64> {
    // O_NONBLOCK: a FIFO given as the source is refused below instead of blocking the
    // open (it changes nothing for a regular file).
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    if source_nofollow {
        flags |= OFlags::NOFOLLOW;
    }
    let src = File::from(rustix::fs::open(source, flags, Mode::empty())?);
    if !src.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", source.display()),
        ));
    }
    let out = AtomicFile::create(target)?;
    let n = io::copy(&mut &src, &mut out.file())?;
    out.commit(mode, owner)?;
    Ok(n)
}

/// Creates the file `path`, which must not exist (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600),
/// lets `fill` write it through the descriptor, then gives it `mode` (`fchmod`). No
/// rename and no sync: for a tree being built in a fresh directory, whose caller decides
/// about durability (the lab's test roots). On an error the file is removed.
pub fn create_new(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| no_name(path))?;
    let dir_path = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = rustix::fs::open(
        dir_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut f = File::from(create_new_at(&dir, name)?);
    let result =
        fill(&mut f).and_then(|()| Ok(rustix::fs::fchmod(&f, Mode::from_raw_mode(mode & 0o7777))?));
    if result.is_err() {
        let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
    }
    result
}
