//! Safe extraction of an image into a directory ([`extract_image`]): path
//! normalisation, refusal of anything that would escape the target (`..`,
//! symlinked parents), no-follow file creation, hardlinks, optional device
//! nodes and deferred directory permissions.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::entry::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};
use crate::error::ArchiveError;
use crate::read::{open_image, walk_reader, Member, MAX_DECOMPRESSED};

/// Most multiply-linked files remembered for pairing (bounds memory).
const MAX_LINKED: usize = 1 << 16;

/// Counts reported after extracting an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtractStats {
    /// Regular files created (one per entry, hardlinks included).
    pub files: usize,
    /// Of those, entries created as a hardlink to an earlier entry.
    pub hardlinks: usize,
    /// Directories created or updated.
    pub dirs: usize,
    /// Symbolic links created.
    pub symlinks: usize,
    /// Device nodes, FIFOs and sockets created.
    pub devices: usize,
    /// Device nodes, FIFOs and sockets not created because `allow_devices` was false.
    pub skipped_devices: usize,
}

struct Extractor<'a> {
    image: String,
    root: &'a Path,
    allow_devices: bool,
    perm_mask: u32,
    stats: ExtractStats,
    /// (archive, ino, dev) of multiply-linked files -> first extracted path.
    links: HashMap<(usize, u32, (u32, u32)), PathBuf>,
    /// Directory permissions applied at the end (so read-only dirs can be filled).
    dir_modes: Vec<(PathBuf, String, u32)>,
}

impl Extractor<'_> {
    fn unsafe_entry(&self, entry: &str, reason: impl Into<String>) -> ArchiveError {
        ArchiveError::Unsafe {
            image: self.image.clone(),
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    fn io_err(entry: &str, path: &Path) -> impl FnOnce(io::Error) -> ArchiveError {
        let entry = entry.to_string();
        let path = path.to_path_buf();
        move |source| ArchiveError::Extract {
            entry,
            path,
            source,
        }
    }

    /// Splits an archive name into safe components.
    fn components<'n>(&self, name: &'n [u8], shown: &str) -> Result<Vec<&'n [u8]>, ArchiveError> {
        let mut parts = Vec::new();
        for c in name.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    return Err(self.unsafe_entry(shown, "contains a '..' path component"));
                }
                _ => parts.push(c),
            }
        }
        Ok(parts)
    }

    /// Makes sure every parent of `parts` exists inside the root as a real
    /// directory (never a symlink), creating missing ones. Returns the full path.
    fn prepare_parents(&self, parts: &[&[u8]], shown: &str) -> Result<PathBuf, ArchiveError> {
        let mut path = self.root.to_path_buf();
        let Some((last, parents)) = parts.split_last() else {
            return Ok(path);
        };
        for c in parents {
            path.push(OsStr::from_bytes(c));
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(self.unsafe_entry(
                        shown,
                        format!(
                            "would be written through the symlink {} (it could point outside the target directory)",
                            path.display()
                        ),
                    ));
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(self.unsafe_entry(
                        shown,
                        format!("has a parent {} that is not a directory", path.display()),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&path).map_err(Self::io_err(shown, &path))?;
                }
                Err(e) => return Err(Self::io_err(shown, &path)(e)),
            }
        }
        path.push(OsStr::from_bytes(last));
        Ok(path)
    }

    /// Removes whatever non-directory sits at `path` (without following
    /// symlinks); an empty directory is removed too unless `keep_dir`.
    fn clear(&self, path: &Path, shown: &str, keep_dir: bool) -> Result<bool, ArchiveError> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                if keep_dir {
                    return Ok(true);
                }
                fs::remove_dir(path).map_err(Self::io_err(shown, path))?;
                Ok(false)
            }
            Ok(_) => {
                fs::remove_file(path).map_err(Self::io_err(shown, path))?;
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Self::io_err(shown, path)(e)),
        }
    }

    fn entry(&mut self, e: &Member<'_>, body: &mut dyn Read) -> Result<(), ArchiveError> {
        let shown = String::from_utf8_lossy(e.name).into_owned();
        let parts = self.components(e.name, &shown)?;
        let kind = e.mode & S_IFMT;
        let perm = e.mode & 0o7777 & self.perm_mask;
        if parts.is_empty() {
            // The archive root itself ("." or "/").
            if kind == S_IFDIR {
                return Ok(());
            }
            return Err(self.unsafe_entry(
                &shown,
                "names the target directory itself but is not a directory",
            ));
        }
        let path = self.prepare_parents(&parts, &shown)?;
        match kind {
            S_IFDIR => {
                if !self.clear(&path, &shown, true)? {
                    fs::create_dir(&path).map_err(Self::io_err(&shown, &path))?;
                }
                self.dir_modes.push((path, shown, perm));
                self.stats.dirs += 1;
            }
            S_IFREG => self.regular(e, body, &path, &shown, perm)?,
            S_IFLNK => {
                self.clear(&path, &shown, false)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(e.link_target), &path)
                    .map_err(Self::io_err(&shown, &path))?;
                self.stats.symlinks += 1;
            }
            S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {
                if !self.allow_devices {
                    self.stats.skipped_devices += 1;
                    return Ok(());
                }
                self.clear(&path, &shown, false)?;
                mknod(&path, kind | perm, e.rdev).map_err(Self::io_err(&shown, &path))?;
                self.stats.devices += 1;
            }
            _ => {
                return Err(self.unsafe_entry(
                    &shown,
                    format!("has an unknown file type (mode {:o})", e.mode),
                ));
            }
        }
        Ok(())
    }

    fn regular(
        &mut self,
        e: &Member<'_>,
        body: &mut dyn Read,
        path: &Path,
        shown: &str,
        perm: u32,
    ) -> Result<(), ArchiveError> {
        let key = (e.archive, e.ino, e.dev);
        let first = if e.nlink > 1 {
            self.links.get(&key).cloned()
        } else {
            None
        };
        let first_link = first.is_none();
        if first_link && e.nlink > 1 && self.links.len() >= MAX_LINKED {
            return Err(self.unsafe_entry(
                shown,
                format!(
                    "is one more multiply-linked file than the {MAX_LINKED} this reader tracks"
                ),
            ));
        }
        self.clear(path, shown, false)?;
        let mut file = if let Some(first) = first {
            match fs::symlink_metadata(&first) {
                Ok(m) if m.is_file() => {}
                _ => {
                    return Err(self.unsafe_entry(
                        shown,
                        format!(
                            "is a hardlink to {} which is no longer a regular file",
                            first.display()
                        ),
                    ))
                }
            }
            fs::hard_link(&first, path).map_err(Self::io_err(shown, path))?;
            self.stats.files += 1;
            self.stats.hardlinks += 1;
            if e.size == 0 {
                return Ok(());
            }
            // GNU cpio stores the data with the last link: fill the shared inode.
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(Self::io_err(shown, path))?
        } else {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o600)
                .open(path)
                .map_err(Self::io_err(shown, path))?
        };
        // Read errors are the image's (the reader reports them); write
        // errors, such as a full disk, are the target's.
        io::copy(body, &mut file).map_err(Self::io_err(shown, path))?;
        file.set_permissions(Permissions::from_mode(perm))
            .map_err(Self::io_err(shown, path))?;
        if first_link {
            if e.nlink > 1 {
                self.links.insert(key, path.to_path_buf());
            }
            self.stats.files += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<ExtractStats, ArchiveError> {
        // Deepest first, so a read-only parent does not block its children.
        while let Some((path, shown, perm)) = self.dir_modes.pop() {
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {
                    // Through an O_NOFOLLOW descriptor: a directory swapped for a link
                    // since the check is refused, not followed.
                    srbuild_fsio::chmod_nofollow(&path, perm)
                        .map_err(Self::io_err(&shown, &path))?;
                }
                _ => {}
            }
        }
        Ok(self.stats)
    }
}

fn mknod(path: &Path, mode: u32, rdev: (u32, u32)) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let dev = libc::makedev(rdev.0, rdev.1);
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::mknod(c.as_ptr(), mode as libc::mode_t, dev) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Extracts every member of `image` into `dir` (created if missing).
///
/// Refuses, with [`ArchiveError::Unsafe`], any entry with a `..` component or
/// one that would be written through a symlink; stops at the first refusal.
/// Device nodes (and FIFOs/sockets) are created only when `allow_devices`.
pub fn extract_image(
    image: &Path,
    dir: &Path,
    allow_devices: bool,
) -> Result<ExtractStats, ArchiveError> {
    let file = open_image(image)?;
    fs::create_dir_all(dir).map_err(|source| ArchiveError::Extract {
        entry: String::new(),
        path: dir.to_path_buf(),
        source,
    })?;
    let mut ex = Extractor {
        image: image.display().to_string(),
        root: dir,
        allow_devices,
        perm_mask: if is_root() { 0o7777 } else { 0o1777 },
        stats: ExtractStats::default(),
        links: HashMap::new(),
        dir_modes: Vec::new(),
    };
    let image_name = ex.image.clone();
    // On error, directories keep their default (writable) modes so the
    // partial tree can be inspected and removed.
    walk_reader(
        file,
        &image_name,
        image,
        MAX_DECOMPRESSED,
        &mut |e, body| ex.entry(e, body),
    )?;
    ex.finish()
}
