//! The floor of `cargo xtask bench --lab`: a hand-made busybox initramfs that boots the
//! lab's NFS root with nothing else, against which srbuild's `/init` is timed.
//!
//! What a person would write by hand: busybox-static as `/bin/busybox` with a few links,
//! exactly the kernel modules the root needs on this kernel (the virtio PCI bus, the
//! virtio NIC and the NFSv4 client, resolved with their dependencies in load order by the
//! builder's [`ModuleIndex`] from the kernel's `modules.dep`, so another kernel gets its
//! own list), and an `/init` that mounts proc, sysfs and devtmpfs, loads those modules,
//! sets the static address from the lab's `ip=CLIENT:SERVER:GW:MASK:HOST:DEV:none`,
//! mounts `root=nfs:SERVER:PATH:OPTIONS` with the kernel's own NFS mount and switches to
//! the root's `/sbin/init` (the lab agent, which takes the node from `srbuild.node=`).
//! No coldplug, no link wait, no identity, no CDSL. Packed with `cpio -o -H newc` and
//! `zstd` at srbuild's level. A failure prints `LAB-FAIL floor: ...`, which ends the
//! lab's wait at once.

use anyhow::{bail, Context, Result};
use srbuild_archive::{ZSTD_LEVEL, ZSTD_WORKERS};
use srbuild_builder::config::Item;
use srbuild_builder::rendering::shell_quote;
use srbuild_builder::resolve::elfinfo::ElfInfo;
use srbuild_builder::resolve::kmod::{read_decompressed, ModuleIndex};
use srbuild_builder::sysroot::Sysroot;
use std::path::Path;
use xshell::{cmd, Shell};

/// The modules the lab's NFS client needs, by name: the bus, the NIC, the NFSv4 client
/// (the lab mounts `vers=4.2`). Their dependencies come from `modules.dep`; a name built
/// into the kernel has nothing to load.
const NEEDED: &[&str] = &["virtio_pci", "virtio_net", "nfsv4"];

/// The busybox applets `/init` runs, as links to `/bin/busybox`.
const APPLETS: &[&str] = &["sh", "mount", "insmod", "ip", "switch_root", "sleep"];

/// The host's busybox-static.
const BUSYBOX: &str = "/bin/busybox";

/// `/init`, with `@INSMOD@` replaced by one `insmod` line per module.
const INIT: &str = r#"#!/bin/sh
# The floor: a hand-made /init for the lab's NFS root (xtask/src/bench/labfloor.rs).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fail() {
	echo "LAB-FAIL floor: $*"
	while :; do sleep 3600; done
}
read -r up _ </proc/uptime
echo "floor: modules t=$up"
@INSMOD@
read -r cmdline </proc/cmdline
set -f
for a in $cmdline; do
	case "$a" in
	root=nfs:*) root=${a#root=nfs:} ;;
	ip=*:*) ipspec=${a#ip=} ;;
	esac
done
set +f
[ -n "$root" ] || fail "no root=nfs:SERVER:PATH[:OPTIONS] on the command line"
[ -n "$ipspec" ] || fail "no ip=CLIENT:SERVER:GW:MASK:HOST:DEV:none on the command line"
IFS=: read -r client _ gw mask _ dev _ <<EOF
$ipspec
EOF
ip link set lo up
ip link set "$dev" up || fail "no interface $dev"
ip addr add "$client/$mask" dev "$dev" || fail "cannot set $client/$mask on $dev"
[ -z "$gw" ] || ip route add default via "$gw" dev "$dev"
server=${root%%:*}
rest=${root#*:}
path=${rest%%:*}
opts=""
[ "$rest" = "$path" ] || opts=${rest#*:},
read -r up _ </proc/uptime
echo "floor: mount t=$up"
n=1
until mount -t nfs4 -o "${opts}addr=$server,clientaddr=$client" "$server:$path" /root; do
	[ "$n" -lt 10 ] || fail "cannot mount $server:$path"
	n=$((n + 1))
	sleep 1
done
read -r up _ </proc/uptime
echo "floor: switch t=$up"
for m in dev proc sys; do
	[ -d "/root/$m" ] && mount --move "/$m" "/root/$m"
done
exec switch_root /root /sbin/init
"#;

/// The modules to load for kernel `kver`, in load order, as paths relative to
/// `/lib/modules/KVER`.
pub fn modules(kver: &str) -> Result<Vec<String>> {
    let sysroot = Sysroot::open("/")?;
    let index = ModuleIndex::load(&sysroot, &format!("/lib/modules/{kver}"), kver)
        .with_context(|| format!("the module index of kernel {kver}"))?;
    let requests: Vec<Item> = NEEDED
        .iter()
        .map(|n| Item {
            name: n.to_string(),
            by: "the lab floor".into(),
            optional: false,
        })
        .collect();
    let sel = index
        .select(&requests)
        .with_context(|| format!("the lab floor's modules {NEEDED:?} for kernel {kver}"))?;
    sel.load_order
        .iter()
        .map(|m| {
            index
                .path_of(m)
                .map(str::to_string)
                .with_context(|| format!("{m}: not in modules.dep of kernel {kver}"))
        })
        .collect()
}

/// `/init` loading `modules` (paths relative to `/lib/modules/KVER`) from `/lib/modules`.
pub fn init_script(modules: &[String]) -> String {
    let lines: Vec<String> = modules
        .iter()
        .map(|m| {
            let file = format!("/lib/modules/{}", ko_name(m));
            format!(
                "insmod {} || fail {}",
                shell_quote(&file),
                shell_quote(&format!("cannot load {file}"))
            )
        })
        .collect();
    INIT.replace("@INSMOD@", &lines.join("\n"))
}

/// `kernel/fs/nfs/nfs.ko.xz` -> `nfs.ko`: stored plain, busybox insmod cannot decompress.
fn ko_name(rel: &str) -> String {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    format!("{}.ko", base.split(".ko").next().unwrap_or(base))
}

/// Builds the floor image for kernel `kver` as `out`, its tree in `work`.
pub fn build(sh: &Shell, kver: &str, work: &Path, out: &Path) -> Result<()> {
    let busybox = std::fs::read(BUSYBOX)
        .with_context(|| format!("{BUSYBOX}: the floor needs busybox-static"))?;
    let info = ElfInfo::parse(&busybox).map_err(|e| anyhow::anyhow!("{BUSYBOX}: {e}"))?;
    if info.interp.is_some() || !info.needed.is_empty() {
        bail!("{BUSYBOX} is linked dynamically; install busybox-static for the floor image");
    }
    let mods = modules(kver)?;
    let sysroot = Sysroot::open("/")?;
    let _ = std::fs::remove_dir_all(work);
    for d in ["bin", "proc", "sys", "dev", "root", "lib/modules"] {
        std::fs::create_dir_all(work.join(d)).with_context(|| format!("{}/{d}", work.display()))?;
    }
    let write = |rel: &str, bytes: &[u8], mode: u32| {
        let p = work.join(rel);
        srbuild_fsio::write_file(&p, bytes, mode, None)
            .with_context(|| format!("writing {}", p.display()))
    };
    write("bin/busybox", &busybox, 0o755)?;
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", work.join("bin").join(a))
            .with_context(|| format!("{}/bin/{a}", work.display()))?;
    }
    for m in &mods {
        let ko = read_decompressed(&sysroot, &format!("/lib/modules/{kver}/{m}"))?;
        write(&format!("lib/modules/{}", ko_name(m)), &ko, 0o644)?;
    }
    write("init", init_script(&mods).as_bytes(), 0o755)?;
    let (tree, img) = (work.display().to_string(), out.display().to_string());
    // The paths are the script's arguments, never part of its text.
    let pack = format!(
        "cd \"$1\" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 \
         | zstd -q -f -T{ZSTD_WORKERS} -{ZSTD_LEVEL} -o \"$2\""
    );
    cmd!(sh, "sh -c {pack} sh {tree} {img}")
        .quiet()
        .run()
        .context("packing the floor image with cpio and zstd")?;
    println!(
        "xtask: lab floor {img}: busybox and {} modules ({})",
        mods.len(),
        mods.iter()
            .map(|m| ko_name(m))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_loads_each_module_quoted_in_order() {
        let s = init_script(&[
            "kernel/drivers/virtio/virtio_ring.ko".into(),
            "kernel/fs/nfs/nfs.ko.xz".into(),
        ]);
        let a = s
            .find("insmod '/lib/modules/virtio_ring.ko' || fail 'cannot load /lib/modules/virtio_ring.ko'")
            .expect("virtio_ring");
        let b = s
            .find("insmod '/lib/modules/nfs.ko'")
            .expect("nfs, stored plain");
        assert!(a < b, "{s}");
        assert!(!s.contains("@INSMOD@"));
        assert!(s.starts_with("#!/bin/sh\n"));
    }

    #[test]
    fn the_host_kernel_needs_its_dependencies_first() {
        // On the build host's newest kernel, whatever it is: every module after what it
        // needs, the NIC driver and the NFSv4 client among them (unless built in).
        let Ok(kver) = super::super::newest_kernel() else {
            return;
        };
        let mods = modules(&kver).unwrap();
        let pos = |n: &str| mods.iter().position(|m| ko_name(m) == format!("{n}.ko"));
        let builtin = std::fs::read_to_string(format!("/lib/modules/{kver}/modules.builtin"))
            .unwrap_or_default();
        for n in ["virtio_net", "nfsv4"] {
            assert!(
                pos(n).is_some() || builtin.contains(&format!("/{n}.ko")),
                "{n} neither in the floor's modules nor built in: {mods:?}"
            );
        }
        if let (Some(nfs), Some(v4)) = (pos("nfs"), pos("nfsv4")) {
            assert!(nfs < v4, "{mods:?}");
        }
        if let (Some(sunrpc), Some(nfs)) = (pos("sunrpc"), pos("nfs")) {
            assert!(sunrpc < nfs, "{mods:?}");
        }
        if let (Some(ring), Some(virtio)) = (pos("virtio_ring"), pos("virtio")) {
            assert!(ring < virtio, "{mods:?}");
        }
    }
}
