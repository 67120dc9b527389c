//! Extraction: faithful for good images, refusing for hostile ones.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;
use crate::{extract_image, write_image, ArchiveError, Compression};

/// Raw newc archive from (name, mode, body) triples, bypassing the writer's checks.
fn crafted(members: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, mode, body)) in members.iter().enumerate() {
        let mut w = cpio::newc::Builder::new(name)
            .ino(i as u32 + 1)
            .mode(*mode)
            .write(&mut out, body.len() as u32);
        w.write_all(body).unwrap();
        w.finish().unwrap();
    }
    cpio::newc::trailer(&mut out).unwrap();
    out
}

fn extract_bytes(data: &[u8], dir: &Path) -> Result<crate::ExtractStats, ArchiveError> {
    let img = dir.with_extension("img");
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&img, data).unwrap();
    extract_image(&img, dir, false)
}

#[test]
fn extracts_a_good_image() {
    let tmp = tempfile::tempdir().unwrap();
    let src = host_file(tmp.path(), 4321);
    let img = tmp.path().join("img.zst");
    let mut entries = sample(&src);
    entries.push(Entry {
        path: "ro".into(),
        mode: 0o555,
        kind: EntryKind::Dir,
        hardlink_group: None,
    });
    entries.push(bytes("ro/inside", b"x"));
    write_image(&img, &entries, Compression::Zstd, 0).unwrap();
    let out = tmp.path().join("out");
    let stats = extract_image(&img, &out, false).unwrap();
    assert_eq!(stats.dirs, 4);
    assert_eq!(stats.files, 5);
    assert_eq!(stats.symlinks, 1);
    assert_eq!(stats.skipped_devices, 1);
    assert!(!out.join("dev/console").exists());
    assert_eq!(
        std::fs::read(out.join("init")).unwrap(),
        b"#!/bin/sh\nexec /usr/bin/sh\n"
    );
    assert_eq!(
        std::fs::read_link(out.join("lib64")).unwrap(),
        Path::new("usr/lib64")
    );
    let a = std::fs::metadata(out.join("usr/bin/busybox")).unwrap();
    let b = std::fs::metadata(out.join("usr/bin/sh")).unwrap();
    assert_eq!(a.ino(), b.ino(), "hardlinks must share an inode");
    assert_eq!(a.nlink(), 2);
    assert_eq!(std::fs::read(out.join("usr/bin/sh")).unwrap().len(), 7);
    assert_eq!(a.permissions().mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read(out.join("usr/share.txt")).unwrap(),
        std::fs::read(&src).unwrap()
    );
    let ro = std::fs::metadata(out.join("ro")).unwrap();
    assert_eq!(ro.permissions().mode() & 0o7777, 0o555);
    assert_eq!(std::fs::read(out.join("ro/inside")).unwrap(), b"x");
}

#[test]
fn devices_are_created_only_when_allowed() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP devices_are_created_only_when_allowed: not root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = host_file(tmp.path(), 1);
    let img = tmp.path().join("img");
    write_image(&img, &sample(&src), Compression::None, 0).unwrap();
    let out = tmp.path().join("out");
    match extract_image(&img, &out, true) {
        Ok(stats) => {
            assert_eq!(stats.skipped_devices, 0);
            let m = std::fs::symlink_metadata(out.join("dev/console")).unwrap();
            use std::os::unix::fs::FileTypeExt;
            assert!(m.file_type().is_char_device());
            assert_eq!(m.rdev(), libc::makedev(5, 1));
        }
        Err(e) => println!("SKIP device creation (mknod not permitted here): {e}"),
    }
}

#[test]
fn refuses_dotdot() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let data = crafted(&[("ok", 0o100644, b"1"), ("../escape", 0o100644, b"evil")]);
    let err = extract_bytes(&data, &out).unwrap_err();
    assert!(matches!(err, ArchiveError::Unsafe { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("../escape") && msg.contains("unsafe"), "{msg}");
    assert!(!tmp.path().join("escape").exists());
    let data = crafted(&[("a/b/../../../escape2", 0o100644, b"evil")]);
    assert!(extract_bytes(&data, &tmp.path().join("out2")).is_err());
    assert!(!tmp.path().join("escape2").exists());
}

#[test]
fn absolute_and_dot_paths_stay_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let marker = tmp.path().join("abs-marker");
    let abs = format!("/{}", marker.display());
    let data = crafted(&[
        (".", 0o040755, b""),
        ("./etc", 0o040755, b""),
        ("./etc/motd", 0o100644, b"hi"),
        (abs.as_str(), 0o100644, b"abs"),
        ("//double//slash", 0o100600, b"ds"),
    ]);
    let stats = extract_bytes(&data, &out).unwrap();
    assert_eq!(stats.files, 3);
    assert_eq!(std::fs::read(out.join("etc/motd")).unwrap(), b"hi");
    assert!(!marker.exists(), "absolute path escaped the target");
    assert_eq!(
        std::fs::read(out.join(abs.trim_start_matches('/'))).unwrap(),
        b"abs"
    );
    assert_eq!(std::fs::read(out.join("double/slash")).unwrap(), b"ds");
}

#[test]
fn refuses_writing_through_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let out = tmp.path().join("out");
    let target = outside.display().to_string();
    for (i, second) in ["evil/passwd", "evil/sub/deeper", "./evil/x"]
        .iter()
        .enumerate()
    {
        let dir = out.join(i.to_string());
        let data = crafted(&[
            ("evil", 0o120777, target.as_bytes()),
            (second, 0o100644, b"root::0:0::/:/bin/sh\n"),
        ]);
        let err = extract_bytes(&data, &dir).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ArchiveError::Unsafe { .. }), "{msg}");
        assert!(msg.contains("symlink") && msg.contains("unsafe"), "{msg}");
        assert!(
            dir_names(&outside).is_empty(),
            "something was created outside"
        );
    }
    // A dir entry through the symlink is refused as well.
    let data = crafted(&[
        ("evil", 0o120777, target.as_bytes()),
        ("evil/newdir", 0o040755, b""),
    ]);
    assert!(extract_bytes(&data, &out.join("d")).is_err());
    assert!(dir_names(&outside).is_empty());
}

#[test]
fn replacing_a_symlink_does_not_follow_it() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"original").unwrap();
    let out = tmp.path().join("out");
    let target = victim.display().to_string();
    let data = crafted(&[
        ("link", 0o120777, target.as_bytes()),
        ("link", 0o100644, b"overwritten"),
    ]);
    extract_bytes(&data, &out).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"original");
    assert_eq!(std::fs::read(out.join("link")).unwrap(), b"overwritten");
    assert!(!std::fs::symlink_metadata(out.join("link"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn symlink_targets_are_stored_verbatim() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let data = crafted(&[
        ("etc-link", 0o120777, b"/etc"),
        ("up", 0o120777, b"../../.."),
    ]);
    let stats = extract_bytes(&data, &out).unwrap();
    assert_eq!(stats.symlinks, 2);
    assert_eq!(
        std::fs::read_link(out.join("etc-link")).unwrap(),
        Path::new("/etc")
    );
}

#[test]
fn setuid_bits_follow_privileges() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let data = crafted(&[("su", 0o104755, b"x")]);
    extract_bytes(&data, &out).unwrap();
    let mode = std::fs::metadata(out.join("su"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    // SAFETY: geteuid has no preconditions.
    let expected = if unsafe { libc::geteuid() } == 0 {
        0o4755
    } else {
        0o755
    };
    assert_eq!(mode, expected);
}
