//! Unit tests of the helpers: links planted at the temporary name or the log are refused,
//! a failed write leaves nothing behind, modes and contents land as asked.

use crate::atomic::create_new_at;
use crate::{copy_file, open_append, write_file, AtomicFile};
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

fn mode_of(p: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

/// Names in `dir`, sorted.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_link_planted_at_the_temporary_name_is_eexist_and_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    symlink(&victim, d.path().join(".planted")).unwrap();
    let dir = rustix::fs::open(
        d.path(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let e = create_new_at(&dir, std::ffi::OsStr::new(".planted")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    // A dangling link too (O_CREAT without O_EXCL would create its target).
    symlink(d.path().join("nowhere"), d.path().join(".dangling")).unwrap();
    let e = create_new_at(&dir, std::ffi::OsStr::new(".dangling")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(!d.path().join("nowhere").exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(mode_of(&victim), 0o600);
}

#[test]
fn write_file_replaces_a_link_and_sets_the_mode() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let target = d.path().join("out");
    symlink(&victim, &target).unwrap();
    write_file(&target, b"new", 0o640, None).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    assert_eq!(mode_of(&target), 0o640);
    assert_eq!(names(d.path()), ["out", "victim"]);
}

#[test]
fn an_uncommitted_file_is_removed_and_the_target_kept() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("out");
    std::fs::write(&target, "old").unwrap();
    {
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"half").unwrap();
        assert!(f.temp_path().exists());
    }
    assert_eq!(names(d.path()), ["out"]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
}

#[test]
fn a_failed_commit_removes_the_temporary_file() {
    let d = tempfile::tempdir().unwrap();
    // A directory at the target: renameat of a file over it fails (EISDIR).
    let target = d.path().join("out");
    std::fs::create_dir(&target).unwrap();
    let mut f = AtomicFile::create(&target).unwrap();
    f.write_all(b"x").unwrap();
    assert!(f.commit(0o644, None).is_err());
    assert_eq!(names(d.path()), ["out"]);
    assert!(target.is_dir());
}

#[test]
fn copy_file_refuses_a_linked_source_when_asked_and_copies_otherwise() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::write(&src, "body").unwrap();
    let link = d.path().join("link");
    symlink(&src, &link).unwrap();
    let dst = d.path().join("dst");
    assert!(copy_file(&link, &dst, 0o644, None, true).is_err());
    assert!(!dst.exists());
    assert_eq!(copy_file(&link, &dst, 0o644, None, false).unwrap(), 4);
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), "body");
    assert_eq!(mode_of(&dst), 0o644);
    // A directory as the source: refused, nothing left.
    assert!(copy_file(d.path(), &d.path().join("d2"), 0o644, None, false).is_err());
    assert_eq!(names(d.path()), ["dst", "link", "src"]);
}

#[test]
fn open_append_refuses_a_linked_file_or_directory_and_tightens_the_mode() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let log = d.path().join("hook.log");
    symlink(&victim, &log).unwrap();
    let e = open_append(&log, 0o600).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    std::fs::remove_file(&log).unwrap();

    let real = d.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let via = d.path().join("via");
    symlink(&real, &via).unwrap();
    let e = open_append(&via.join("hook.log"), 0o600).unwrap_err();
    assert!(e.to_string().contains("directory"), "{e}");
    assert!(!real.join("hook.log").exists());

    std::fs::write(&log, "old\n").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut f = open_append(&log, 0o600).unwrap();
    f.write_all(b"new\n").unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "old\nnew\n");
    assert_eq!(mode_of(&log), 0o600);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

#[test]
fn open_append_and_chmod_nofollow_refuse_a_hard_link_to_another_file() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = d.path().join("hook.log");
    std::fs::hard_link(&victim, &log).unwrap();
    let e = open_append(&log, 0o644).unwrap_err();
    assert!(e.to_string().contains("hard links"), "{e}");
    let e = crate::chmod_nofollow(&log, 0o644).unwrap_err();
    assert!(e.to_string().contains("hard links"), "{e}");
    assert_eq!(mode_of(&victim), 0o600);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

#[test]
fn a_temporary_file_swapped_for_a_link_is_not_renamed_into_place() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let target = d.path().join("out");
    std::fs::write(&target, "old").unwrap();
    let mut f = AtomicFile::create(&target).unwrap();
    f.write_all(b"new").unwrap();
    let link = d.path().join("link");
    symlink(&victim, &link).unwrap();
    std::fs::rename(&link, f.temp_path()).unwrap();
    let e = f.commit(0o644, None).unwrap_err();
    assert!(e.to_string().contains("replaced by someone else"), "{e}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
    assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(mode_of(&victim), 0o600);
}

#[test]
fn create_new_refuses_anything_there_and_removes_a_failed_file() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let at = d.path().join("new");
    symlink(&victim, &at).unwrap();
    let e = crate::create_new(&at, 0o755, |f| f.write_all(b"x")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    std::fs::remove_file(&at).unwrap();
    let e = crate::create_new(&at, 0o644, |_| Err(std::io::Error::other("boom"))).unwrap_err();
    assert_eq!(e.to_string(), "boom");
    assert!(!at.exists());
    crate::create_new(&at, 0o750, |f| f.write_all(b"body")).unwrap();
    assert_eq!(std::fs::read_to_string(&at).unwrap(), "body");
    assert_eq!(mode_of(&at), 0o750);
}

#[test]
fn chmod_nofollow_refuses_a_link() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = d.path().join("link");
    symlink(&victim, &link).unwrap();
    assert!(crate::chmod_nofollow(&link, 0o644).is_err());
    assert_eq!(mode_of(&victim), 0o600);
    crate::chmod_nofollow(&victim, 0o640).unwrap();
    assert_eq!(mode_of(&victim), 0o640);
    crate::chmod_nofollow(d.path(), 0o750).unwrap();
    assert_eq!(mode_of(d.path()), 0o750);
}

#[test]
fn a_target_with_a_long_name_gets_a_temporary_name_that_fits() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("n".repeat(250));
    write_file(&target, b"x", 0o600, None).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"x");
}

#[test]
fn copy_file_refuses_a_fifo_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let e = copy_file(&fifo, &d.path().join("out"), 0o644, None, true).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    assert!(!d.path().join("out").exists());
}
