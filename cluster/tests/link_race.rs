//! The link race of issue 24: while `srbuild cluster addnode` and `srbuild cluster
//! netboot` run again and again, a racing thread swaps every temporary file it sees in
//! their directory for a symlink to a victim file. The victim's content, mode and owner
//! must never change (a chmod, chown or copy by path after the create would follow it).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SAMPLE: &str = include_str!("common_sample.toml");
/// Runs per command; the whole test is also bounded in time.
const ROUNDS: usize = 200;
const TIME_LIMIT: Duration = Duration::from_secs(10);

fn run(file: &Path, args: &[&str]) {
    // A lost race may make a run fail (the helper refuses a swapped temporary file);
    // what matters is the victim.
    let _ = common::run(file, args);
}

/// (content, mode, uid, gid) of `p`; the content as its length and start (a failure
/// message stays readable).
fn state(p: &Path) -> (String, u32, u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap();
    let body = std::fs::read(p).unwrap();
    let head = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
    (
        format!("{} bytes: {head}", body.len()),
        m.mode() & 0o7777,
        m.uid(),
        m.gid(),
    )
}

/// A thread that swaps every `*.srbuild-tmp.*` name in `dir` for a link to `victim`
/// until `stop`; returns how many swaps it made.
fn racer(dir: PathBuf, victim: PathBuf, stop: Arc<AtomicBool>, swaps: Arc<AtomicUsize>) {
    let link = dir.join("racer-link");
    while !stop.load(Ordering::Relaxed) {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            if !e.file_name().to_string_lossy().contains(".srbuild-tmp.") {
                continue;
            }
            let _ = std::fs::remove_file(&link);
            if std::os::unix::fs::symlink(&victim, &link).is_ok()
                && std::fs::rename(&link, e.path()).is_ok()
            {
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Runs `step` ROUNDS times (or for TIME_LIMIT) with the racer on `dir`.
fn race(dir: &Path, victim: &Path, mut step: impl FnMut()) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let t = {
        let (d, v, s, n) = (
            dir.to_path_buf(),
            victim.to_path_buf(),
            stop.clone(),
            swaps.clone(),
        );
        std::thread::spawn(move || racer(d, v, s, n))
    };
    let start = Instant::now();
    for _ in 0..ROUNDS {
        step();
        if start.elapsed() > TIME_LIMIT {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    swaps.load(Ordering::Relaxed)
}

/// A private victim beside the files under attack: 0600, owned by another uid when root.
fn victim(dir: &Path, body: &str) -> PathBuf {
    let v = dir.join("victim");
    std::fs::write(&v, body).unwrap();
    std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _ = std::os::unix::fs::chown(&v, Some(4321), Some(4321));
    v
}

#[test]
fn addnode_never_changes_a_file_linked_in_for_its_temporary_file() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("desc");
    std::fs::create_dir(&dir).unwrap();
    let victim = victim(outer.path(), "root-only secret\n");
    let before = state(&victim);
    let file = dir.join("cluster.toml");
    let swaps = race(&dir, &victim, || {
        // A fresh description each round, 0644 and (when root) owned by another uid.
        let _ = std::fs::remove_file(&file);
        std::fs::write(&file, SAMPLE).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _ = std::os::unix::fs::chown(&file, Some(1234), Some(1234));
        run(
            &file,
            &[
                "addnode",
                "node9",
                "--mac",
                "52:54:00:77:00:99",
                "--id",
                "99",
            ],
        );
        run(&file, &["removenode", "node9"]);
    });
    assert_eq!(state(&victim), before, "after {swaps} swaps");
    // The racer did get in: the test exercised the race it is about.
    assert!(swaps > 0, "the racer never saw a temporary file");
}

#[test]
fn netboot_never_changes_a_file_linked_in_for_its_temporary_file() {
    let outer = tempfile::tempdir().unwrap();
    let file = outer.path().join("cluster.toml");
    std::fs::write(&file, SAMPLE).unwrap();
    let out = outer.path().join("tftp");
    std::fs::create_dir(&out).unwrap();
    let victim = victim(outer.path(), "root-only secret\n");
    let before = state(&victim);
    let kernel = outer.path().join("vmlinuz-src");
    let initrd = outer.path().join("initrd-src");
    std::fs::write(&kernel, vec![b'K'; 64 * 1024]).unwrap();
    common::write_initramfs(&initrd, "init", &vec![b'I'; 256 * 1024]);
    let args = [
        "netboot",
        out.to_str().unwrap(),
        "--kernel",
        kernel.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
    ];
    let swaps = race(&out, &victim, || run(&file, &args));
    assert_eq!(state(&victim), before, "after {swaps} swaps");
    assert!(swaps > 0, "the racer never saw a temporary file");
}
