//! Root images for `root=http://…` (`srbuild rootimage TREE -o root.img`): a directory tree
//! written as one reproducible newc cpio (sorted, mtimes `SOURCE_DATE_EPOCH` or 0, inodes
//! 1..n, hardlinks kept), compressed with what busybox in the initramfs unpacks (gzip by
//! default, xz, or none), and a manifest like `image --json` (every file with type, mode,
//! size and SHA-256; the image's own SHA-256 for `srbuild.root_sha256=`).
//!
//! Owners are not kept: the archive writer stores uid/gid 0 (what an initramfs holds). A
//! file owned by another user is counted in the manifest's warnings, and its setuid or
//! setgid bit (which would grant root) is dropped with a warning.

use crate::error::{BuildError, Result};
use crate::manifest::hex;
use crate::options::source_date_epoch;
use serde::Serialize;
use sha2::{Digest, Sha256};
use srbuild_archive::{Compression, DigestSlot, Entry, EntryKind};
use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Version of the root image manifest's layout.
pub const FORMAT: u32 = 1;

/// The manifest of one root image.
#[derive(Debug, Clone, Serialize)]
pub struct RootManifest {
    pub format: u32,
    pub tree: String,
    pub compression: String,
    pub source_date_epoch: u32,
    pub files: Vec<RootFile>,
    pub sizes: RootSizes,
    /// The SHA-256 of the image file: the value for `srbuild.root_sha256=`.
    pub image_sha256: String,
    pub warnings: Vec<String>,
}

/// One member of the image.
#[derive(Debug, Clone, Serialize)]
pub struct RootFile {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Entry count and sizes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RootSizes {
    pub entries: usize,
    pub uncompressed_bytes: u64,
    pub image_bytes: u64,
}

impl RootManifest {
    /// The manifest as pretty JSON with a final newline (same image, same bytes).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
        s.push('\n');
        s
    }
}

/// The compressions an initramfs's busybox can unpack (`zcat`, `xzcat`, plain `cpio`).
pub fn check_compression(c: Compression) -> Result<()> {
    match c {
        Compression::Gzip | Compression::Xz | Compression::None => Ok(()),
        other => Err(BuildError::RootTree {
            path: ".".into(),
            message: format!(
                "compression {other} cannot be unpacked by busybox in the initramfs; use gzip (default), xz or none"
            ),
        }),
    }
}

/// Writes `tree` as a root image at `output` (mode `mode`, default 0644: a root image is
/// served over HTTP) and returns its manifest. What `exclude` names (absolute paths of
/// the root, such as `/usr` for a hybrid root that keeps it on NFS) is left out but its
/// directory kept, empty, as a mount point.
pub fn build_root_image(
    tree: &Path,
    output: &Path,
    compression: Compression,
    mode: Option<u32>,
    exclude: &[String],
) -> Result<RootManifest> {
    check_compression(compression)?;
    let mtime = source_date_epoch()?;
    let exclude = excluded_paths(tree, exclude)?;
    let (entries, mut warnings) = tree_entries(tree, &exclude)?;
    let stats = srbuild_archive::write_image_with_mode(
        output,
        &entries,
        compression,
        mtime,
        Some(mode.unwrap_or(0o644)),
    )?;
    let files = entries.iter().map(record).collect();
    // The hash of the bytes written, not of whatever the output's name holds by now.
    let image_sha256 = hex(&stats.sha256);
    warnings.sort();
    Ok(RootManifest {
        format: FORMAT,
        tree: tree.display().to_string(),
        compression: compression.to_string(),
        source_date_epoch: mtime,
        files,
        sizes: RootSizes {
            entries: stats.entries,
            uncompressed_bytes: stats.uncompressed_bytes,
            image_bytes: stats.compressed_bytes,
        },
        image_sha256,
        warnings,
    })
}

/// `--exclude` values as archive paths (`usr/local`): absolute, no `.`/`..`, not `/`.
fn excluded_paths(tree: &Path, exclude: &[String]) -> Result<Vec<String>> {
    exclude
        .iter()
        .map(|e| {
            let rel = e.strip_prefix('/').unwrap_or("");
            let plain = !rel.is_empty()
                && !rel.ends_with('/')
                && rel.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
            if plain {
                Ok(rel.to_string())
            } else {
                Err(BuildError::RootTree {
                    path: tree.to_path_buf(),
                    message: format!(
                        "--exclude {e:?}: give an absolute path of the root such as /usr, without . or .. parts or a trailing /"
                    ),
                })
            }
        })
        .collect()
}

/// Every member of `tree` (not the tree itself), in path order, links not followed, less
/// what is under an `exclude` path. Sockets and FIFOs are refused: a root tree made for
/// an image has none.
fn tree_entries(tree: &Path, exclude: &[String]) -> Result<(Vec<Entry>, Vec<String>)> {
    let bad = |path: &Path, message: String| BuildError::RootTree {
        path: path.to_path_buf(),
        message,
    };
    let top = std::fs::symlink_metadata(tree).map_err(|e| BuildError::read(tree, e))?;
    if !top.is_dir() {
        return Err(bad(
            tree,
            "not a directory (give the root's top directory; links are not followed)".into(),
        ));
    }
    let mut entries = Vec::new();
    let mut groups: HashMap<(u64, u64), u64> = HashMap::new();
    let mut other_owners = 0usize;
    let mut dropped_bits: Vec<String> = Vec::new();
    let mut first_other = String::new();
    let walk = walkdir::WalkDir::new(tree)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for item in walk {
        let item = item.map_err(|e| {
            let p = e.path().unwrap_or(tree).to_path_buf();
            bad(&p, format!("cannot walk: {e}"))
        })?;
        let rel = item.path().strip_prefix(tree).unwrap_or(item.path());
        let Some(path) = rel.to_str().map(str::to_owned) else {
            return Err(bad(
                item.path(),
                "a name that is not UTF-8 cannot go into the image; rename it".into(),
            ));
        };
        // An excluded directory stays, as a mount point; what it holds does not go in.
        if exclude.iter().any(|e| {
            path.strip_prefix(e.as_str())
                .is_some_and(|r| r.starts_with('/'))
        }) {
            continue;
        }
        let meta = item
            .metadata()
            .map_err(|e| bad(item.path(), e.to_string()))?;
        let ft = meta.file_type();
        if meta.uid() != 0 || meta.gid() != 0 {
            other_owners += 1;
            if first_other.is_empty() {
                first_other = path.clone();
            }
        }
        // Owners become root in the image, so a setuid bit of a file another user owns
        // (or a setgid bit of another group) would grant root: such a bit is dropped.
        let mut mode = meta.mode() & 0o7777;
        let unsafe_bits =
            (if meta.uid() != 0 { 0o4000 } else { 0 }) | (if meta.gid() != 0 { 0o2000 } else { 0 });
        if ft.is_file() && mode & unsafe_bits != 0 {
            mode &= !unsafe_bits;
            dropped_bits.push(path.clone());
        }
        let dev = |rdev: u64| (libc::major(rdev), libc::minor(rdev));
        let (kind, hardlink_group) = if ft.is_dir() {
            (EntryKind::Dir, None)
        } else if ft.is_symlink() {
            let t =
                std::fs::read_link(item.path()).map_err(|e| BuildError::read(item.path(), e))?;
            let Some(t) = t.to_str() else {
                return Err(bad(item.path(), "a link target that is not UTF-8".into()));
            };
            (EntryKind::Symlink(t.to_owned()), None)
        } else if ft.is_file() {
            let group = (meta.nlink() > 1).then(|| {
                let next = groups.len() as u64;
                *groups.entry((meta.dev(), meta.ino())).or_insert(next)
            });
            let kind = EntryKind::HashedFile {
                source: item.path().to_path_buf(),
                digest: DigestSlot::default(),
            };
            (kind, group)
        } else if ft.is_char_device() {
            let (major, minor) = dev(meta.rdev());
            (EntryKind::CharDev { major, minor }, None)
        } else if ft.is_block_device() {
            let (major, minor) = dev(meta.rdev());
            (EntryKind::BlockDev { major, minor }, None)
        } else {
            return Err(bad(
                item.path(),
                "a socket or FIFO cannot go into a root image; remove it from the tree".into(),
            ));
        };
        entries.push(Entry {
            path,
            mode,
            kind,
            hardlink_group,
        });
    }
    let mut warnings = Vec::new();
    if other_owners > 0 {
        warnings.push(format!(
            "{other_owners} entries are owned by another user or group than root (first: {first_other}); the image stores every owner as 0"
        ));
    }
    if let Some(first) = dropped_bits.first() {
        warnings.push(format!(
            "{} files lost a setuid or setgid bit, because their owner or group is not root and the image stores every owner as 0 (first: {first}); give them to root in the tree if they need the bit",
            dropped_bits.len()
        ));
    }
    Ok((entries, warnings))
}

/// The manifest line of one written entry.
fn record(e: &Entry) -> RootFile {
    let (kind, size, sha256, target) = match &e.kind {
        EntryKind::Dir => ("dir", None, None, None),
        EntryKind::Symlink(t) => ("symlink", None, None, Some(t.clone())),
        EntryKind::HashedFile { digest, .. } => match digest.get() {
            Some(d) => ("file", Some(d.size), Some(hex(&d.sha256)), None),
            None => ("file", None, None, None),
        },
        EntryKind::Bytes(b) => (
            "file",
            Some(b.len() as u64),
            Some(hex(&Sha256::digest(b))),
            None,
        ),
        EntryKind::File { .. } => ("file", None, None, None),
        EntryKind::CharDev { major, minor } => {
            ("chardev", None, None, Some(format!("{major},{minor}")))
        }
        EntryKind::BlockDev { major, minor } => {
            ("blockdev", None, None, Some(format!("{major},{minor}")))
        }
    };
    RootFile {
        path: e.path.clone(),
        kind,
        mode: format!("{:04o}", e.mode),
        size,
        sha256,
        target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/a"), b"hello").unwrap();
        std::fs::hard_link(dir.join("bin/a"), dir.join("bin/b")).unwrap();
        std::os::unix::fs::symlink("a", dir.join("bin/c")).unwrap();
        std::fs::create_dir(dir.join("etc")).unwrap();
    }

    #[test]
    fn same_tree_same_bytes_and_manifest() {
        let t = tempfile::tempdir().unwrap();
        tree(&t.path().join("root"));
        let a = build_root_image(
            &t.path().join("root"),
            &t.path().join("a.img"),
            Compression::Gzip,
            None,
            &[],
        )
        .unwrap();
        // Touching the files changes mtimes; the image must not change.
        std::fs::write(t.path().join("root/bin/a"), b"hello").unwrap();
        let b = build_root_image(
            &t.path().join("root"),
            &t.path().join("b.img"),
            Compression::Gzip,
            None,
            &[],
        )
        .unwrap();
        assert_eq!(
            std::fs::read(t.path().join("a.img")).unwrap(),
            std::fs::read(t.path().join("b.img")).unwrap()
        );
        assert_eq!(a.to_json(), b.to_json().replace("b.img", "a.img"));
        let written = std::fs::read(t.path().join("a.img")).unwrap();
        assert_eq!(a.image_sha256, hex(&Sha256::digest(&written)));
        let paths: Vec<_> = a.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["bin", "bin/a", "bin/b", "bin/c", "etc"]);
        let a_file = &a.files[1];
        assert_eq!(a_file.size, Some(5));
        assert_eq!(
            a_file.sha256.as_deref(),
            Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert_eq!(a.files[3].target.as_deref(), Some("a"));
        // The hardlink stays one file: the image lists it twice, with one body.
        let listed = srbuild_archive::list_image(&t.path().join("a.img")).unwrap();
        let b_entry = listed.iter().find(|e| e.path == "bin/b").unwrap();
        assert_eq!(b_entry.nlink, 2);
    }

    #[test]
    fn refuses_what_busybox_cannot_unpack_and_a_file_as_tree() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), b"x").unwrap();
        let e = build_root_image(
            &t.path().join("f"),
            &t.path().join("o"),
            Compression::Gzip,
            None,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a directory"), "{e}");
        let e = build_root_image(t.path(), &t.path().join("o"), Compression::Zstd, None, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("busybox"), "{e}");
        for bad in ["usr", "/", "/usr/", "/a/../b"] {
            let e = build_root_image(
                t.path(),
                &t.path().join("o"),
                Compression::Gzip,
                None,
                &[bad.into()],
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(&format!("--exclude {bad:?}")), "{e}");
        }
    }

    #[test]
    fn an_excluded_directory_stays_empty() {
        let t = tempfile::tempdir().unwrap();
        tree(&t.path().join("root"));
        let m = build_root_image(
            &t.path().join("root"),
            &t.path().join("a.img"),
            Compression::None,
            None,
            &["/bin".into()],
        )
        .unwrap();
        let paths: Vec<_> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["bin", "etc"]);
    }

    #[test]
    fn a_setgid_bit_of_another_group_is_dropped_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        tree(&root);
        let f = root.join("bin/a");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o2755)).unwrap();
        // Only root can give a file to another group; elsewhere the bit belongs to the
        // tester's own group, which is kept unless that group is not root either.
        let chowned = std::os::unix::fs::chown(&f, None, Some(1)).is_ok();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o2755)).unwrap();
        let m =
            build_root_image(&root, &t.path().join("a.img"), Compression::None, None, &[]).unwrap();
        let gid = std::fs::metadata(&f).unwrap().gid();
        let listed = srbuild_archive::list_image(&t.path().join("a.img")).unwrap();
        let a = listed.iter().find(|e| e.path == "bin/a").unwrap();
        if gid != 0 {
            assert_eq!(a.mode & 0o7777, 0o755, "chowned={chowned}");
            assert!(
                m.warnings
                    .iter()
                    .any(|w| w.contains("setgid") && w.contains("bin/a")),
                "{:?}",
                m.warnings
            );
        } else {
            assert_eq!(a.mode & 0o7777, 0o2755);
        }
    }
}
