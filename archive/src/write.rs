//! Deterministic newc cpio serialisation of a list of [`Entry`] values
//! ([`write_cpio`]): inode numbering, hardlink groups, device numbers and the
//! copy-with-size-check of host files.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};

use crate::entry::{ContentDigest, Entry, EntryKind};
use crate::error::ArchiveError;
use sha2::{Digest, Sha256};

/// Longest name (excluding the terminating NUL) accepted in an archive.
pub(crate) const MAX_NAME_LEN: usize = 4095;

/// Writer adapter counting the bytes that pass through it.
pub(crate) struct CountingWriter<W> {
    inner: W,
    pub(crate) count: u64,
}

impl<W> CountingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self { inner, count: 0 }
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn output_err(e: io::Error) -> ArchiveError {
    ArchiveError::output("<output>", e)
}

fn invalid(entry: &Entry, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::InvalidEntry {
        path: entry.path.clone(),
        reason: reason.into(),
    }
}

fn check_entry(entry: &Entry) -> Result<(), ArchiveError> {
    let p = &entry.path;
    if p.is_empty() {
        return Err(invalid(entry, "the path is empty"));
    }
    if p.starts_with('/') {
        return Err(invalid(entry, "the path must not start with '/'"));
    }
    if p.contains('\0') {
        return Err(invalid(entry, "the path contains a NUL byte"));
    }
    if p.len() > MAX_NAME_LEN {
        return Err(invalid(
            entry,
            format!("the path is longer than {MAX_NAME_LEN} bytes"),
        ));
    }
    if p == "TRAILER!!!" {
        return Err(invalid(entry, "the name is reserved for the cpio trailer"));
    }
    if p.split('/').any(|c| c == "..") {
        return Err(invalid(entry, "the path contains a '..' component"));
    }
    if entry.mode & !0o7777 != 0 {
        return Err(invalid(
            entry,
            format!(
                "mode {:o} has bits outside the permission bits 07777",
                entry.mode
            ),
        ));
    }
    if entry.hardlink_group.is_some() && !entry.kind.is_regular() {
        return Err(invalid(
            entry,
            "only regular files can be members of a hardlink group",
        ));
    }
    Ok(())
}

/// Inode number and link count of each entry, in entry order.
fn assign_inodes(entries: &[Entry]) -> Result<Vec<(u32, u32, bool)>, ArchiveError> {
    let mut group_size: HashMap<u64, u32> = HashMap::new();
    for e in entries {
        if let Some(g) = e.hardlink_group {
            *group_size.entry(g).or_insert(0) += 1;
        }
    }
    let mut group_ino: HashMap<u64, u32> = HashMap::new();
    let mut next: u32 = 1;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let fresh = |next: &mut u32| -> Result<u32, ArchiveError> {
            let ino = *next;
            *next = next
                .checked_add(1)
                .ok_or_else(|| invalid(e, "too many entries for 32-bit inode numbers"))?;
            Ok(ino)
        };
        match e.hardlink_group {
            None => out.push((fresh(&mut next)?, 1, true)),
            Some(g) => {
                let nlink = group_size.get(&g).copied().unwrap_or(1);
                match group_ino.get(&g) {
                    Some(&ino) => out.push((ino, nlink, false)),
                    None => {
                        let ino = fresh(&mut next)?;
                        group_ino.insert(g, ino);
                        out.push((ino, nlink, true));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Writes an uncompressed newc cpio archive of `entries` (in the given order)
/// followed by the trailer, and returns the number of bytes written.
///
/// uid/gid are 0, every mtime is `mtime`, inode numbers are 1, 2, 3... in
/// entry order, and hardlink group members share the inode of the first
/// member, which alone carries the file data.
pub fn write_cpio<W: Write>(entries: &[Entry], mtime: u32, out: W) -> Result<u64, ArchiveError> {
    for e in entries {
        check_entry(e)?;
    }
    let inodes = assign_inodes(entries)?;
    let mut out = CountingWriter::new(out);
    let mut buf = vec![0u8; 64 * 1024];
    // The digest of each hardlink group's data, for its later members.
    let mut group_digest: HashMap<u64, ContentDigest> = HashMap::new();
    for (entry, &(ino, nlink, carries_data)) in entries.iter().zip(&inodes) {
        let mut builder = cpio::newc::Builder::new(&entry.path)
            .ino(ino)
            .mode(entry.kind.type_bits() | entry.mode)
            .uid(0)
            .gid(0)
            .nlink(nlink)
            .mtime(mtime);
        if let EntryKind::CharDev { major, minor } | EntryKind::BlockDev { major, minor } =
            entry.kind
        {
            builder = builder.rdev_major(major).rdev_minor(minor);
        }
        match &entry.kind {
            EntryKind::Bytes(data) if carries_data => {
                let size = u32::try_from(data.len())
                    .map_err(|_| invalid(entry, "in-memory content is larger than 4 GiB"))?;
                let mut w = builder.write(&mut out, size);
                w.write_all(data).map_err(output_err)?;
                w.finish().map_err(output_err)?;
            }
            EntryKind::File { source } if carries_data => {
                copy_file(source, builder, &mut out, &mut buf, None)?;
            }
            EntryKind::HashedFile { source, digest } if carries_data => {
                let mut h = Sha256::new();
                let size = copy_file(source, builder, &mut out, &mut buf, Some(&mut h))?;
                let d = ContentDigest {
                    sha256: h.finalize().into(),
                    size,
                };
                digest.set(d);
                if let Some(g) = entry.hardlink_group {
                    group_digest.insert(g, d);
                }
            }
            EntryKind::HashedFile { digest, .. } => {
                if let Some(d) = entry.hardlink_group.and_then(|g| group_digest.get(&g)) {
                    digest.set(*d);
                }
                builder.write(&mut out, 0).finish().map_err(output_err)?;
            }
            EntryKind::Symlink(target) => {
                if target.is_empty() {
                    return Err(invalid(entry, "the symlink target is empty"));
                }
                let size = u32::try_from(target.len())
                    .map_err(|_| invalid(entry, "the symlink target is too long"))?;
                let mut w = builder.write(&mut out, size);
                w.write_all(target.as_bytes()).map_err(output_err)?;
                w.finish().map_err(output_err)?;
            }
            // Directories, devices and later hardlink members have no body.
            _ => {
                builder.write(&mut out, 0).finish().map_err(output_err)?;
            }
        }
    }
    cpio::newc::trailer(&mut out).map_err(output_err)?;
    out.flush().map_err(output_err)?;
    Ok(out.count)
}

/// Copies the host file `source` as the body of `builder`'s member, checking that it is
/// a regular file whose size does not change while it is read; feeds `hash` what it
/// copies. Returns the size.
fn copy_file<W: Write>(
    source: &std::path::Path,
    builder: cpio::newc::Builder,
    out: &mut W,
    buf: &mut [u8],
    mut hash: Option<&mut Sha256>,
) -> Result<u64, ArchiveError> {
    let read_err = |e: io::Error| ArchiveError::ReadSource {
        path: source.to_path_buf(),
        source: e,
    };
    // Check the type before opening: opening a FIFO would block.
    let pre = std::fs::metadata(source).map_err(read_err)?;
    if !pre.is_file() {
        return Err(ArchiveError::NotRegularFile {
            path: source.to_path_buf(),
        });
    }
    let mut file = File::open(source).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(ArchiveError::NotRegularFile {
            path: source.to_path_buf(),
        });
    }
    let expected = meta.len();
    let size = u32::try_from(expected).map_err(|_| ArchiveError::FileTooLarge {
        path: source.to_path_buf(),
        size: expected,
    })?;
    let mut w = builder.write(out, size);
    let mut copied: u64 = 0;
    loop {
        let n = match file.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        if n == 0 {
            break;
        }
        let total = copied + n as u64;
        if total > expected {
            return Err(ArchiveError::SourceChanged {
                path: source.to_path_buf(),
                expected,
                actual: total,
            });
        }
        w.write_all(&buf[..n]).map_err(output_err)?;
        if let Some(h) = hash.as_deref_mut() {
            h.update(&buf[..n]);
        }
        copied = total;
    }
    if copied != expected {
        return Err(ArchiveError::SourceChanged {
            path: source.to_path_buf(),
            expected,
            actual: copied,
        });
    }
    w.finish().map_err(output_err)?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(path: &str, data: &[u8], group: Option<u64>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o644,
            kind: EntryKind::Bytes(data.to_vec()),
            hardlink_group: group,
        }
    }

    #[test]
    fn hardlink_members_share_inode_and_only_first_has_data() {
        let entries = vec![
            bytes("a", b"hello", Some(7)),
            bytes("b", b"other", None),
            bytes("c", b"hello", Some(7)),
        ];
        let mut out = Vec::new();
        let n = write_cpio(&entries, 5, &mut out).unwrap();
        assert_eq!(n as usize, out.len());
        let r = cpio::newc::Reader::new(out.as_slice()).unwrap();
        let first = r.entry().clone();
        assert_eq!((first.ino(), first.nlink(), first.file_size()), (1, 2, 5));
        assert_eq!(first.mtime(), 5);
        let mut r = cpio::newc::Reader::new(r.finish().unwrap()).unwrap();
        assert_eq!((r.entry().ino(), r.entry().nlink()), (2, 1));
        r = cpio::newc::Reader::new(r.finish().unwrap()).unwrap();
        let third = r.entry().clone();
        assert_eq!((third.ino(), third.nlink(), third.file_size()), (1, 2, 0));
    }

    #[test]
    fn rejects_bad_entries() {
        for path in ["", "/abs", "a/../b", "TRAILER!!!", "nul\0byte"] {
            let err = write_cpio(&[bytes(path, b"", None)], 0, Vec::new()).unwrap_err();
            assert!(
                matches!(err, ArchiveError::InvalidEntry { .. }),
                "{path}: {err}"
            );
        }
        let dir_link = Entry {
            path: "d".into(),
            mode: 0o755,
            kind: EntryKind::Dir,
            hardlink_group: Some(1),
        };
        assert!(write_cpio(&[dir_link], 0, Vec::new()).is_err());
    }

    #[test]
    fn a_hashed_file_leaves_the_digest_of_what_was_written_for_every_member() {
        use crate::entry::DigestSlot;
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("f");
        std::fs::write(&src, b"abc").unwrap();
        let hashed = |path: &str, slot: &DigestSlot| Entry {
            path: path.into(),
            mode: 0o644,
            kind: EntryKind::HashedFile {
                source: src.clone(),
                digest: slot.clone(),
            },
            hardlink_group: Some(3),
        };
        let (a, b) = (DigestSlot::default(), DigestSlot::default());
        assert_eq!(a.get(), None);
        let mut out = Vec::new();
        write_cpio(&[hashed("a", &a), hashed("b", &b)], 0, &mut out).unwrap();
        let want = ContentDigest {
            sha256: Sha256::digest(b"abc").into(),
            size: 3,
        };
        assert_eq!((a.get(), b.get()), (Some(want), Some(want)));
        // The same bytes as a plain file entry: hashing changes nothing in the image.
        let plain = Entry {
            path: "a".into(),
            mode: 0o644,
            kind: EntryKind::File {
                source: src.clone(),
            },
            hardlink_group: None,
        };
        let one = |e: Entry| {
            let mut o = Vec::new();
            write_cpio(&[e], 0, &mut o).unwrap();
            o
        };
        let mut h = hashed("a", &DigestSlot::default());
        h.hardlink_group = None;
        assert_eq!(one(plain), one(h));
    }
}
