//! The nfs module's mount-root hook, as the image carries it, run by busybox sh with the
//! mount itself stubbed: an NFSv4.1 or 4.2 root from an IPv4 address is mounted by the
//! kernel's own text mount (busybox `mount -i -t nfs4` with `addr=`, never its mount.nfs4
//! helper), so `/init` does not load
//! mount.nfs and its shared libraries; every other root (a name, v3, v4.0, no `vers=`,
//! mount.nfs's own options) still goes through mount.nfs, once per attempt (`retry=0`).

mod common;
use common::*;
use std::path::Path;

/// The command the hook would run for `root` (and `rootflags`, read-only if `ro`), as
/// the stubbed `sr_mount_retry` prints it: its arguments after WHAT, one per line.
fn mount_command(x: &Path, root: &str, rootflags: &str, ro: bool) -> String {
    let script = format!(
        "sr_log() {{ :; }}\n\
         sr_fail() {{ echo \"FAIL $*\"; exit 1; }}\n\
         sr_mount_retry() {{ shift; printf '%s\\n' \"$@\"; }}\n\
         SR_ROOT='{root}' SR_ROOTFLAGS='{rootflags}' SR_RO={}\n\
         for h in \"$X\"/usr/lib/srbuild/hooks/mount-root/*-nfs.sh; do . \"$h\"; done\n",
        u8::from(ro)
    );
    let o = std::process::Command::new("/bin/busybox")
        .args(["sh", "-c", &script])
        .env("X", x)
        .output()
        .unwrap();
    assert!(o.status.success(), "{root}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

#[test]
fn nfs_v4_1_and_4_2_from_an_ipv4_address_use_the_kernels_mount() {
    let (_d, x) = extracted("nfs");
    let out = mount_command(&x, "nfs:10.77.0.1:/srv/root:vers=4.2", "", false);
    assert_eq!(
        out,
        "mount\n-n\n-i\n-t\nnfs4\n-o\nvers=4.2,addr=10.77.0.1\n10.77.0.1:/srv/root\n/sysroot\n"
    );
    let out = mount_command(&x, "nfs:10.0.0.9:/r:nfsvers=4.1,hard", "timeo=50", true);
    assert_eq!(
        out,
        "mount\n-n\n-i\n-t\nnfs4\n-o\nnfsvers=4.1,hard,timeo=50,ro,addr=10.0.0.9\n10.0.0.9:/r\n/sysroot\n"
    );
}

#[test]
fn every_other_nfs_root_goes_through_mount_nfs_once_per_attempt() {
    let (_d, x) = extracted("nfs");
    for (root, flags, opts) in [
        // A name: mount.nfs resolves it.
        ("nfs:server.example:/r:vers=4.2", "", "vers=4.2,retry=0"),
        // No vers=: mount.nfs may fall back to v3.
        ("nfs:10.77.0.1:/r", "", "retry=0"),
        // v4.0 needs clientaddr=, which mount.nfs works out.
        ("nfs4:10.77.0.1:/r", "", "vers=4,retry=0"),
        ("nfs:10.77.0.1:/r:vers=4.0", "", "vers=4.0,retry=0"),
        // v3 (without rpc.statd: nolock).
        ("nfs:10.77.0.1:/r:vers=3", "", "vers=3,nolock,retry=0"),
        // Not an IPv4 address, or mount.nfs's own options.
        ("nfs:10.77.0.1.5:/r:vers=4.2", "", "vers=4.2,retry=0"),
        ("nfs:10.77.0:/r:vers=4.2", "", "vers=4.2,retry=0"),
        ("nfs:10.77.0.1:/r:vers=4.2,retry=3", "", "vers=4.2,retry=3"),
        ("nfs:10.77.0.1:/r:vers=4.2", "bg", "vers=4.2,bg,retry=0"),
    ] {
        let out = mount_command(&x, root, flags, false);
        let (server_path, _) = root
            .trim_start_matches("nfs4:")
            .trim_start_matches("nfs:")
            .rsplit_once(':')
            .filter(|(a, _)| a.contains(':'))
            .unwrap_or((
                root.trim_start_matches("nfs4:").trim_start_matches("nfs:"),
                "",
            ));
        assert_eq!(
            out,
            format!("mount.nfs\n{server_path}\n/sysroot\n-n\n-o\n{opts}\n"),
            "{root} {flags}"
        );
    }
}
