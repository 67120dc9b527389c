//! The in-memory description of what goes into an image ([`Entry`],
//! [`EntryKind`]) and of what was found in one ([`ListedEntry`]), plus the
//! `ls -l`-like rendering of the latter.

use crate::escape::escape_name;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// File type bits of `st_mode`.
pub(crate) const S_IFMT: u32 = 0o170000;
pub(crate) const S_IFSOCK: u32 = 0o140000;
pub(crate) const S_IFLNK: u32 = 0o120000;
pub(crate) const S_IFREG: u32 = 0o100000;
pub(crate) const S_IFBLK: u32 = 0o060000;
pub(crate) const S_IFDIR: u32 = 0o040000;
pub(crate) const S_IFCHR: u32 = 0o020000;
pub(crate) const S_IFIFO: u32 = 0o010000;

/// What an [`Entry`] is and where its content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file copied from the host at write time.
    File { source: PathBuf },
    /// Regular file copied from the host at write time, whose SHA-256 and size the writer
    /// leaves in `digest` as it copies (one read serves the image and a manifest).
    HashedFile { source: PathBuf, digest: DigestSlot },
    /// Regular file with in-memory content.
    Bytes(Vec<u8>),
    /// Directory.
    Dir,
    /// Symbolic link with the given target.
    Symlink(String),
    /// Character device node.
    CharDev { major: u32, minor: u32 },
    /// Block device node.
    BlockDev { major: u32, minor: u32 },
}

impl EntryKind {
    /// The `S_IFMT` bits for this kind.
    pub(crate) fn type_bits(&self) -> u32 {
        match self {
            EntryKind::File { .. } | EntryKind::HashedFile { .. } | EntryKind::Bytes(_) => S_IFREG,
            EntryKind::Dir => S_IFDIR,
            EntryKind::Symlink(_) => S_IFLNK,
            EntryKind::CharDev { .. } => S_IFCHR,
            EntryKind::BlockDev { .. } => S_IFBLK,
        }
    }

    pub(crate) fn is_regular(&self) -> bool {
        matches!(
            self,
            EntryKind::File { .. } | EntryKind::HashedFile { .. } | EntryKind::Bytes(_)
        )
    }
}

/// What the writer read of a [`EntryKind::HashedFile`]: the SHA-256 and the size of the
/// bytes it put into the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentDigest {
    pub sha256: [u8; 32],
    pub size: u64,
}

/// Where the writer leaves a [`ContentDigest`]; clones share it. Empty until the entry is
/// written (for a later member of a hardlink group: until its group's first member is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestSlot(Arc<OnceLock<ContentDigest>>);

impl DigestSlot {
    /// The digest, once written.
    pub fn get(&self) -> Option<ContentDigest> {
        self.0.get().copied()
    }

    pub(crate) fn set(&self, d: ContentDigest) {
        // A slot is filled once; an entry written twice has the same content.
        let _ = self.0.set(d);
    }
}

/// One member of the image to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Archive path without a leading '/', e.g. `usr/bin/busybox`.
    pub path: String,
    /// Permission bits only, e.g. `0o755`.
    pub mode: u32,
    /// Type and content.
    pub kind: EntryKind,
    /// Entries with the same `Some(g)` are hardlinks of one file.
    pub hardlink_group: Option<u64>,
}

/// One member as found in an existing image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// Name as stored (lossily converted to UTF-8).
    pub path: String,
    /// Full `st_mode`, including the file type bits.
    pub mode: u32,
    /// Size of the entry body in bytes.
    pub size: u64,
    /// Target of a symbolic link.
    pub link_target: Option<String>,
    /// Link count recorded in the header.
    pub nlink: u32,
    /// Owner and group as numbers (an image has no user database to name them from).
    pub uid: u32,
    pub gid: u32,
    /// Device numbers (major, minor) for device nodes.
    pub rdev: (u32, u32),
    /// Index of the image segment (cpio archive or compressed stream) holding the entry.
    pub segment: usize,
}

/// Renders one `ls -ln`-like line: mode, owner, group (numbers), size (or `major,minor`),
/// name, e.g. `-rwxr-xr-x     0     0   123456 usr/bin/busybox`.
pub fn format_listing(e: &ListedEntry) -> String {
    let size = match e.mode & S_IFMT {
        S_IFCHR | S_IFBLK => format!("{},{}", e.rdev.0, e.rdev.1),
        _ => e.size.to_string(),
    };
    // A space always separates the columns, however long they are.
    let mut line = format!(
        "{} {:>5} {:>5} {:>8} {}",
        mode_string(e.mode),
        e.uid,
        e.gid,
        size,
        escape_name(&e.path)
    );
    if let Some(target) = &e.link_target {
        line.push_str(" -> ");
        line.push_str(&escape_name(target));
    }
    line
}

/// `drwxr-xr-x`-style rendering of a full mode.
pub(crate) fn mode_string(mode: u32) -> String {
    let kind = match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFLNK => 'l',
        S_IFCHR => 'c',
        S_IFBLK => 'b',
        S_IFIFO => 'p',
        S_IFSOCK => 's',
        S_IFREG => '-',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    // (read bit, write bit, exec bit, special bit, special char)
    let triples = [
        (0o400, 0o200, 0o100, 0o4000, 's'),
        (0o040, 0o020, 0o010, 0o2000, 's'),
        (0o004, 0o002, 0o001, 0o1000, 't'),
    ];
    for (r, w, x, special, c) in triples {
        s.push(if mode & r != 0 { 'r' } else { '-' });
        s.push(if mode & w != 0 { 'w' } else { '-' });
        let exec = mode & x != 0;
        s.push(match (mode & special != 0, exec) {
            (true, true) => c,
            (true, false) => c.to_ascii_uppercase(),
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

#[cfg(test)]
mod tests {

    #[test]
    fn hostile_names_cannot_fake_lines_or_reach_the_terminal() {
        let file = |p: &str, size| listed(S_IFREG | 0o644, size, p, None);
        let line = format_listing(&file("a\n-rw-r--r--  1 fake\x1b[2J\\", 3));
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line:?}");
        assert_eq!(
            line,
            "-rw-r--r--     0     0        3 a\\n-rw-r--r--  1 fake\\033[2J\\\\"
        );
        let l = listed(S_IFLNK | 0o777, 1, "l", Some("t\u{7}"));
        assert!(format_listing(&l).ends_with("l -> t\\a"));
        // A ten-digit size stays apart from the mode.
        assert_eq!(
            format_listing(&file("big", 1_234_567_890)),
            "-rw-r--r--     0     0 1234567890 big"
        );
    }

    use super::*;

    fn listed(mode: u32, size: u64, path: &str, target: Option<&str>) -> ListedEntry {
        ListedEntry {
            path: path.into(),
            mode,
            size,
            link_target: target.map(Into::into),
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: (0, 0),
            segment: 0,
        }
    }

    #[test]
    fn listing_lines_match_ls() {
        assert_eq!(
            format_listing(&listed(S_IFDIR | 0o755, 0, "usr/bin", None)),
            "drwxr-xr-x     0     0        0 usr/bin"
        );
        assert_eq!(
            format_listing(&listed(S_IFREG | 0o755, 123456, "usr/bin/busybox", None)),
            "-rwxr-xr-x     0     0   123456 usr/bin/busybox"
        );
        assert_eq!(
            format_listing(&listed(S_IFLNK | 0o777, 7, "lib64", Some("usr/lib64"))),
            "lrwxrwxrwx     0     0        7 lib64 -> usr/lib64"
        );
        assert_eq!(mode_string(S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(S_IFDIR | 0o1777), "drwxrwxrwt");
        let mut dev = listed(S_IFCHR | 0o600, 0, "dev/console", None);
        dev.rdev = (5, 1);
        assert_eq!(
            format_listing(&dev),
            "crw-------     0     0      5,1 dev/console"
        );
        let mut owned = listed(S_IFREG | 0o4755, 9, "usr/bin/su", None);
        (owned.uid, owned.gid) = (1000, 4294967295);
        assert_eq!(
            format_listing(&owned),
            "-rwsr-xr-x  1000 4294967295        9 usr/bin/su"
        );
    }
}
