//! Files opened in place rather than replaced, never through a link: a log appended to
//! ([`open_append`]), a hard-linked file rewritten ([`open_rewrite`]), a file whose mode
//! is changed ([`chmod_nofollow`]); each mode is set through the descriptor.

use rustix::fs::{FileType, Mode, OFlags};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Opens (creating it if missing) the log at `path` for appending, refusing a link as the
/// file or as its directory (`O_NOFOLLOW` on both; the error says which), and anything
/// but a regular file; then gives it `mode` through the descriptor, so an old log's
/// looser mode does not survive.
pub fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let dir_path = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = rustix::fs::open(
        &dir_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| refuse_link(e, &dir_path, "directory"))?;
    // O_NONBLOCK: a FIFO planted there does not hang the open (refused below).
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::WRONLY
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NOCTTY
            | OFlags::NONBLOCK,
        Mode::from_raw_mode(mode & 0o777),
    )
    .map_err(|e| refuse_link(e, path, "file"))?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file; remove it", path.display()),
        ));
    }
    // A hard link to another file (planted where links are not protected), or a file
    // someone else owns, is not ours to truncate or chmod.
    if st.st_nlink != 1 || st.st_uid != rustix::process::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} has other hard links or another owner; remove it",
                path.display()
            ),
        ));
    }
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o777))?;
    Ok(File::from(fd))
}

/// `ELOOP`/`ENOTDIR` from an `O_NOFOLLOW` open, said plainly.
fn refuse_link(e: rustix::io::Errno, path: &Path, what: &str) -> io::Error {
    if e == rustix::io::Errno::LOOP
        || (what == "directory" && e == rustix::io::Errno::NOTDIR && is_link(path))
    {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} ({what}) is a symbolic link, which is not followed; replace it with a \
                 real {what}",
                path.display()
            ),
        );
    }
    e.into()
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Opens the existing regular file at `path` for writing, truncated, refusing a link
/// (`O_NOFOLLOW`) and anything but a regular file (truncated through the descriptor,
/// after the check).
pub fn open_rewrite(path: &Path) -> io::Result<File> {
    let f = open_regular(path, OFlags::WRONLY)?;
    f.set_len(0)?;
    Ok(f)
}

/// Sets the mode of the regular file or directory at `path` through a descriptor opened
/// with `O_NOFOLLOW` (a link there is refused, never followed).
pub fn chmod_nofollow(path: &Path, mode: u32) -> io::Result<()> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| refuse_link(e, path, "file"))?;
    let st = rustix::fs::fstat(&fd)?;
    let ft = FileType::from_raw_mode(st.st_mode);
    if ft == FileType::RegularFile && st.st_nlink != 1 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} has other hard links; its mode is not changed",
                path.display()
            ),
        ));
    }
    if ft != FileType::RegularFile && ft != FileType::Directory {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is neither a regular file nor a directory",
                path.display()
            ),
        ));
    }
    Ok(rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o7777))?)
}

fn open_regular(path: &Path, access: OFlags) -> io::Result<File> {
    let fd = rustix::fs::open(
        path,
        access | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| refuse_link(e, path, "file"))?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(File::from(fd))
}
