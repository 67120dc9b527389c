//! write → list round trips for every compression, determinism and mtime.

use super::*;
use crate::entry::{S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG};
use crate::{format_listing, list_bytes, list_image, write_cpio, write_image, Compression};

#[test]
fn round_trip_every_compression() {
    let tmp = tempfile::tempdir().unwrap();
    let src = host_file(tmp.path(), 100_000);
    let entries = sample(&src);
    for c in Compression::ALL {
        let out = tmp.path().join(format!("img.{c}"));
        let stats = write_image(&out, &entries, c, 1_700_000_000).unwrap();
        assert_eq!(stats.entries, entries.len());
        let on_disk = std::fs::metadata(&out).unwrap().len();
        assert_eq!(stats.compressed_bytes, on_disk, "{c}");
        if c == Compression::None {
            assert_eq!(stats.compressed_bytes, stats.uncompressed_bytes);
        } else {
            assert!(stats.compressed_bytes < stats.uncompressed_bytes, "{c}");
        }
        let listed = list_image(&out).unwrap();
        let names: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
        let expected: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, expected, "{c}");
        let by = |p: &str| listed.iter().find(|e| e.path == p).unwrap();
        assert_eq!(by("usr/bin").mode, S_IFDIR | 0o755);
        assert_eq!(by("dev/console").mode, S_IFCHR | 0o600);
        assert_eq!(by("dev/console").rdev, (5, 1));
        assert_eq!(by("lib64").mode, S_IFLNK | 0o777);
        assert_eq!(by("lib64").link_target.as_deref(), Some("usr/lib64"));
        assert_eq!(by("usr/bin/busybox").mode, S_IFREG | 0o755);
        assert_eq!(
            (by("usr/bin/busybox").nlink, by("usr/bin/busybox").size),
            (2, 7)
        );
        assert_eq!((by("usr/bin/sh").nlink, by("usr/bin/sh").size), (2, 0));
        assert_eq!(by("usr/share.txt").size, 100_000);
        assert!(listed.iter().all(|e| e.segment == 0));
        assert_eq!(
            format_listing(by("lib64")),
            "lrwxrwxrwx     0     0        9 lib64 -> usr/lib64"
        );
        // A new image is private (it can carry a cluster's identity and keys).
        use std::os::unix::fs::PermissionsExt;
        let perm = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(perm, 0o600);
    }
}

#[test]
fn writes_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let src = host_file(tmp.path(), 300_000);
    let entries = sample(&src);
    for c in Compression::ALL {
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        write_image(&a, &entries, c, 42).unwrap();
        write_image(&b, &entries, c, 42).unwrap();
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{c}"
        );
    }
    let mut x = Vec::new();
    let mut y = Vec::new();
    write_cpio(&entries, 42, &mut x).unwrap();
    write_cpio(&entries, 43, &mut y).unwrap();
    assert_ne!(x, y, "mtime must be part of the output");
}

#[test]
fn mtime_and_owner_are_fixed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = host_file(tmp.path(), 10);
    let entries = sample(&src);
    let mut raw = Vec::new();
    let n = write_cpio(&entries, 0x1234_5678, &mut raw).unwrap();
    assert_eq!(n as usize, raw.len());
    assert_eq!(raw.len() % 4, 0);
    let mut rest: &[u8] = &raw;
    let mut inos = Vec::new();
    loop {
        let r = cpio::newc::Reader::new(rest).unwrap();
        if r.entry().is_trailer() {
            break;
        }
        assert_eq!(r.entry().mtime(), 0x1234_5678);
        assert_eq!((r.entry().uid(), r.entry().gid()), (0, 0));
        assert_eq!((r.entry().dev_major(), r.entry().dev_minor()), (0, 0));
        inos.push(r.entry().ino());
        rest = r.finish().unwrap();
    }
    // 1,2,3... in entry order; the hardlinked sh (index 7) reuses busybox's inode.
    assert_eq!(inos, vec![1, 2, 3, 4, 5, 6, 7, 7, 8]);
    assert_eq!(list_bytes(&raw).unwrap().len(), entries.len());
}

#[test]
fn multi_segment_with_padding() {
    let tmp = tempfile::tempdir().unwrap();
    let first = vec![dir("early"), bytes("early/microcode.bin", b"ucode")];
    let second = vec![dir("etc"), bytes("etc/hostname", b"node1\n")];
    let mut image = Vec::new();
    write_cpio(&first, 0, &mut image).unwrap();
    image.extend_from_slice(&[0u8; 512]);
    for c in [
        Compression::Zstd,
        Compression::Gzip,
        Compression::Xz,
        Compression::Lz4,
    ] {
        let p = tmp.path().join(format!("seg.{c}"));
        write_image(&p, &second, c, 0).unwrap();
        image.extend_from_slice(&std::fs::read(&p).unwrap());
        image.extend_from_slice(&[0u8; 13]);
    }
    // And a final raw archive after the lz4 stream.
    write_cpio(&[bytes("last", b"x")], 0, &mut image).unwrap();
    let listed = list_bytes(&image).unwrap();
    let got: Vec<(usize, &str)> = listed
        .iter()
        .map(|e| (e.segment, e.path.as_str()))
        .collect();
    let mut want = vec![(0, "early"), (0, "early/microcode.bin")];
    for seg in 1..=4 {
        want.push((seg, "etc"));
        want.push((seg, "etc/hostname"));
    }
    want.push((5, "last"));
    assert_eq!(got, want);
}

#[test]
fn compressed_segment_may_hold_several_archives() {
    let mut cpio_data = Vec::new();
    write_cpio(&[bytes("a", b"1")], 0, &mut cpio_data).unwrap();
    cpio_data.extend_from_slice(&[0; 8]);
    write_cpio(&[bytes("b", b"2")], 0, &mut cpio_data).unwrap();
    let z = zstd::encode_all(cpio_data.as_slice(), 3).unwrap();
    let listed = list_bytes(&z).unwrap();
    let got: Vec<(usize, &str)> = listed
        .iter()
        .map(|e| (e.segment, e.path.as_str()))
        .collect();
    assert_eq!(got, vec![(0, "a"), (0, "b")]);
}
