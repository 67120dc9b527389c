//! Coldplug: which of an image's kernel modules load on every boot and which only when a
//! device asks for them. Makes the lines of `etc/srbuild/modules.load` and, through
//! `resolve::modmatch`, of `etc/srbuild/modules.match` (both written by
//! `crate::contract`), and carries the shell that reads the table at the modules stage
//! (`usr/lib/srbuild/modules.sh`, from `builder/templates/modules.sh`).
//!
//! The class of a carried module, decided at build time from its path and its aliases:
//! - **driver**: it lives under `kernel/drivers/` and has at least one device alias (an
//!   alias of the form `bus:…`, such as `pci:v00008086d0000100E…`, other than
//!   `devname:`). It loads only when a device's modalias matches one of its aliases.
//! - **always**: the profile (or one of its modules) names it and it is no driver:
//!   filesystems, the cluster stack, crypto, and drivers with no device alias (`dm-mod`,
//!   `loop`), which no device would ever ask for. It loads on every boot, unless a
//!   `cmdline` hook puts it in `SR_MODULES_SKIP` (the nfs module skips the NFS version
//!   the root does not use).
//! - **dep**: anything else; it loads only when a module that needs it loads.
//!
//! Every module's line carries its whole closure (dependencies and softdeps), so the boot
//! needs no dependency resolution: what to load is the chosen modules and their closures,
//! in the image's load order.

use super::kmod::{ModuleIndex, Selection};
use crate::contract::LoadLine;
use crate::error::Result;
use crate::plan::Plan;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The coldplug functions `/init` sources at the modules stage.
pub const MODULES_SH: &str = include_str!("../../templates/modules.sh");

/// Where [`MODULES_SH`] goes in the image.
pub const MODULES_SH_PATH: &str = "usr/lib/srbuild/modules.sh";

/// When a carried module loads (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Driver,
    Always,
    Dep,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Driver => "driver",
            Class::Always => "always",
            Class::Dep => "dep",
        }
    }
}

/// An alias a device's modalias can match: `bus:…`, except `devname:` (a static device
/// node) and `symbol:`.
pub fn is_device_alias(pattern: &str) -> bool {
    match pattern.split_once(':') {
        Some((bus, _)) => {
            !bus.is_empty()
                && bus != "devname"
                && bus != "symbol"
                && bus
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-*?[]".contains(&b))
        }
        None => false,
    }
}

/// The class of the module at `rel` (`kernel/drivers/net/virtio_net.ko`) with `aliases`;
/// `requested` when the profile names it (by name, alias or path glob).
pub fn classify(rel: &str, aliases: &[&str], requested: bool) -> Class {
    if rel.starts_with("kernel/drivers/") && aliases.iter().any(|a| is_device_alias(a)) {
        Class::Driver
    } else if requested {
        Class::Always
    } else {
        Class::Dep
    }
}

/// Adds the coldplug shell library ([`MODULES_SH`]) to the image.
pub fn add_shell(plan: &mut Plan) -> Result<()> {
    let text = MODULES_SH.as_bytes().to_vec();
    plan.insert_bytes(MODULES_SH_PATH, text, 0o644, "kernel modules")
}

/// What the image loads at boot: [`load_list`].
#[derive(Debug, Default)]
pub struct LoadList {
    /// The lines of `etc/srbuild/modules.load` ([`crate::contract::LoadLine`]), one per
    /// module of the selection, in load order, each with its class and closure.
    pub lines: Vec<LoadLine>,
    /// The buses of the drivers' device aliases (`pci`, `virtio`: the only devices read
    /// at boot).
    pub buses: BTreeSet<String>,
    /// The drivers' device aliases, (module, pattern), in load order then as
    /// `modules.alias` has them.
    pub aliases: Vec<(String, String)>,
}

/// The load list of the selection `sel` ([`LoadList`]).
pub fn load_list(index: &ModuleIndex, sel: &Selection) -> Result<LoadList> {
    let load_order = &sel.load_order;
    let carried: HashSet<&str> = load_order.iter().map(String::as_str).collect();
    let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
    for (file, text) in index.image_indexes(load_order) {
        if file != "modules.alias" {
            continue;
        }
        for line in text.lines() {
            let mut w = line.split_whitespace();
            if let (Some("alias"), Some(pat), Some(m)) = (w.next(), w.next(), w.next()) {
                aliases
                    .entry(m.to_string())
                    .or_default()
                    .push(pat.to_string());
            }
        }
    }
    let position: BTreeMap<&str, usize> = load_order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(load_order.len());
    let mut buses = BTreeSet::new();
    let mut device_aliases = Vec::new();
    for name in load_order {
        let rel = index.path_of(name).unwrap_or_default();
        let own: Vec<&str> = aliases
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let requested = sel.requested.contains(name) && carried.contains(name.as_str());
        let class = classify(rel, &own, requested);
        if class == Class::Driver {
            let device: Vec<&str> = own.iter().copied().filter(|a| is_device_alias(a)).collect();
            buses.extend(
                device
                    .iter()
                    .filter_map(|a| a.split_once(':'))
                    .map(|(b, _)| b.to_string()),
            );
            device_aliases.extend(device.iter().map(|a| (name.clone(), a.to_string())));
        }
        let closure = index.closure(name);
        let mut needs: Vec<String> = closure
            .into_iter()
            .filter(|n| n != name && carried.contains(n.as_str()))
            .collect();
        needs.sort_by_key(|n| position.get(n.as_str()).copied().unwrap_or(usize::MAX));
        out.push(LoadLine {
            name: name.clone(),
            class: class.as_str(),
            path: index.plain_path_of(name),
            needs,
        });
    }
    Ok(LoadList {
        lines: out,
        buses,
        aliases: device_aliases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Item;
    use crate::sysroot::Sysroot;
    use std::path::Path;
    use std::process::Command;

    /// A sysroot's module index like the nfs image's, with real alias patterns, plus a
    /// made-up bracket alias of e1000e and dm-mod (a driver without device aliases).
    fn index() -> (tempfile::TempDir, ModuleIndex) {
        let d = tempfile::tempdir().unwrap();
        let v = "kernel/drivers/virtio";
        let dep = format!(
            "{v}/virtio_ring.ko.xz:\n\
             {v}/virtio.ko.xz: {v}/virtio_ring.ko.xz\n\
             {v}/virtio_pci.ko.xz: {v}/virtio.ko.xz {v}/virtio_ring.ko.xz\n\
             kernel/net/core/failover.ko.xz:\n\
             kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz\n\
             kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz \
             kernel/net/core/failover.ko.xz {v}/virtio.ko.xz {v}/virtio_ring.ko.xz\n\
             kernel/drivers/block/virtio_blk.ko.xz: {v}/virtio.ko.xz {v}/virtio_ring.ko.xz\n\
             kernel/drivers/net/ethernet/intel/e1000/e1000.ko.xz:\n\
             kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz:\n\
             kernel/net/sunrpc/sunrpc.ko.xz:\n\
             kernel/fs/nfs/nfs.ko.xz: kernel/net/sunrpc/sunrpc.ko.xz\n\
             kernel/fs/nfs_common/nfs_acl.ko.xz: kernel/net/sunrpc/sunrpc.ko.xz\n\
             kernel/fs/nfs/nfsv3.ko.xz: kernel/fs/nfs_common/nfs_acl.ko.xz \
             kernel/fs/nfs/nfs.ko.xz kernel/net/sunrpc/sunrpc.ko.xz\n\
             kernel/fs/nfs/nfsv4.ko.xz: kernel/fs/nfs/nfs.ko.xz kernel/net/sunrpc/sunrpc.ko.xz\n\
             kernel/drivers/md/dm-mod.ko.xz:\n\
             kernel/drivers/scsi/sd_mod.ko.xz:\n"
        );
        std::fs::write(d.path().join("modules.dep"), dep).unwrap();
        std::fs::write(
            d.path().join("modules.alias"),
            "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n\
             alias virtio:d00000001v* virtio_net\n\
             alias virtio:d00000002v* virtio_blk\n\
             alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\n\
             alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n\
             alias pci:v00008086d0000153[AB]sv*sd*bc*sc*i* e1000e\n\
             alias pci:v00008086d000015[!0-9A]Fsv*sd*bc*sc*i* e1000e\n\
             alias fs-nfs4 nfs\n\
             alias devname:mapper/control dm_mod\n\
             alias scsi:t-0x00* sd_mod\n\
             alias usb:v1234p*d*dc*dsc*dp*ic*isc*ip*in* no_such_module\n",
        )
        .unwrap();
        let idx = ModuleIndex::load(&Sysroot::new(d.path()), "/", "6.1.0-test").unwrap();
        (d, idx)
    }

    fn req(n: &str) -> Item {
        Item {
            name: n.into(),
            by: "test".into(),
            optional: false,
        }
    }

    /// The nfs profile's requests (base drivers + nfs) and dm-mod; the load list.
    fn load() -> String {
        crate::contract::modules_load_text(&load_list_of_profile().lines)
    }

    /// The coldplug table of [`load_list_of_profile`] (`etc/srbuild/modules.match`).
    fn table() -> String {
        let l = load_list_of_profile();
        super::super::modmatch::table_text(&l.lines, &l.aliases).unwrap()
    }

    /// The nfs profile's requests (base drivers + nfs) and dm-mod, as a [`LoadList`].
    fn load_list_of_profile() -> LoadList {
        let (_d, idx) = index();
        let requests: Vec<Item> = [
            "virtio_pci",
            "virtio_net",
            "virtio_blk",
            "e1000",
            "e1000e",
            "fs-nfs4",
            "nfsv3",
            "nfsv4",
            "dm-mod",
        ]
        .iter()
        .map(|n| req(n))
        .collect();
        let sel = idx.select(&requests).unwrap();
        let load = load_list(&idx, &sel).unwrap();
        assert_eq!(
            load.buses.iter().map(String::as_str).collect::<Vec<_>>(),
            ["pci", "virtio"]
        );
        load
    }

    #[test]
    fn device_aliases() {
        assert!(is_device_alias("pci:v00001AF4d*sv*sd*bc*sc*i*"));
        assert!(is_device_alias("acpi*:PNP0A03:*"));
        assert!(is_device_alias("cpu:type:x86,ven*fam*mod*:feature:*0016*"));
        assert!(!is_device_alias("devname:mapper/control"));
        assert!(!is_device_alias("fs-nfs4"));
        assert!(!is_device_alias("crypto-crc32c"));
        assert!(!is_device_alias(":x"));
    }

    #[test]
    fn drivers_always_and_deps_with_their_closures() {
        let text = load();
        let lines: Vec<&str> = text.lines().collect();
        let v = "kernel/drivers/virtio";
        assert_eq!(
            lines,
            [
                format!("virtio_ring dep {v}/virtio_ring.ko -").as_str(),
                &format!("virtio dep {v}/virtio.ko virtio_ring"),
                &format!("virtio_pci driver {v}/virtio_pci.ko virtio_ring,virtio"),
                "failover dep kernel/net/core/failover.ko -",
                "net_failover dep kernel/drivers/net/net_failover.ko failover",
                "virtio_net driver kernel/drivers/net/virtio_net.ko \
                 virtio_ring,virtio,failover,net_failover",
                "virtio_blk driver kernel/drivers/block/virtio_blk.ko virtio_ring,virtio",
                "e1000 driver kernel/drivers/net/ethernet/intel/e1000/e1000.ko -",
                "e1000e driver kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko -",
                "sunrpc dep kernel/net/sunrpc/sunrpc.ko -",
                // Asked for by an alias (fs-nfs4): still named by the profile.
                "nfs always kernel/fs/nfs/nfs.ko sunrpc",
                "nfs_acl dep kernel/fs/nfs_common/nfs_acl.ko sunrpc",
                "nfsv3 always kernel/fs/nfs/nfsv3.ko sunrpc,nfs,nfs_acl",
                "nfsv4 always kernel/fs/nfs/nfsv4.ko sunrpc,nfs",
                // A driver no device asks for (only a devname alias) always loads.
                "dm_mod always kernel/drivers/md/dm-mod.ko -",
            ]
        );
    }

    /// A shell that runs the image's functions: busybox sh with only busybox applets on
    /// PATH (as in the image), or the host's sh and awk.
    fn shells(bin: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if Path::new("/bin/busybox").exists() {
            std::fs::create_dir_all(bin).unwrap();
            for applet in ["find", "mkdir", "cat", "rm", "sh", "echo", "tr", "grep"] {
                let l = bin.join(applet);
                if !l.exists() {
                    std::os::unix::fs::symlink("/bin/busybox", l).unwrap();
                }
            }
            out.push(("/bin/busybox".to_string(), bin.display().to_string()));
        }
        out.push(("/bin/sh".to_string(), "/usr/bin:/bin".to_string()));
        out
    }

    /// A device of the fake sysfs: `devices/PATH/modalias`, and its link from
    /// `bus/BUS/devices` (or `class/input` for an input device), as in sysfs.
    fn device(sys: &Path, path: &str, alias: &str) {
        let dir = sys.join("devices").join(path);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("modalias"), format!("{alias}\n")).unwrap();
        let bus = alias.split(':').next().unwrap();
        let name = path.rsplit('/').next().unwrap();
        let links = match bus {
            "input" => sys.join("class/input"),
            _ => sys.join("bus").join(bus).join("devices"),
        };
        std::fs::create_dir_all(&links).unwrap();
        std::os::unix::fs::symlink(&dir, links.join(name)).unwrap();
    }

    /// Writes `files` (path under the fake sysfs, modalias) and runs `script` after
    /// sourcing modules.sh, with `$SYS` the fake sysfs, `$TABLE` the coldplug table
    /// (etc/srbuild/modules.match) and `$BUSES` the bus list; returns stdout per shell.
    fn run(files: &[(&str, &str)], script: &str) -> Vec<(String, String)> {
        let table = table();
        let top = tempfile::tempdir().unwrap();
        let mut outs = Vec::new();
        for (k, (shell, path)) in shells(&top.path().join("bin")).into_iter().enumerate() {
            // A fresh tree per shell: the coldplug test changes it.
            let d = top.path().join(format!("run{k}"));
            let sys = d.join("sys");
            for (p, alias) in files {
                device(&sys, p, alias);
            }
            std::fs::create_dir_all(sys.join("module")).unwrap();
            std::fs::write(d.join("modules.match"), &table).unwrap();
            // input too: its device must be read and match nothing.
            std::fs::write(d.join("modules.buses"), "pci\nvirtio\ninput\n").unwrap();
            std::fs::write(d.join("modules.sh"), MODULES_SH).unwrap();
            let mut c = Command::new(&shell);
            if shell.ends_with("busybox") {
                c.arg("sh");
            }
            let o = c
                .arg("-euc")
                .arg(format!(
                    "sr_log() {{ echo \"log: $*\"; }}\n. \"$D/modules.sh\"\n{script}"
                ))
                .env_clear()
                .env("PATH", path)
                .env("D", &d)
                .env("SYS", &sys)
                .env("TABLE", d.join("modules.match"))
                .env("BUSES", d.join("modules.buses"))
                // /init's scratch files go to /tmp; the test's own directory here.
                .env("TMPDIR", d.join("tmp"))
                .current_dir(&d)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success() && err.is_empty(), "{shell}: {err}");
            outs.push((shell, String::from_utf8_lossy(&o.stdout).into_owned()));
        }
        outs
    }

    /// The `load NAME`, `skip NAME` and `rest` words of a selection, one line each.
    fn select(files: &[(&str, &str)], vars: &str) -> Vec<(String, String)> {
        run(
            files,
            &format!("{vars}\n. \"$TABLE\"\nsr_modules_devices \"$SYS\" \"$BUSES\"\nsr_modules_select\nprintf '%s' \"$SR_MODULES_PLAN\" | while read -r w n _; do echo \"$w${{n:+ $n}}\"; done"),
        )
    }

    fn assert_all(outs: &[(String, String)], want: &[&str]) {
        for (shell, out) in outs {
            let got: Vec<&str> = out.lines().collect();
            assert_eq!(got, want, "{shell}");
        }
    }

    /// A QEMU machine with virtio NICs and disks only (after virtio_pci made the virtio
    /// devices), plus devices no carried module drives.
    const VIRTIO: &[(&str, &str)] = &[
        (
            "pci0000:00/0000:00:00.0",
            "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00",
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
        ("LNXSYSTM:00", "acpi:LNXSYSTM:"),
        (
            "platform/i8042/serio0/input/input0",
            "input:b0011v0001p0001eAB41-e0,1,4,11,14,k71,72,ramlsfw",
        ),
    ];

    /// What [`VIRTIO`] loads with `SR_MODULES_SKIP=nfsv3` and nothing else asked.
    const VIRTIO_PLAN: &[&str] = &[
        "load virtio_ring",
        "load virtio",
        "load virtio_pci",
        "load failover",
        "load net_failover",
        "load virtio_net",
        "load virtio_blk",
        "rest",
        "load sunrpc",
        "load nfs",
        "load nfsv4",
        "load dm_mod",
    ];

    #[test]
    fn virtio_devices_select_virtio_drivers_only_and_one_nfs_version() {
        let outs = select(VIRTIO, "SR_MODULES_SKIP=nfsv3");
        assert_all(&outs, VIRTIO_PLAN);
    }

    #[test]
    fn an_e1000e_device_selects_e1000e_and_nothing_virtio() {
        let e1000e = [(
            "pci0000:00/0000:00:19.0",
            "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00",
        )];
        let want = [
            "load e1000e",
            "rest",
            "load sunrpc",
            "load nfs",
            "load nfsv4",
            "load dm_mod",
        ];
        assert_all(&select(&e1000e, "SR_MODULES_SKIP=nfsv3"), &want);
        // Bracket classes of modules.alias: [AB] matches B, [!0-9A] matches E, not 0.
        let b = [(
            "pci0000:00/0000:00:1f.6",
            "pci:v00008086d0000153Bsv0sd0bc02sc00i00",
        )];
        assert_all(&select(&b, "SR_MODULES_SKIP=nfsv3"), &want);
        let e = [(
            "pci0000:00/0000:00:1f.6",
            "pci:v00008086d000015EFsv0sd0bc02sc00i00",
        )];
        assert_all(&select(&e, "SR_MODULES_SKIP=nfsv3"), &want);
        let no = [(
            "pci0000:00/0000:00:1f.6",
            "pci:v00008086d0000150Fsv0sd0bc02sc00i00",
        )];
        assert_all(
            &select(&no, "SR_MODULES_SKIP=nfsv3"),
            &[
                "rest",
                "load sunrpc",
                "load nfs",
                "load nfsv4",
                "load dm_mod",
            ],
        );
        // An e1000 (0x100E) with an NFSv3 root: e1000, and nfsv3 instead of nfsv4.
        let e1000 = [(
            "pci0000:00/0000:00:03.0",
            "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
        )];
        assert_all(
            &select(&e1000, "SR_MODULES_SKIP=nfsv4"),
            &[
                "load e1000",
                "rest",
                "load sunrpc",
                "load nfs",
                "load nfs_acl",
                "load nfsv3",
                "load dm_mod",
            ],
        );
    }

    #[test]
    fn pre_loads_first_and_blacklist_wins() {
        // rd.driver.pre=e1000 (no such device) goes first; rd.driver.pre=nosuch is
        // refused once; a blacklisted module is never loaded, nor what needs it; a
        // blacklisted always-class module is not loaded either.
        let outs = select(
            VIRTIO,
            "SR_MODULES_SKIP=nfsv3 SR_DRIVER_PRE='e1000 nosuch,virtio-blk' \
             SR_DRIVER_BLACKLIST='failover,dm-mod'",
        );
        assert_all(
            &outs,
            &[
                "load e1000",
                "skip nosuch",
                "load virtio_ring",
                "load virtio",
                "load virtio_blk",
                "load virtio_pci",
                "skip failover",
                "skip net_failover",
                "skip virtio_net",
                "rest",
                "load sunrpc",
                "load nfs",
                "load nfsv4",
                "skip dm_mod",
            ],
        );
        let full = run(
            VIRTIO,
            ". \"$TABLE\"\nsr_modules_devices \"$SYS\" \"$BUSES\"\n\
             SR_DRIVER_BLACKLIST=failover\nsr_modules_select\nprintf '%s' \"$SR_MODULES_PLAN\" | grep '^skip'",
        );
        for (shell, out) in full {
            assert!(
                out.contains("skip failover blacklisted (rd.driver.blacklist)\n")
                    && out.contains(
                        "skip virtio_net it needs failover, which is blacklisted (rd.driver.blacklist)\n"
                    ),
                "{shell}: {out}"
            );
        }
        // Names already loaded or refused in an earlier round are left out.
        let outs = select(
            VIRTIO,
            "SR_MODULES_SKIP=nfsv3 SR_MODULES_DONE='virtio_ring virtio virtio_pci sunrpc nfs nfsv4 dm_mod'",
        );
        assert_all(
            &outs,
            &[
                "load failover",
                "load net_failover",
                "load virtio_net",
                "load virtio_blk",
                "rest",
            ],
        );
    }

    #[test]
    fn names_from_the_command_line_are_never_code() {
        // rd.driver.pre names reach sr_modules_line, which reads sr_mod_NAME with eval:
        // a name that is no module name is refused as not carried, and nothing runs.
        let outs = select(
            VIRTIO,
            r#"SR_MODULES_SKIP=nfsv3 SR_DRIVER_PRE='x}$(echo>pwned) sr_mod_x *'"#,
        );
        assert_all(
            &outs,
            &[
                &["skip x}$(echo>pwned)", "skip sr_mod_x", "skip *"][..],
                VIRTIO_PLAN,
            ]
            .concat(),
        );
        let probe = run(
            VIRTIO,
            "SR_DRIVER_PRE='x$(echo>pwned)'\n. \"$TABLE\"\nsr_modules_select\n[ ! -e pwned ] && echo clean",
        );
        for (shell, out) in probe {
            assert_eq!(out, "clean\n", "{shell}");
        }
    }

    #[test]
    fn coldplug_loads_drivers_first_and_scans_again_after_a_bus_driver_loaded() {
        // Only the virtio PCI functions at first: a fake insmod of virtio_pci makes the
        // virtio devices appear, as the real one does. Drivers come first (the NIC's
        // link comes up while the rest loads), then the always-class modules.
        let pci: Vec<(&str, &str)> = VIRTIO
            .iter()
            .filter(|(p, _)| !p.contains("virtio"))
            .copied()
            .collect();
        let script = r#"
insmod() {
	n=${1##*/}
	n=${n%.ko}
	n=$(echo "$n" | tr - _)
	echo "insmod $1"
	mkdir -p "$SYS/module/$n"
	if [ "$n" = virtio_pci ]; then
		for v in 02.0/virtio0:1 03.0/virtio1:2; do
			dev="$SYS/devices/pci0000:00/0000:00:${v%:*}"
			mkdir -p "$dev" "$SYS/bus/virtio/devices"
			echo "virtio:d0000000${v#*:}v00001AF4" >"$dev/modalias"
			ln -s "$dev" "$SYS/bus/virtio/devices/${dev##*/}"
		done
	fi
	[ "$n" != nfs_acl ]
}
mkdir -p "$SYS/module/sunrpc" "$TMPDIR"
SR_MODULES_SKIP=""
sr_modules_coldplug "$SYS" /lib/modules/K "$TABLE" "$BUSES"
echo "rounds $SR_MODULES_ROUNDS loaded$SR_MODULES_LOADED"
case "$SR_MODULES_SCAN" in [0-9]*.[0-9][0-9]) ;; *) echo "bad scan time $SR_MODULES_SCAN" ;; esac
"#;
        for (shell, out) in run(&pci, script) {
            let v = "/lib/modules/K/kernel/drivers/virtio";
            let want = format!(
                "insmod {v}/virtio_ring.ko\n\
                 insmod {v}/virtio.ko\n\
                 insmod {v}/virtio_pci.ko\n\
                 insmod /lib/modules/K/kernel/net/core/failover.ko\n\
                 insmod /lib/modules/K/kernel/drivers/net/net_failover.ko\n\
                 insmod /lib/modules/K/kernel/drivers/net/virtio_net.ko\n\
                 insmod /lib/modules/K/kernel/drivers/block/virtio_blk.ko\n\
                 insmod /lib/modules/K/kernel/fs/nfs/nfs.ko\n\
                 insmod /lib/modules/K/kernel/fs/nfs_common/nfs_acl.ko\n\
                 log: warning: kernel module nfs_acl did not load: \n\
                 insmod /lib/modules/K/kernel/fs/nfs/nfsv3.ko\n\
                 insmod /lib/modules/K/kernel/fs/nfs/nfsv4.ko\n\
                 insmod /lib/modules/K/kernel/drivers/md/dm-mod.ko\n\
                 rounds 2 loaded virtio_ring virtio virtio_pci failover net_failover \
                 virtio_net virtio_blk nfs nfsv3 nfsv4 dm_mod\n"
            );
            assert_eq!(out, want, "{shell}");
        }
    }
}
