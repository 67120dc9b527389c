//! The Debian releases the lab boots, as data ([`RELEASES`]): each one's suite, where its
//! `tmp.mount` lives, and the packages of the sysroot the lab builds every image from
//! (`--distro`). What differs between releases is a field here, never a test of the
//! release's name in code.

/// One Debian release.
#[derive(Debug, PartialEq, Eq)]
pub struct Release {
    /// The number users name it by (`--distro 13`, `--rootfs debian:13`).
    pub number: &'static str,
    /// The suite mmdebstrap fetches.
    pub suite: &'static str,
    /// systemd's `tmp.mount` in that release (Debian 12 ships it unused in
    /// /usr/share/systemd; Debian 13 in the unit directory, already wanted).
    pub tmp_mount: &'static str,
    /// How the release's kernel package ships its modules (`.ko`, or `.ko.xz` from
    /// Debian 13 on): the lab's check of every image ([`crate::run::plain_modules`])
    /// requires it of a `--distro` sysroot, so that the decompression is proved.
    pub module_suffix: &'static str,
}

/// The releases the lab knows, the default first.
pub const RELEASES: &[Release] = &[
    Release {
        number: "12",
        suite: "bookworm",
        tmp_mount: "/usr/share/systemd/tmp.mount",
        module_suffix: ".ko",
    },
    Release {
        number: "13",
        suite: "trixie",
        tmp_mount: "/usr/lib/systemd/system/tmp.mount",
        module_suffix: ".ko.xz",
    },
];

/// The release a Debian root is made of when none is named.
pub fn default_release() -> &'static Release {
    &RELEASES[0]
}

/// The release `n` names (`12`, `13`, or the suite `bookworm`, `trixie`).
pub fn by_name(n: &str) -> Result<&'static Release, String> {
    RELEASES
        .iter()
        .find(|r| r.number == n || r.suite == n)
        .ok_or_else(|| {
            let known: Vec<&str> = RELEASES.iter().map(|r| r.number).collect();
            format!("unknown Debian release '{n}'; known: {}", known.join(", "))
        })
}

/// What a release's sysroot holds (`--distro`): the kernel, busybox, and the tools of
/// every root kind's images (NFS client and server, GFS2, OCFS2, GlusterFS, corosync and
/// dlm, ipmitool of the fence agent, lvm2 and lvmlockd, dnsmasq of the netboot server), with the same package names in every release the lab knows.
pub const SYSROOT_PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "busybox-static",
    "kmod",
    "e2fsprogs",
    "iproute2",
    "nfs-common",
    "nfs-kernel-server",
    "rpcbind",
    "gfs2-utils",
    "ocfs2-tools",
    "glusterfs-client",
    "glusterfs-server",
    "glusterfs-cli",
    "corosync",
    "dlm-controld",
    "dnsmasq-base",
    "tgt",
    "open-iscsi",
    "multipath-tools",
    "ipmitool",
    "lvm2",
    "lvm2-lockd",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_by_number_and_suite() {
        assert_eq!(by_name("13").unwrap().suite, "trixie");
        assert_eq!(by_name("bookworm").unwrap().number, "12");
        assert_eq!(default_release().number, "12");
        let err = by_name("11").unwrap_err();
        assert!(err.contains("'11'") && err.contains("12, 13"), "{err}");
    }
}
