//! The host commands that srbuild's lab, tests and benchmarks run, each with the Debian
//! package that provides it, and the check that they are all on `PATH`.
//!
//! `cargo xtask deps` runs [`check`] right after installing `ci/host-packages.txt`, so a
//! missing tool fails at once with its package named, never twenty minutes later inside a
//! lab scenario. The lab uses [`package_of`] to name the package when a command it runs is
//! not installed.

use crate::error::LabError;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One host command and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The command name looked up on `PATH`.
    pub command: &'static str,
    /// The Debian package that ships it.
    pub package: &'static str,
    /// Who runs it (for the error message).
    pub used_by: &'static str,
}

const fn t(command: &'static str, package: &'static str, used_by: &'static str) -> Tool {
    Tool {
        command,
        package,
        used_by,
    }
}

/// Every command the tests, the lab and the benchmarks run on the build host, and every
/// program the profiles take from the host into their images.
pub const TOOLS: &[Tool] = &[
    t("qemu-system-x86_64", "qemu-system-x86", "the lab"),
    t("qemu-img", "qemu-utils", "the lab (ext3 overlays)"),
    t("mkfs.ext4", "e2fsprogs", "the lab (root disks)"),
    t("mkfs.ext3", "e2fsprogs", "the lab (ext3 root)"),
    t("e2fsck", "e2fsprogs", "the ext3 profile"),
    t("busybox", "busybox-static", "every profile (/init)"),
    t("cpio", "cpio", "the archive tests"),
    t("zstd", "zstd", "the archive tests"),
    t("xz", "xz-utils", "the archive tests"),
    t("lz4", "lz4", "the archive tests"),
    t("gzip", "gzip", "the archive tests"),
    t("modprobe", "kmod", "the builder tests"),
    t("depmod", "kmod", "the builder tests"),
    t("ip", "iproute2", "the cluster tests"),
    t("dnsmasq", "dnsmasq-base", "the netboot tests"),
    t("mmdebstrap", "mmdebstrap", "the lab (--rootfs debian)"),
    t("mount.nfs", "nfs-common", "the nfs profile"),
    t("rpcbind", "rpcbind", "the lab-nfs-server profile"),
    t(
        "rpc.nfsd",
        "nfs-kernel-server",
        "the lab-nfs-server profile",
    ),
    t(
        "rpc.mountd",
        "nfs-kernel-server",
        "the lab-nfs-server profile",
    ),
    t(
        "exportfs",
        "nfs-kernel-server",
        "the lab-nfs-server profile",
    ),
    t("nfsdcld", "nfs-kernel-server", "the lab-nfs-server profile"),
    t("corosync", "corosync", "the gfs2 profile"),
    t("corosync-quorumtool", "corosync", "the gfs2 profile"),
    t("dlm_controld", "dlm-controld", "the gfs2 profile"),
    t("dlm_tool", "dlm-controld", "the gfs2 profile"),
    t("mkfs.gfs2", "gfs2-utils", "the gfs2 profile and lab"),
    t("fsck.gfs2", "gfs2-utils", "the gfs2 profile"),
    t("mkfs.ocfs2", "ocfs2-tools", "the ocfs2 profile and lab"),
    t("mount.ocfs2", "ocfs2-tools", "the ocfs2 profile"),
    t("o2cb", "ocfs2-tools", "the ocfs2 profile"),
    t("glusterfs", "glusterfs-client", "the glusterfs profile"),
    t("glusterd", "glusterfs-server", "the glusterfs lab server"),
    t("gluster", "glusterfs-cli", "the glusterfs lab server"),
    t("cc", "gcc", "the lab (glusterfs mmap check helper)"),
    t(
        "setfattr",
        "attr",
        "the lab (a glusterfs Debian root's bricks, filled on the host)",
    ),
    t(
        "losetup",
        "mount",
        "the lab (the host fill of glusterfs bricks: the image's loop device)",
    ),
    t(
        "unshare",
        "util-linux",
        "the lab (the host fill of glusterfs bricks, in its own namespaces)",
    ),
    t(
        "nginx",
        "nginx",
        "the lab's HTTP servers (lab-http-server, lab-nfs-http-server)",
    ),
    t("tgtd", "tgt", "the iSCSI lab target"),
    t("ipmi_sim", "openipmi", "the lab's BMCs (fencing)"),
    t("tgtadm", "tgt", "the iSCSI lab target"),
    t(
        "iscsid",
        "open-iscsi",
        "the gfs2-iscsi and ocfs2-iscsi profiles",
    ),
    t(
        "iscsiadm",
        "open-iscsi",
        "the gfs2-iscsi and ocfs2-iscsi profiles",
    ),
    t("lvm", "lvm2", "the gfs2-lvm profile and its seed"),
    t(
        "lvmlockd",
        "lvm2-lockd",
        "the gfs2-lvm profile and its seed",
    ),
    t("dracut", "dracut-core", "the benchmarks (peer)"),
    t(
        "mkinitramfs",
        "initramfs-tools-core",
        "the benchmarks (peer)",
    ),
    t("hyperfine", "hyperfine", "the benchmarks"),
    t("run-parts", "debianutils", "the kernel hook tests"),
    t("kernel-install", "systemd", "the kernel hook tests"),
    t("dpkg-deb", "dpkg", "cargo xtask dist"),
    t("strip", "binutils", "cargo xtask dist"),
    t("man", "man-db", "the packaging test"),
    t("bash", "bash", "the packaging test (completions)"),
];

/// The package that provides `command`, if it is one of [`TOOLS`].
pub fn package_of(command: &str) -> Option<&'static str> {
    let base = Path::new(command)
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or(command);
    TOOLS.iter().find(|t| t.command == base).map(|t| t.package)
}

/// "X (package P) is not installed; ..." for a command that could not be started.
pub fn not_installed(command: &str) -> String {
    crate::error::not_installed(command, package_of(command))
}

/// The error for a host command that could not be started: [`LabError::NotInstalled`]
/// (with its package) when it does not exist, else `other(source)`.
pub fn spawn_failed(
    command: &OsStr,
    source: std::io::Error,
    other: impl FnOnce(std::io::Error) -> LabError,
) -> LabError {
    if source.kind() == std::io::ErrorKind::NotFound {
        let command = command.to_string_lossy().into_owned();
        LabError::NotInstalled {
            package: package_of(&command),
            command,
        }
    } else {
        other(source)
    }
}

/// `command` found in one of the directories of `path` as an executable file.
pub fn find_in_path(command: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(command))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Errors with [`LabError::NotInstalled`] unless `command`
/// (a name looked up on `PATH`, or a path) can be run.
pub fn require(command: &OsStr) -> crate::error::Result<()> {
    let found = if command.as_encoded_bytes().contains(&b'/') {
        std::fs::metadata(command).is_ok_and(|m| m.is_file())
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        command
            .to_str()
            .is_some_and(|c| find_in_path(c, &path).is_some())
    };
    if found {
        Ok(())
    } else {
        let command = command.to_string_lossy().into_owned();
        Err(LabError::NotInstalled {
            package: package_of(&command),
            command,
        })
    }
}

/// Every tool of `tools` that is not on `path`.
pub fn missing<'a>(tools: &'a [Tool], path: &OsStr) -> Vec<&'a Tool> {
    tools
        .iter()
        .filter(|t| find_in_path(t.command, path).is_none())
        .collect()
}

/// The installed kernels: `vmlinuz-*` under `boot` that have a matching
/// `<modules>/<version>` directory.
pub fn kernels(boot: &Path, modules: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(boot)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let v = name.strip_prefix("vmlinuz-")?.to_string();
            modules.join(&v).is_dir().then_some(v)
        })
        .collect();
    found.sort();
    found
}

/// Checks the tools on `path` and a kernel under `boot`; the error lists every missing
/// command with its package, one per line.
pub fn check(tools: &[Tool], path: &OsStr, boot: &Path, modules: &Path) -> Result<(), String> {
    let mut lines: Vec<String> = missing(tools, path)
        .into_iter()
        .map(|t| {
            format!(
                "{} (package {}, for {}) is not on PATH",
                t.command, t.package, t.used_by
            )
        })
        .collect();
    if kernels(boot, modules).is_empty() {
        lines.push(format!(
            "no kernel: no {}/vmlinuz-* with modules under {} (package linux-image-amd64)",
            boot.display(),
            modules.display()
        ));
    }
    if lines.is_empty() {
        Ok(())
    } else {
        Err(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path, name: &str) {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn fake_kernel(root: &Path) -> (PathBuf, PathBuf) {
        let boot = root.join("boot");
        let modules = root.join("modules");
        std::fs::create_dir_all(&boot).unwrap();
        std::fs::create_dir_all(modules.join("6.1.0-9-amd64")).unwrap();
        std::fs::write(boot.join("vmlinuz-6.1.0-9-amd64"), "k").unwrap();
        (boot, modules)
    }

    #[test]
    fn a_path_lacking_one_command_names_it_and_its_package() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        for (i, t) in TOOLS.iter().enumerate() {
            if t.command != "qemu-img" {
                fake_bin(if i % 2 == 0 { &a } else { &b }, t.command);
            }
        }
        // A non-executable file of the right name does not count.
        std::fs::write(a.join("qemu-img"), "not executable").unwrap();
        let (boot, modules) = fake_kernel(d.path());
        let path = std::env::join_paths([&a, &b]).unwrap();
        let err = check(TOOLS, &path, &boot, &modules).unwrap_err();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("qemu-img (package qemu-utils"), "{err}");

        fake_bin(&b, "qemu-img");
        assert_eq!(check(TOOLS, &path, &boot, &modules), Ok(()));
    }

    #[test]
    fn a_missing_kernel_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let boot = d.path().join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        // A kernel image without its modules directory is not an installed kernel.
        std::fs::write(boot.join("vmlinuz-6.1.0-9-amd64"), "k").unwrap();
        let err = check(&[], OsStr::new(""), &boot, &d.path().join("modules")).unwrap_err();
        assert!(err.contains("no kernel"), "{err}");
        assert!(err.contains("linux-image-amd64"), "{err}");
    }

    #[test]
    fn not_installed_names_the_package() {
        assert_eq!(
            not_installed("qemu-img"),
            "qemu-img (package qemu-utils) is not installed; run `cargo xtask deps` \
             (or `apt-get install qemu-utils`)"
        );
        assert_eq!(package_of("/usr/sbin/mkfs.ext4"), Some("e2fsprogs"));
        assert!(not_installed("frobnicate").contains("not on PATH"));
    }

    #[test]
    fn every_tool_package_is_installed_by_xtask_deps() {
        let list = include_str!("../../ci/host-packages.txt");
        let listed: Vec<&str> = list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        // Packages that come in as dependencies of a listed one.
        let implied = ["gzip", "initramfs-tools-core"];
        for t in TOOLS {
            assert!(
                listed.contains(&t.package) || implied.contains(&t.package),
                "{} ({}) is not in ci/host-packages.txt",
                t.package,
                t.command
            );
        }
    }
}
