//! The tree a run builds its images from and boots the kernel of ([`Sysroot`]): the host's
//! `/`, a directory given with `--sysroot`, or a release's tree (`--distro 13`) that
//! mmdebstrap builds once into the lab cache, with [`SYSROOT_PACKAGES`] installed.

use crate::error::{LabError, Result};
use crate::run::artifacts::run_tool;
use crate::run::releases::{Release, SYSROOT_PACKAGES};
use crate::run::rootfs::{DPKG_FILTERS, MIRROR, VARIANT};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a run's images and kernel come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sysroot {
    /// The host's `/` (the default).
    Host,
    /// `--sysroot DIR`.
    Dir(PathBuf),
    /// `--distro N`: the release's tree in the lab cache.
    Release(&'static Release),
}

impl std::fmt::Display for Sysroot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sysroot::Host => f.write_str("/ (the host)"),
            Sysroot::Dir(d) => write!(f, "{}", d.display()),
            Sysroot::Release(r) => write!(
                f,
                "Debian {} ({}), built into the lab cache",
                r.number, r.suite
            ),
        }
    }
}

impl Sysroot {
    /// The directory, building a release's tree first when the cache has none.
    pub fn directory(&self, cache: &Path) -> Result<PathBuf> {
        match self {
            Sysroot::Host => Ok(PathBuf::from("/")),
            Sysroot::Dir(d) => {
                if d.join("lib/modules").is_dir() || d.join("usr/lib/modules").is_dir() {
                    Ok(d.clone())
                } else {
                    Err(LabError::Invalid(format!(
                        "--sysroot {}: no lib/modules there; give a tree with a kernel \
                         installed (e.g. made by mmdebstrap with linux-image-amd64), or use \
                         --distro",
                        d.display()
                    )))
                }
            }
            Sysroot::Release(r) => release_tree(cache, r),
        }
    }
}

/// FNV-1a of everything the tree is made of: its name in the cache.
fn key(release: &Release) -> String {
    let text = format!(
        "{} {VARIANT} {} {MIRROR} {}",
        release.suite,
        SYSROOT_PACKAGES.join(","),
        DPKG_FILTERS.join(" ")
    );
    let h = crate::run::cache::fnv1a(text.as_bytes());
    format!("sysroot-{}-{h:016x}", release.suite)
}

/// The sysroot of `release` in `cache`, built with mmdebstrap (a directory) unless there.
pub fn release_tree(cache: &Path, release: &Release) -> Result<PathBuf> {
    let dir = cache.join(key(release));
    let cached = |dir: &Path| {
        let hit = dir.join("usr/lib/modules").is_dir();
        if hit {
            println!(
                "lab: Debian {} sysroot from the cache: {}",
                release.number,
                dir.display()
            );
        }
        hit
    };
    if cached(&dir) {
        return Ok(dir);
    }
    crate::host_tools::require(std::ffi::OsStr::new("mmdebstrap"))?;
    // Held until this function returns; another run may have built it meanwhile.
    let _lock = crate::run::cache::lock(cache)?;
    if cached(&dir) {
        return Ok(dir);
    }
    let tmp = cache.join(format!(".{}-{}.tmp", key(release), std::process::id()));
    println!(
        "lab: building the Debian {} sysroot with mmdebstrap ({}, {VARIANT} + {}) into {}",
        release.number,
        release.suite,
        SYSROOT_PACKAGES.join(" "),
        dir.display()
    );
    let result = run_tool(
        Command::new("mmdebstrap")
            .arg("--quiet")
            .arg(format!("--variant={VARIANT}"))
            .arg(format!("--include={}", SYSROOT_PACKAGES.join(",")))
            .args(DPKG_FILTERS.iter().map(|f| format!("--dpkgopt={f}")))
            .arg("--format=directory")
            .arg(release.suite)
            .arg(&tmp)
            .arg(MIRROR),
        "mmdebstrap (the sysroot)",
    )
    .and_then(|()| std::fs::rename(&tmp, &dir).map_err(|e| LabError::io("cannot move", &tmp, e)));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.map(|()| dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_modules_is_refused_and_keys_differ_by_release() {
        let d = tempfile::tempdir().unwrap();
        let err = Sysroot::Dir(d.path().to_path_buf())
            .directory(d.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no lib/modules"), "{err}");
        std::fs::create_dir_all(d.path().join("usr/lib/modules")).unwrap();
        let ok = Sysroot::Dir(d.path().to_path_buf()).directory(d.path());
        assert_eq!(ok.unwrap(), d.path());
        let r = crate::run::releases::RELEASES;
        assert!(key(&r[1]).starts_with("sysroot-trixie-"));
        assert_ne!(key(&r[0]), key(&r[1]));
    }
}
