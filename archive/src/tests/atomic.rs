//! Atomic output: failures leave the previous image and no temporary file.

use std::path::PathBuf;
use std::process::Command;

use super::*;
use crate::{list_image, write_image, ArchiveError, Compression};

fn missing_source() -> Vec<Entry> {
    vec![
        bytes("a", b"1"),
        Entry {
            path: "b".into(),
            mode: 0o644,
            kind: EntryKind::File {
                source: PathBuf::from("/nonexistent/source/file"),
            },
            hardlink_group: None,
        },
    ]
}

#[test]
fn missing_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("no-such-dir/initrd.img");
    let err = write_image(&out, &[bytes("a", b"1")], Compression::Zstd, 0).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ArchiveError::TempFile { .. }), "{msg}");
    assert!(msg.contains("cannot create a temporary file in") && msg.contains("choose another -o"));
    assert!(msg.contains("no-such-dir"), "{msg}");
    assert!(dir_names(tmp.path()).is_empty());
}

#[test]
fn output_is_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let err = write_image(tmp.path(), &[bytes("a", b"1")], Compression::Gzip, 0).unwrap_err();
    assert!(matches!(err, ArchiveError::OutputIsDir { .. }), "{err}");
    assert!(dir_names(tmp.path()).is_empty());
}

#[test]
fn failed_write_keeps_previous_image() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("initrd.img");
    write_image(&out, &[bytes("old", b"old")], Compression::Zstd, 0).unwrap();
    let before = std::fs::read(&out).unwrap();
    for c in Compression::ALL {
        let err = write_image(&out, &missing_source(), c, 0).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/source/file"), "{msg}");
        assert_eq!(std::fs::read(&out).unwrap(), before, "{c}");
        assert_eq!(
            dir_names(tmp.path()),
            ["initrd.img"],
            "{c}: temp file left behind"
        );
    }
    assert_eq!(list_image(&out).unwrap()[0].path, "old");
}

#[test]
fn unwritable_directory() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        println!("SKIP unwritable_directory: root ignores directory permissions");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let err =
        write_image(&ro.join("x.img"), &[bytes("a", b"1")], Compression::None, 0).unwrap_err();
    assert!(err.to_string().contains("Permission denied"), "{err}");
}

#[test]
fn disk_full_is_reported_and_cleaned_up() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP disk_full_is_reported_and_cleaned_up: needs root to mount tmpfs");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!(
                "SKIP disk_full_is_reported_and_cleaned_up: mount not permitted: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("SKIP disk_full_is_reported_and_cleaned_up: cannot run mount: {e}");
            return;
        }
    }
    // Incompressible-ish data, larger than the file system.
    let mut state: u32 = 12345;
    let data: Vec<u8> = (0..512 * 1024)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        })
        .collect();
    let result = write_image(
        &mnt.join("big.img"),
        &[bytes("big", &data)],
        Compression::None,
        0,
    );
    let leftovers = dir_names(&mnt);
    let _ = Command::new("umount").arg(&mnt).status();
    let err = result.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ArchiveError::DiskFull { .. }), "{msg}");
    assert!(
        msg.contains("disk full") || msg.contains("No space"),
        "{msg}"
    );
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn source_changing_size_is_detected() {
    // /proc files stat as 0 bytes but read as more: exactly a "file grew" case.
    let proc_file = std::path::Path::new("/proc/self/status");
    if !proc_file.exists() {
        println!("SKIP source_changing_size_is_detected: no /proc");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let entry = Entry {
        path: "status".into(),
        mode: 0o644,
        kind: EntryKind::File {
            source: proc_file.to_path_buf(),
        },
        hardlink_group: None,
    };
    let err = write_image(&tmp.path().join("x.img"), &[entry], Compression::None, 0).unwrap_err();
    assert!(matches!(err, ArchiveError::SourceChanged { .. }), "{err}");
    assert!(err.to_string().contains("/proc/self/status"), "{err}");
    assert!(dir_names(tmp.path()).is_empty());
}

#[test]
fn non_regular_source_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for source in [fifo.clone(), tmp.path().to_path_buf()] {
        let entry = Entry {
            path: "x".into(),
            mode: 0o644,
            kind: EntryKind::File { source },
            hardlink_group: None,
        };
        let err =
            write_image(&tmp.path().join("x.img"), &[entry], Compression::Zstd, 0).unwrap_err();
        assert!(matches!(err, ArchiveError::NotRegularFile { .. }), "{err}");
    }
    assert_eq!(dir_names(tmp.path()), ["fifo"]);
}

#[test]
fn new_images_are_0600_replaced_ones_keep_their_mode_and_a_mode_can_be_asked_for() {
    use crate::write_image_with_mode;
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.img");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    write_image(&out, &[bytes("a", b"1")], Compression::Zstd, 0).unwrap();
    assert_eq!(mode(&out), 0o600, "a new image is private");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    write_image(&out, &[bytes("a", b"2")], Compression::Zstd, 0).unwrap();
    assert_eq!(mode(&out), 0o640, "a replaced image keeps its mode");
    write_image_with_mode(&out, &[bytes("a", b"3")], Compression::Zstd, 0, Some(0o644)).unwrap();
    assert_eq!(mode(&out), 0o644, "--mode wins");
}

#[test]
fn a_replaced_images_loose_mode_is_not_kept_nor_one_read_through_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.img");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    write_image(&out, &[bytes("a", b"1")], Compression::Zstd, 0).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o4777)).unwrap();
    write_image(&out, &[bytes("a", b"2")], Compression::Zstd, 0).unwrap();
    assert_eq!(mode(&out), 0o755, "no setuid, no group or other write");
    // A link at the output's name lends nothing of its target's mode.
    let target = tmp.path().join("target");
    std::fs::write(&target, b"t").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = tmp.path().join("l.img");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    write_image(&link, &[bytes("a", b"3")], Compression::Zstd, 0).unwrap();
    assert_eq!(mode(&link), 0o600);
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"t",
        "the link's target is untouched"
    );
}
