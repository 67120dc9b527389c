//! The glusterfs image's fuse-shutdown hook writes the unit that takes PID 1 off a FUSE
//! root before systemd-shutdown: ordered after `umount.target` and before `final.target`,
//! wanted by the four units that end in systemd-shutdown and not by `final.target`, which
//! a soft reboot reaches too. The hook's function is taken from the built image and run by
//! busybox sh with the paths it writes moved into a scratch directory.

mod common;
use common::*;

#[test]
fn the_leave_is_wanted_by_the_shutdowns_and_not_by_a_soft_reboot() {
    let (_d, x) = extracted("glusterfs");
    let hooks = x.join("usr/lib/srbuild/hooks/switch");
    let hook = std::fs::read_dir(&hooks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("fuse-shutdown.sh"))
        .expect("the glusterfs image has the fuse-shutdown switch hook");
    let text = std::fs::read_to_string(&hook).unwrap();
    let start = text
        .find("sr_fuse_leave_by=")
        .expect("the hook names the units");
    let end = start
        + text[start..]
            .find("\n}\n")
            .expect("sr_fuse_leave_prepare ends")
        + 3;
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path().to_str().unwrap();
    // Only the paths it writes move; the unit's own text stays as on a node.
    let function = text[start..end]
        .replace("/run/systemd/system", &format!("{s}/run/systemd/system"))
        .replace(
            "/run/initramfs/fuse-leave.new",
            &format!("{s}/run/initramfs/fuse-leave.new"),
        )
        .replace(
            " /run/initramfs/fuse-leave &&",
            &format!(" {s}/run/initramfs/fuse-leave &&"),
        )
        .replace(
            "/usr/lib/srbuild/fuse-leave",
            &format!("{s}/usr/fuse-leave"),
        );
    assert!(!function.contains(" /run/systemd"), "{function}");
    std::fs::create_dir_all(scratch.path().join("run/initramfs")).unwrap();
    std::fs::create_dir_all(scratch.path().join("run/systemd/system")).unwrap();
    std::fs::create_dir_all(scratch.path().join("usr")).unwrap();
    std::fs::write(scratch.path().join("usr/fuse-leave"), "#!/bin/sh\n").unwrap();
    let o = std::process::Command::new("/bin/busybox")
        .args(["sh", "-euc", &format!("{function}\nsr_fuse_leave_prepare")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let system = scratch.path().join("run/systemd/system");
    let unit = std::fs::read_to_string(system.join("srbuild-fuse-leave.service")).unwrap();
    for line in [
        "DefaultDependencies=no",
        "After=shutdown.target umount.target",
        "Before=final.target",
        "Type=oneshot",
        "ExecStart=/run/initramfs/bin/busybox sh /run/initramfs/fuse-leave",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    for by in [
        "systemd-poweroff.service",
        "systemd-reboot.service",
        "systemd-halt.service",
        "systemd-kexec.service",
    ] {
        let link = system.join(format!("{by}.wants/srbuild-fuse-leave.service"));
        assert_eq!(
            std::fs::read_link(&link).unwrap().to_str(),
            Some("../srbuild-fuse-leave.service"),
            "{by}"
        );
    }
    assert!(!system.join("final.target.wants").exists());
    assert!(!system.join("systemd-soft-reboot.service.wants").exists());
    assert!(scratch.path().join("run/initramfs/fuse-leave").is_file());
}
