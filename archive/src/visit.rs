//! Visiting an image file's members: the streaming parser's walk ([`crate::read`]) exposed
//! to callers, with the header only ([`for_each_entry`], for `ls`) or with each body as well
//! ([`for_each_entry_with_body`], for `diff`, which hashes every member while the image
//! streams past). Memory stays bounded: each body is a bounded reader, and what the visitor
//! does not read is skipped. This module depends on the parser, never the reverse.

use std::io::Read;
use std::path::Path;

use crate::entry::ListedEntry;
use crate::error::ArchiveError;
use crate::read::{open_image, walk_reader, MAX_DECOMPRESSED};

/// Identifies the file a hardlinked member belongs to: members with equal keys are links
/// of one file. newc stores the body once, on one of them (the others have size 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HardlinkKey {
    archive: usize,
    dev: (u32, u32),
    ino: u32,
}

/// One member as visited: its listing and, for a regular file with more than one link,
/// the key of its hardlink group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitedEntry {
    pub entry: ListedEntry,
    /// The name exactly as stored (the listing's `path` is a lossy UTF-8 rendering).
    pub raw_name: Vec<u8>,
    /// The header's c_ino, c_devmajor and c_devminor, which the kernel pairs hardlinks by.
    pub ino: u32,
    pub dev: (u32, u32),
    /// Running index of the cpio archive (up to its TRAILER!!!) holding the member.
    pub archive: usize,
    pub hardlink: Option<HardlinkKey>,
}

/// Calls `visit` for each member of the image at `path`, in order, with a reader of the
/// member's body (a regular file's content, a symlink's target is in the listing and its
/// body reads empty). An error returned by `visit` stops the walk and is returned.
pub fn for_each_entry_with_body(
    path: &Path,
    mut visit: impl FnMut(&VisitedEntry, &mut dyn Read) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let file = open_image(path)?;
    walk_reader(
        file,
        &path.display().to_string(),
        path,
        MAX_DECOMPRESSED,
        &mut |m, body| {
            let entry = m.listed();
            let regular = entry.mode & 0o170000 == 0o100000;
            let visited = VisitedEntry {
                raw_name: m.name.to_vec(),
                ino: m.ino,
                dev: m.dev,
                archive: m.archive,
                hardlink: (regular && m.nlink > 1).then_some(HardlinkKey {
                    archive: m.archive,
                    dev: m.dev,
                    ino: m.ino,
                }),
                entry,
            };
            if visited.entry.link_target.is_some() {
                // The target was read into the listing; the body is already consumed.
                return visit(&visited, &mut std::io::empty());
            }
            visit(&visited, body)
        },
    )
}

/// Calls `visit` for each member of the image at `path`, in order, while
/// streaming it: memory stays bounded however large the image inflates.
pub fn for_each_entry(
    path: &Path,
    mut visit: impl FnMut(&ListedEntry) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    for_each_entry_with_body(path, |v, _| visit(&v.entry))
}

/// Lists every member of the image file at `path` (all segments).
pub fn list_image(path: &Path) -> Result<Vec<ListedEntry>, ArchiveError> {
    let mut out = Vec::new();
    for_each_entry(path, |e| {
        out.push(e.clone());
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{write_image, Compression, Entry, EntryKind};

    #[test]
    fn bodies_and_hardlink_groups_reach_the_visitor() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::write(&src, b"shared body").unwrap();
        std::fs::hard_link(&src, d.path().join("src2")).unwrap();
        let entries = vec![
            Entry {
                path: "a".into(),
                mode: 0o644,
                kind: EntryKind::Bytes(b"hello".to_vec()),
                hardlink_group: None,
            },
            Entry {
                path: "l".into(),
                mode: 0o777,
                kind: EntryKind::Symlink("a".into()),
                hardlink_group: None,
            },
            Entry {
                path: "h1".into(),
                mode: 0o644,
                kind: EntryKind::File {
                    source: src.clone(),
                },
                hardlink_group: Some(0),
            },
            Entry {
                path: "h2".into(),
                mode: 0o644,
                kind: EntryKind::File { source: src },
                hardlink_group: Some(0),
            },
        ];
        let img = d.path().join("x.img");
        write_image(&img, &entries, Compression::Gzip, 0).unwrap();
        let mut seen = Vec::new();
        for_each_entry_with_body(&img, |v, body| {
            let mut s = String::new();
            body.read_to_string(&mut s).unwrap();
            seen.push((v.entry.path.clone(), s, v.hardlink));
            Ok(())
        })
        .unwrap();
        let find = |p: &str| seen.iter().find(|(n, _, _)| n == p).unwrap().clone();
        assert_eq!(find("a").1, "hello");
        assert_eq!(find("l").1, "");
        let (h1, h2) = (find("h1"), find("h2"));
        assert!(h1.2.is_some() && h1.2 == h2.2, "{seen:?}");
        assert_eq!(format!("{}{}", h1.1, h2.1), "shared body");
    }

    #[test]
    fn a_visitor_error_stops_the_walk() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("x.img");
        let entries = vec![Entry {
            path: "a".into(),
            mode: 0o644,
            kind: EntryKind::Bytes(b"x".to_vec()),
            hardlink_group: None,
        }];
        write_image(&img, &entries, Compression::None, 0).unwrap();
        let err = for_each_entry_with_body(&img, |_, _| {
            Err(ArchiveError::NotAnImage {
                path: "stop".into(),
            })
        })
        .unwrap_err();
        assert!(err.to_string().contains("stop"), "{err}");
    }
}
