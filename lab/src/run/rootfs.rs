//! What the lab's shared root is made of ([`RootFs`]): the fast busybox root with the agent
//! as its init, or a real Debian root of a release in [`crate::run::releases`] (`mmdebstrap`,
//! variant minbase plus systemd, udev, iproute2 and procps) in which the agent is a systemd
//! unit. The Debian root is built once
//! per package list into the lab's cache, then prepared for a shared root with srbuild's own
//! CDSL tools: `/etc/hostname`, `/etc/machine-id`, `/var/log` and `/var/tmp` become per
//! node, and `/tmp` is a tmpfs (systemd's `tmp.mount`).

use crate::error::{LabError, Result};
use crate::run::artifacts::{run_tool, write_file};
use crate::run::releases::Release;
use crate::run::topology::LabNode;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The root the clients boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootFs {
    /// busybox and the agent as `/sbin/init` (fast).
    Busybox,
    /// Debian with systemd; the agent runs as `lab-agent.service`. The release named
    /// (`debian:13`), or `None`: `--distro`'s, else the default one.
    Debian(Option<&'static Release>),
}

impl RootFs {
    pub fn is_debian(self) -> bool {
        matches!(self, RootFs::Debian(_))
    }
}

impl std::str::FromStr for RootFs {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "busybox" => Ok(RootFs::Busybox),
            "debian" => Ok(RootFs::Debian(None)),
            _ => match s.strip_prefix("debian:") {
                Some(n) => crate::run::releases::by_name(n).map(|r| RootFs::Debian(Some(r))),
                None => Err(format!(
                    "unknown root filesystem '{s}'; use busybox, debian or debian:RELEASE (12, 13)"
                )),
            },
        }
    }
}

impl std::fmt::Display for RootFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootFs::Busybox => f.write_str("busybox"),
            RootFs::Debian(None) => f.write_str("debian"),
            RootFs::Debian(Some(r)) => write!(f, "debian:{}", r.number),
        }
    }
}

/// The Debian variant, packages, mirror and dpkg filters; the cache key is made of exactly
/// these and the release's suite.
pub const VARIANT: &str = "minbase";
pub const PACKAGES: &[&str] = &["systemd-sysv", "udev", "iproute2", "procps"];
pub const MIRROR: &str = "http://deb.debian.org/debian";
/// dpkg filters, as Debian's slim container images use: no manual pages, translations or
/// documentation besides the copyright files. A third of the files, a fifth of the bytes;
/// the seed and the GlusterFS fill copy every file under TCG.
pub const DPKG_FILTERS: &[&str] = &[
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
];

/// Paths made per node with `srbuild cdsl create --hostdependent` in a Debian root.
/// The random seed too: systemd-random-seed rewrites it at every boot and shutdown, and
/// one seed shared by every node is both a race and the same entropy on every node.
pub const HOSTDEPENDENT: &[&str] = &[
    "etc/hostname",
    "etc/machine-id",
    "var/log",
    "var/tmp",
    "var/lib/systemd/random-seed",
];

/// The lab's cache: `$SRBUILD_LAB_CACHE`, else `$XDG_CACHE_HOME/srbuild/lab`, else
/// `~/.cache/srbuild/lab`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SRBUILD_LAB_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("srbuild").join("lab")
}

/// FNV-1a: a stable name for the cache entry of one release's package list.
fn key(suite: &str) -> String {
    let text = format!(
        "{suite} {VARIANT} {} {MIRROR} {}",
        PACKAGES.join(","),
        DPKG_FILTERS.join(" ")
    );
    let h = crate::run::cache::fnv1a(text.as_bytes());
    format!("debian-{suite}-{VARIANT}-{h:016x}.tar")
}

/// The Debian root of `release` as a tarball in `cache`, built with mmdebstrap unless it
/// is there.
pub fn debian_tarball(cache: &Path, release: &Release) -> Result<PathBuf> {
    let suite = release.suite;
    let key = || key(suite);
    let tar = cache.join(key());
    let cached = |tar: &Path| {
        let hit = tar.is_file();
        if hit {
            println!("lab: Debian root from the cache: {}", tar.display());
            crate::run::cache::touch(tar);
        }
        hit
    };
    if cached(&tar) {
        return Ok(tar);
    }
    crate::host_tools::require(std::ffi::OsStr::new("mmdebstrap"))?;
    // Held until this function returns; another run may have built it meanwhile.
    let _lock = crate::run::cache::lock(cache)?;
    if cached(&tar) {
        return Ok(tar);
    }
    // mmdebstrap picks the output format from the name: keep the .tar suffix.
    let tmp = cache.join(format!(
        ".{}-{}.tmp.tar",
        key().trim_end_matches(".tar"),
        std::process::id()
    ));
    println!(
        "lab: building the Debian root with mmdebstrap ({suite}, {VARIANT} + {}) into {}",
        PACKAGES.join(" "),
        tar.display()
    );
    let result = run_tool(
        Command::new("mmdebstrap")
            .arg("--quiet")
            .arg(format!("--variant={VARIANT}"))
            .arg(format!("--include={}", PACKAGES.join(",")))
            .args(DPKG_FILTERS.iter().map(|f| format!("--dpkgopt={f}")))
            .arg(suite)
            .arg(&tmp)
            .arg(MIRROR),
        "mmdebstrap",
    )
    .and_then(|()| std::fs::rename(&tmp, &tar).map_err(|e| LabError::io("cannot move", &tmp, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else {
        // Roots of other package lists (and temporaries of killed runs) no run has used
        // for a month.
        crate::run::cache::sweep(cache, &["debian-", ".debian-"], &tar);
    }
    result.map(|()| tar)
}

/// The agent's systemd unit: after multi-user.target, output on the console.
const UNIT: &str = "[Unit]\n\
Description=srbuild lab agent (shared-root checks)\n\
After=multi-user.target\n\
\n\
[Service]\n\
Type=simple\n\
ExecStart=/usr/local/sbin/lab-agent\n\
StandardOutput=tty\n\
StandardError=tty\n\
TTYPath=/dev/console\n\
TTYVTDisallocate=no\n\
\n\
[Install]\n\
WantedBy=multi-user.target\n";

/// A node's machine id: 32 hex digits, unique per node id, never all zeros.
pub fn machine_id(id: u32) -> String {
    format!("5352{:028x}", u128::from(id) + 1)
}

/// Unpacks the Debian root of `release` into `tree` (replaced) and installs the agent as
/// a unit.
pub fn unpack_debian(tree: &Path, tar: &Path, agent: &str, release: &Release) -> Result<()> {
    if tree.exists() {
        std::fs::remove_dir_all(tree)
            .map_err(|e| LabError::io("cannot clear the root tree", tree, e))?;
    }
    std::fs::create_dir_all(tree).map_err(|e| LabError::io("cannot create", tree, e))?;
    run_tool(
        Command::new("tar")
            .args(["--numeric-owner", "-xpf"])
            .arg(tar)
            .arg("-C")
            .arg(tree),
        "tar -x (the Debian root)",
    )?;
    let w = |rel: &str, text: &str, mode: u32| write_file(tree, rel, text, mode);
    w("usr/local/sbin/lab-agent", agent, 0o755)?;
    w("etc/systemd/system/lab-agent.service", UNIT, 0o644)?;
    let wants = tree.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).map_err(|e| LabError::io("cannot create", &wants, e))?;
    std::os::unix::fs::symlink(
        "/etc/systemd/system/lab-agent.service",
        wants.join("lab-agent.service"),
    )
    .map_err(|e| LabError::io("cannot enable", &wants, e))?;
    // /tmp a tmpfs per node. On the shared /tmp, one node's systemd-tmpfiles (tmp.conf:
    // "D /tmp", emptied at boot) deleted the PrivateTmp directory another node had just
    // made, and that node's unit failed ("Failed to set up mount namespacing").
    // As `systemctl link` and `enable` would: the unit in /etc, then wanted.
    let unit = tree.join(release.tmp_mount.trim_start_matches('/'));
    if !unit.is_file() {
        return Err(LabError::Invalid(format!(
            "the Debian root has no {}: delete the cached tarball {} to rebuild it",
            unit.display(),
            tar.display()
        )));
    }
    let units = tree.join("etc/systemd/system");
    let local_fs = units.join("local-fs.target.wants");
    std::fs::create_dir_all(&local_fs).map_err(|e| LabError::io("cannot create", &local_fs, e))?;
    std::os::unix::fs::symlink(release.tmp_mount, units.join("tmp.mount"))
        .and_then(|()| {
            std::os::unix::fs::symlink("/etc/systemd/system/tmp.mount", local_fs.join("tmp.mount"))
        })
        .map_err(|e| LabError::io("cannot enable tmp.mount in", &units, e))?;
    mask_units(tree)?;
    // Nothing to mount from fstab: the initramfs mounted the root.
    w(
        "etc/fstab",
        "# the root is mounted by the initramfs (srbuild)\n",
        0o644,
    )?;
    // The agent powers the node off once it passed (the lab then checks the shutdown).
    w("lab/poweroff", "1\n", 0o644)?;
    Ok(())
}

/// Units masked in a Debian root (a link to `/dev/null` in `/etc/systemd/system`).
/// `ldconfig.service` rebuilds `/etc/ld.so.cache` at boot when `/etc` looks older than
/// `/usr`: on a shared root every node would rewrite the one cache at once. Debian 13's
/// systemd 257 ships it enabled (Debian 12's does not ship it): with two nodes each ran
/// `ldconfig -X` for about 60 s under TCG and one failed, leaving the system degraded. The
/// cache is the tree's, kept by dpkg where the tree is updated.
/// `systemd-sysusers.service` (same condition) takes the lock of `/etc/passwd` and may
/// rewrite it, `group`, `shadow` and `gshadow`: on a shared root every booting node at once.
/// Over NFS the two nodes' lock requests took about 20 s under TCG (2 s on GFS2); the
/// accounts are made by dpkg's maintainer scripts where the tree is updated.
/// `systemd-update-utmp.service` (and its runlevel twin) writes the boot record to
/// `/var/log/wtmp` under a POSIX lock, which glibc gives up after 10 s ("Failed to write
/// utmp record: Interrupted system call"): a lock over the lab's NFSv4 root took 7 s under
/// TCG on one host and more than 10 s on a slower one, which failed the boot (degraded).
/// Why an NFS lock takes seconds here is not diagnosed; the lab does not test wtmp.
/// Masking a unit a release does not have is harmless.
pub const MASKED: &[&str] = &[
    "ldconfig.service",
    "systemd-sysusers.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
];

/// Masks [`MASKED`] in `tree`, as `systemctl mask` would.
pub fn mask_units(tree: &Path) -> Result<()> {
    let units = tree.join("etc/systemd/system");
    std::fs::create_dir_all(&units).map_err(|e| LabError::io("cannot create", &units, e))?;
    for unit in MASKED {
        let link = units.join(unit);
        std::os::unix::fs::symlink("/dev/null", &link)
            .map_err(|e| LabError::io("cannot mask", &link, e))?;
    }
    Ok(())
}

/// Per-node files of a Debian shared root, through srbuild's CDSL tools: every path in
/// [`HOSTDEPENDENT`] becomes host-dependent, then each node gets its own hostname and
/// machine id (the default tree keeps "uninitialized", which systemd fills at boot).
pub fn make_hostdependent(tree: &Path, clients: &[LabNode]) -> Result<()> {
    let cdsl = |what: String| move |source| LabError::Cdsl { what, source };
    srbuild_fsio::write_file(
        &tree.join("etc/machine-id"),
        b"uninitialized\n",
        0o444,
        None,
    )
    .map_err(|e| LabError::io("cannot write", tree.join("etc/machine-id"), e))?;
    // Written at the first boot; made now (empty, as systemd does: 0600) to be copied per node.
    let seed = tree.join("var/lib/systemd/random-seed");
    if !seed.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&seed)
            .map_err(|e| LabError::io("cannot create", &seed, e))?;
    }
    let ids: Vec<u32> = clients.iter().map(|c| c.id).collect();
    for p in HOSTDEPENDENT {
        srbuild_cluster::cdsl::create_hostdependent(tree, p, &ids)
            .map_err(cdsl(format!("cdsl create --hostdependent {p}")))?;
    }
    for c in clients {
        let node = srbuild_cluster::cdsl::Tree::Node(c.id);
        for (p, text) in [
            ("etc/hostname", format!("{}\n", c.name)),
            ("etc/machine-id", format!("{}\n", machine_id(c.id))),
        ] {
            srbuild_cluster::cdsl::write_node_file(tree, node, p, text.as_bytes())
                .map_err(cdsl(format!("cdsl write {p} for {}", c.name)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_units_link_to_dev_null() {
        let d = tempfile::tempdir().unwrap();
        mask_units(d.path()).unwrap();
        let link = d.path().join("etc/systemd/system/ldconfig.service");
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/dev/null"));
        // A second time is an error (the tree is unpacked fresh for every run).
        assert!(mask_units(d.path()).is_err());
    }

    #[test]
    fn machine_ids_are_32_hex_digits_and_differ() {
        let a = machine_id(1);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, machine_id(2));
        assert_ne!(machine_id(0), "0".repeat(32));
    }

    #[test]
    fn the_cache_key_names_the_suite_and_changes_with_the_packages() {
        let k = key("bookworm");
        assert!(
            k.starts_with("debian-bookworm-minbase-") && k.ends_with(".tar"),
            "{k}"
        );
        assert_eq!(k, key("bookworm"));
        assert!(key("trixie").starts_with("debian-trixie-minbase-"));
        assert_eq!("debian".parse::<RootFs>(), Ok(RootFs::Debian(None)));
        let r13 = "debian:13".parse::<RootFs>().unwrap();
        assert_eq!(r13.to_string(), "debian:13");
        assert!(r13.is_debian());
        assert!("debian:9".parse::<RootFs>().unwrap_err().contains("'9'"));
        assert!("arch"
            .parse::<RootFs>()
            .unwrap_err()
            .contains("busybox, debian or debian:RELEASE"));
    }
}
