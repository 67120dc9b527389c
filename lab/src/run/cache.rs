//! Housekeeping of the lab cache (`rootfs::cache_dir`): entries are named by a hash of
//! what they are made of ([`fnv1a`]), what a run reuses is refreshed
//! ([`touch`]), and this user's entries of a kind that no run used for [`STALE_DAYS`]
//! days are removed ([`sweep`]), so old kernels and old Debian roots do not pile up.
//! Runs side by side (`cargo xtask lab --jobs 2`, or two users' commands) build an entry
//! one at a time under [`lock`], so a second run reuses the first one's result.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Entries (and leftover temporary files) unused for this long are removed.
pub const STALE_DAYS: u64 = 30;

/// FNV-1a (64 bit): stable names for cache entries, from what they are made of.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether `meta` is a regular file (not a link) owned by this user: the only kind of
/// cache entry a run reuses or removes.
pub fn is_ours(meta: &std::fs::Metadata) -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    meta.file_type().is_file() && meta.uid() == uid
}

/// The name of the lock file in the cache (not an entry: [`sweep`] never matches it).
pub const LOCK: &str = ".build.lock";

/// Takes the cache's build lock (an exclusive `flock` on [`LOCK`], released when the file
/// is dropped), saying so when another run holds it. A caller checks for its entry again
/// once it holds the lock: the other run may have built it.
pub fn lock(cache: &Path) -> crate::Result<std::fs::File> {
    use rustix::fs::{flock, FlockOperation};
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(cache).map_err(|e| crate::LabError::io("cannot create", cache, e))?;
    let path = cache.join(LOCK);
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| crate::LabError::io("cannot open the cache lock", &path, e))?;
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        println!(
            "lab: another run is building in the cache {}; waiting for it",
            cache.display()
        );
        flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| crate::LabError::io("cannot lock", &path, e.into()))?;
    }
    Ok(file)
}

/// Marks `path` as used now (best effort; a link there is not followed).
pub fn touch(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::File::options()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()));
}

/// Removes this user's regular files in `cache` whose names start with one of `prefixes`
/// and that were not used for [`STALE_DAYS`] days; `keep` is never removed. Best effort:
/// a cache that cannot be read is left alone.
pub fn sweep(cache: &Path, prefixes: &[&str], keep: &Path) {
    let Ok(dir) = std::fs::read_dir(cache) else {
        return;
    };
    let limit = Duration::from_secs(STALE_DAYS * 24 * 3600);
    for e in dir.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !prefixes.iter().any(|p| name.starts_with(p)) || e.path() == keep {
            continue;
        }
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > limit);
        if old && is_ours(&meta) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_lock_excludes_a_second_holder_until_dropped() {
        use rustix::fs::{flock, FlockOperation};
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let held = lock(&cache).unwrap();
        let other = std::fs::File::open(cache.join(LOCK)).unwrap();
        assert!(flock(&other, FlockOperation::NonBlockingLockExclusive).is_err());
        drop(held);
        assert!(flock(&other, FlockOperation::NonBlockingLockExclusive).is_ok());
        // Not an entry: no sweep prefix of an entry kind matches it.
        for p in [
            "debian-",
            ".debian-",
            "sysroot-",
            ".sysroot-",
            "vmlinux-",
            ".vmlinux-",
        ] {
            assert!(!LOCK.starts_with(p));
        }
    }

    #[test]
    fn stale_entries_of_the_kind_go_and_the_rest_stays() {
        let dir = tempfile::tempdir().unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs((STALE_DAYS + 1) * 24 * 3600);
        let make = |name: &str, when: SystemTime| {
            let p = dir.path().join(name);
            std::fs::write(&p, b"x").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(when)
                .unwrap();
            p
        };
        let old = make("vmlinux-1", long_ago);
        let old_tmp = make(".vmlinux-tmp-abc", long_ago);
        let kept = make("vmlinux-2", long_ago);
        let recent = make("vmlinux-3", SystemTime::now());
        let other = make("debian-bookworm.tar", long_ago);
        let touched = make("vmlinux-4", long_ago);
        touch(&touched);
        let dir_entry = dir.path().join("vmlinux-dir");
        std::fs::create_dir(&dir_entry).unwrap();
        sweep(dir.path(), &["vmlinux-", ".vmlinux-tmp-"], &kept);
        assert!(!old.exists() && !old_tmp.exists());
        assert!(kept.exists() && recent.exists() && other.exists() && touched.exists());
        assert!(dir_entry.is_dir(), "only regular files are removed");
    }
}
