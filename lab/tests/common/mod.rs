//! Test support: locating QEMU, a kernel and busybox, and building a tiny
//! busybox initramfs (newc cpio written by hand) with virtio-net modules.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// What a boot test needs from the host.
pub struct Host {
    pub qemu: PathBuf,
    pub kernel: PathBuf,
    pub kver: String,
    pub busybox: PathBuf,
}

/// The host tools, or why they are missing.
pub fn host() -> Result<Host, String> {
    let qemu = srbuild_lab::qemu::qemu_binary();
    let ok = Command::new(&qemu)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        return Err(format!(
            "{} not runnable (apt-get install qemu-system-x86)",
            qemu.display()
        ));
    }
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map_err(|e| format!("/boot: {e}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort();
    let kernel = kernels
        .pop()
        .ok_or("no /boot/vmlinuz-* (apt-get install linux-image-amd64)")?;
    let kver = kernel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .ok_or("odd kernel name")?
        .to_string();
    if std::fs::File::open(&kernel).is_err() {
        return Err(format!("{} is not readable", kernel.display()));
    }
    let busybox = PathBuf::from("/bin/busybox");
    if !busybox.exists() {
        return Err("no /bin/busybox (apt-get install busybox-static)".into());
    }
    Ok(Host {
        qemu,
        kernel,
        kver,
        busybox,
    })
}

/// Returns the host or prints why the test is skipped.
pub fn host_or_skip(test: &str) -> Option<Host> {
    match host() {
        Ok(h) => Some(h),
        Err(why) => {
            eprintln!("SKIPPING {test}: {why}");
            None
        }
    }
}

/// Modules (relative to /lib/modules/<kver>) needed for `wanted`, deps first.
pub fn module_order(kver: &str, wanted: &[&str]) -> TestResult<Vec<String>> {
    let dep = std::fs::read_to_string(format!("/lib/modules/{kver}/modules.dep"))?;
    let deps: std::collections::HashMap<String, Vec<String>> = dep
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(m, d)| {
            (
                m.to_string(),
                d.split_whitespace().map(String::from).collect(),
            )
        })
        .collect();
    let stem = |p: &str| -> String {
        let f = p.rsplit('/').next().unwrap_or(p);
        f.split(".ko").next().unwrap_or(f).replace('-', "_")
    };
    let mut order = Vec::new();
    fn visit(
        m: &str,
        deps: &std::collections::HashMap<String, Vec<String>>,
        order: &mut Vec<String>,
    ) {
        if order.iter().any(|o| o == m) {
            return;
        }
        for d in deps.get(m).into_iter().flatten() {
            visit(d, deps, order);
        }
        order.push(m.to_string());
    }
    for w in wanted {
        // Built-in modules are not in modules.dep: nothing to load then.
        if let Some(m) = deps.keys().find(|k| stem(k) == *w) {
            visit(m, &deps, &mut order);
        }
    }
    Ok(order)
}

/// Reads a module, decompressing .xz / .zst / .gz.
fn read_module(path: &Path) -> TestResult<Vec<u8>> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else if name.ends_with(".gz") {
        Some("gzip")
    } else {
        None
    };
    match tool {
        None => Ok(std::fs::read(path)?),
        Some(t) => {
            let out = Command::new(t).arg("-dc").arg(path).output()?;
            if !out.status.success() {
                return Err(format!("{t} -dc {} failed", path.display()).into());
            }
            Ok(out.stdout)
        }
    }
}

/// A minimal newc cpio writer.
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

impl Cpio {
    pub fn new() -> Cpio {
        Cpio {
            buf: Vec::new(),
            ino: 1,
        }
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.ino += 1;
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    pub fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, (0, 0), &[]);
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, (0, 0), data);
    }

    pub fn chardev(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, 0o020600, (major, minor), &[]);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        while !self.buf.len().is_multiple_of(512) {
            self.buf.push(0);
        }
        self.buf
    }
}

/// The test agent: loads NIC modules, configures `10.99.0.<lab.self>`,
/// pings `10.99.0.<lab.peer>` and prints LAB-PASS / LAB-FAIL.
pub const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
SELF=1; PEER=2
for w in $(cat /proc/cmdline); do
  case "$w" in
    lab.self=*) SELF=${w#lab.self=} ;;
    lab.peer=*) PEER=${w#lab.peer=} ;;
  esac
done
echo "srbuild: stage=modules t=$(cut -d' ' -f1 /proc/uptime)"
for m in /modules/*.ko; do insmod "$m" || echo "insmod $m failed"; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "srbuild: stage=net t=$(cut -d' ' -f1 /proc/uptime)"
ip link set lo up
ip link set eth0 up
ip addr add 10.99.0.$SELF/24 dev eth0
echo "srbuild: stage=ping t=$(cut -d' ' -f1 /proc/uptime)"
ok=0
for i in $(seq 1 90); do
  if ping -c 1 -W 1 10.99.0.$PEER >/dev/null 2>&1; then ok=1; break; fi
done
echo "srbuild: stage=done t=$(cut -d' ' -f1 /proc/uptime)"
if [ $ok = 1 ]; then echo LAB-PASS; else echo "LAB-FAIL no reply from 10.99.0.$PEER"; fi
# Keep answering the peer's pings for a while, then power off.
sleep 30
poweroff -f
"#;

/// Builds the test initramfs at `out`.
pub fn build_initramfs(host: &Host, out: &Path) -> TestResult<()> {
    let mut c = Cpio::new();
    for d in ["bin", "dev", "proc", "sys", "modules", "tmp"] {
        c.dir(d);
    }
    c.chardev("dev/console", 5, 1);
    c.chardev("dev/null", 1, 3);
    c.file("bin/busybox", 0o755, &std::fs::read(&host.busybox)?);
    c.file("init", 0o755, INIT.as_bytes());
    let mods = module_order(&host.kver, &["virtio_pci", "virtio_net"])?;
    for (i, m) in mods.iter().enumerate() {
        let path = Path::new("/lib/modules").join(&host.kver).join(m);
        let base = m.rsplit('/').next().unwrap_or(m);
        let base = base.split(".ko").next().unwrap_or(base);
        c.file(
            &format!("modules/{i:02}-{base}.ko"),
            0o644,
            &read_module(&path)?,
        );
    }
    std::fs::write(out, c.finish())?;
    Ok(())
}
