//! Streaming reads: multi-frame zstd, large members without loading them,
//! symlink bounds, non-regular inputs, and the extract summary's counts.

use std::io::Write;

use super::*;
use crate::read::list_with_limit;
use crate::{extract_image, list_bytes, list_image, write_cpio, ArchiveError};

/// A newc header + name + padding, for hand-made members.
fn member(out: &mut Vec<u8>, name: &str, ino: u32, mode: u32, nlink: u32, body: &[u8]) {
    let namesize = name.len() + 1;
    write!(
        out,
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
        0, 0, 0, body.len(), 0, 0, 0, 0, 0
    )
    .unwrap();
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(body);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn trailer(out: &mut Vec<u8>) {
    member(out, "TRAILER!!!", 0, 0, 1, b"");
}

#[test]
fn a_cpio_split_across_two_zstd_frames_is_one_segment() {
    let mut raw = Vec::new();
    let entries: Vec<_> = (0..50)
        .map(|i| bytes(&format!("f{i}"), &vec![b'a' + (i % 26) as u8; 1000 + i]))
        .collect();
    write_cpio(&entries, 0, &mut raw).unwrap();
    let cut = raw.len() / 2 + 3; // mid-member, unaligned
    let mut image = zstd::encode_all(&raw[..cut], 3).unwrap();
    image.extend(zstd::encode_all(&raw[cut..], 3).unwrap());
    let listed = list_bytes(&image).unwrap();
    assert_eq!(listed.len(), 50);
    assert!(listed.iter().all(|e| e.segment == 0));
    assert_eq!(listed[49].path, "f49");
    assert_eq!(listed[49].size, 1049);
    // A third frame cut short is still an error.
    let mut short = image.clone();
    short.extend(&zstd::encode_all(&b"070701"[..], 3).unwrap()[..8]);
    let err = list_bytes(&short).unwrap_err().to_string();
    assert!(err.contains("zstd stream is corrupt or truncated"), "{err}");
}

#[test]
fn large_members_are_skipped_not_loaded_and_the_budget_still_holds() {
    // 64 MiB of zeros in one member inflates from a few KB.
    let mut raw = Vec::new();
    member(&mut raw, "big", 1, 0o100644, 1, &vec![0u8; 64 << 20]);
    member(&mut raw, "after", 2, 0o100644, 1, b"x");
    trailer(&mut raw);
    let z = zstd::encode_all(&raw[..], 3).unwrap();
    assert!(z.len() < 64 * 1024, "{}", z.len());
    let listed = list_bytes(&z).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].size, 64 << 20);
    let err = list_with_limit(&z, "bomb", 32 << 20).unwrap_err();
    assert!(matches!(err, ArchiveError::TooLarge { .. }), "{err}");
}

#[test]
fn symlink_targets_are_bounded() {
    let mut raw = Vec::new();
    member(&mut raw, "ok", 1, 0o120777, 1, b"target");
    member(&mut raw, "huge", 2, 0o120777, 1, &vec![b'a'; 5000]);
    trailer(&mut raw);
    let err = list_bytes(&raw).unwrap_err().to_string();
    assert!(err.contains("longer than PATH_MAX"), "{err}");
    assert!(err.contains("\"huge\""), "{err}");
}

#[test]
fn a_truncated_body_names_the_member() {
    let mut raw = Vec::new();
    member(&mut raw, "etc/motd", 1, 0o100644, 1, &[b'x'; 4000]);
    trailer(&mut raw);
    let cut = &raw[..2000];
    let err = list_bytes(cut).unwrap_err().to_string();
    assert!(err.contains("data of \"etc/motd\" is truncated"), "{err}");
    let z = zstd::encode_all(cut, 3).unwrap();
    let err = list_bytes(&z).unwrap_err().to_string();
    assert!(err.contains("etc/motd"), "{err}");
    assert!(err.contains("segment 0"), "{err}");
}

#[test]
fn devices_and_directories_are_not_images() {
    let err = list_image(std::path::Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a regular file"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    let err = list_image(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
    // A FIFO with no writer: refused at once, not a blocked open.
    let fifo = tmp.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let err = list_image(&fifo).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn extract_counts_a_gnu_style_hardlink_pair_as_two_files() {
    // GNU cpio: both links share an inode, the data travels with the last one.
    let mut raw = Vec::new();
    member(&mut raw, "bin", 1, 0o040755, 2, b"");
    member(&mut raw, "bin/a", 7, 0o100755, 2, b"");
    member(&mut raw, "bin/b", 7, 0o100755, 2, b"shared\n");
    member(&mut raw, "null", 8, 0o020666, 1, b"");
    trailer(&mut raw);
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("img");
    std::fs::write(&img, &raw).unwrap();
    let out = tmp.path().join("out");
    let stats = extract_image(&img, &out, false).unwrap();
    assert_eq!(stats.files, 2, "{stats:?}");
    assert_eq!(stats.hardlinks, 1, "{stats:?}");
    assert_eq!(stats.dirs, 1);
    assert_eq!(stats.devices, 0);
    assert_eq!(stats.skipped_devices, 1);
    assert_eq!(std::fs::read(out.join("bin/a")).unwrap(), b"shared\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(out.join("bin/a")).unwrap().ino(),
        std::fs::metadata(out.join("bin/b")).unwrap().ino()
    );
}
