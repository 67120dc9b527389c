//! Coldplug with a real image: the nfs image's own `usr/lib/srbuild/modules.sh`, coldplug
//! table (`etc/srbuild/modules.match`) and bus list, and its nfs `cmdline` hook, run by busybox sh
//! (with busybox applets only, as in the image) against a fake sysfs. The selection must
//! follow the devices and the root: virtio drivers and no e1000 on a virtio machine,
//! e1000e and no virtio on an e1000e machine, nfsv4 or nfsv3 as the mount asks.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// The extracted nfs image (kept alive by the returned temporary directory).
fn nfs_image() -> (tempfile::TempDir, PathBuf) {
    extracted("nfs")
}

/// A fake sysfs under `dir` with `devices` (path under devices/, modalias), each linked
/// from bus/BUS/devices as in sysfs.
fn sysfs(dir: &Path, devices: &[(&str, &str)]) -> PathBuf {
    let sys = dir.join("sys");
    let _ = std::fs::remove_dir_all(&sys);
    for (path, alias) in devices {
        let dev = sys.join("devices").join(path);
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("modalias"), format!("{alias}\n")).unwrap();
        let bus = sys
            .join("bus")
            .join(alias.split(':').next().unwrap())
            .join("devices");
        std::fs::create_dir_all(&bus).unwrap();
        std::os::unix::fs::symlink(&dev, bus.join(path.rsplit('/').next().unwrap())).unwrap();
    }
    sys
}

/// Runs the image's nfs cmdline hook with `root`, then the selection; returns the names of
/// the `load` lines, checking that each path is a module file of the image.
fn select(x: &Path, sys: &Path, root: &str) -> Vec<String> {
    let bin = x.parent().unwrap().join("bb");
    std::fs::create_dir_all(&bin).unwrap();
    for applet in ["printf", "cat", "sh"] {
        let l = bin.join(applet);
        if !l.exists() {
            std::os::unix::fs::symlink("/bin/busybox", l).unwrap();
        }
    }
    let kver = kver();
    let script = r#"
sr_log() { echo "log: $*"; }
SR_ROOT=$ROOT
SR_MODULES_SKIP=""
for h in "$X"/usr/lib/srbuild/hooks/cmdline/*-nfs.sh; do . "$h"; done
. "$X/usr/lib/srbuild/modules.sh"
. "$X/etc/srbuild/modules.match"
sr_modules_devices "$SYS" "$X/etc/srbuild/modules.buses"
sr_modules_select
printf '%s' "$SR_MODULES_PLAN"
"#;
    let o = std::process::Command::new("/bin/busybox")
        .args(["sh", "-euc", script])
        .env_clear()
        .env("PATH", &bin)
        .env("X", x)
        .env("SYS", sys)
        .env("ROOT", root)
        .env("KVER", &kver)
        .output()
        .unwrap();
    assert!(o.status.success() && o.stderr.is_empty(), "{}", stderr(&o));
    let mut names = Vec::new();
    for line in stdout(&o).lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w == ["rest"] {
            continue;
        }
        assert_eq!(w[0], "load", "{line}");
        let file = x.join(format!("lib/modules/{kver}/{}", w[2]));
        assert!(file.is_file(), "{line}: no {}", file.display());
        names.push(w[1].to_string());
    }
    names
}

fn has(names: &[String], m: &str) -> bool {
    names.iter().any(|n| n == m)
}

#[test]
fn the_nfs_image_loads_the_drivers_of_its_devices_and_one_nfs_version() {
    let (d, x) = nfs_image();
    // QEMU's i440FX with a virtio NIC and disk (after virtio_pci made the virtio devices).
    let virtio = sysfs(
        d.path(),
        &[
            (
                "pci0000:00/0000:00:00.0",
                "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00",
            ),
            (
                "pci0000:00/0000:00:01.0",
                "pci:v00008086d00007000sv00001AF4sd00001100bc06sc01i00",
            ),
            (
                "pci0000:00/0000:00:02.0",
                "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
            ),
            (
                "pci0000:00/0000:00:02.0/virtio0",
                "virtio:d00000001v00001AF4",
            ),
            (
                "pci0000:00/0000:00:03.0",
                "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
            ),
            (
                "pci0000:00/0000:00:03.0/virtio1",
                "virtio:d00000002v00001AF4",
            ),
            ("platform/serial8250", "platform:serial8250"),
        ],
    );
    let v4 = select(&x, &virtio, "nfs:10.77.0.1:/:vers=4.2,lookupcache=positive");
    for m in ["virtio_pci", "virtio_net", "virtio_blk", "nfs", "nfsv4"] {
        assert!(has(&v4, m), "{m} missing: {v4:?}");
    }
    for m in ["e1000", "e1000e", "nfsv3", "nfs_acl"] {
        assert!(!has(&v4, m), "{m} loaded: {v4:?}");
    }
    // Dependencies come first: the load order of the image.
    let at = |m: &str| v4.iter().position(|n| n == m).unwrap();
    assert!(at("virtio") < at("virtio_pci") && at("sunrpc") < at("nfs") && at("nfs") < at("nfsv4"));
    // An NFSv3 root: nfsv3 (and nfs_acl), no nfsv4; the default is v4.
    let v3 = select(&x, &virtio, "nfs:10.77.0.1:/srv/root:vers=3");
    assert!(
        has(&v3, "nfsv3") && has(&v3, "nfs_acl") && !has(&v3, "nfsv4"),
        "{v3:?}"
    );
    let default = select(&x, &virtio, "nfs:10.77.0.1:/srv/root");
    assert!(
        has(&default, "nfsv4") && !has(&default, "nfsv3"),
        "{default:?}"
    );

    // A machine with an Intel 82574L (e1000e) and no virtio device.
    let intel = sysfs(
        d.path(),
        &[
            (
                "pci0000:00/0000:00:00.0",
                "pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00",
            ),
            (
                "pci0000:00/0000:00:02.0",
                "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00",
            ),
        ],
    );
    let e = select(&x, &intel, "nfs:10.77.0.1:/");
    assert!(has(&e, "e1000e") && has(&e, "nfsv4"), "{e:?}");
    for m in ["e1000", "virtio_pci", "virtio_net", "virtio_blk"] {
        assert!(!has(&e, m), "{m} loaded: {e:?}");
    }
}
