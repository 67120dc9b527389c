//! Choice of QEMU accelerator: KVM when it truly works, TCG otherwise.
//!
//! KVM is only chosen when `/dev/kvm` opens read-write, the CPU
//! advertises `vmx`/`svm`, and a probe guest runs to completion under
//! `-accel kvm` within a few seconds.  The probe is a 64 KiB firmware
//! image that switches the CPU to 32-bit protected mode and then writes to
//! QEMU's `isa-debug-exit` port; on hosts where KVM is present but broken
//! (e.g. no nested virtualisation) it hangs, is killed, and we fall back to
//! TCG.  `SRBUILD_LAB_ACCEL=kvm|tcg` overrides the detection.  The result
//! is cached per process and nothing is printed.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::timeout;

/// Environment variable forcing the accelerator (`kvm` or `tcg`).
pub const ENV: &str = "SRBUILD_LAB_ACCEL";

/// A QEMU accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm`.
    Kvm,
    /// QEMU's portable binary translator.
    Tcg,
}

impl Accel {
    /// The value for QEMU's `-accel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    /// The value for QEMU's `-cpu` that fits this accelerator.
    pub fn cpu_model(self) -> &'static str {
        match self {
            Accel::Kvm => "host",
            Accel::Tcg => "max",
        }
    }

    /// Kernel arguments every guest gets under this accelerator, before its own. Under
    /// TCG, `no_timer_check`: the kernel's early IO-APIC timer check counts timer
    /// interrupts during a busy-wait, and a vCPU thread starved by the host (many guests
    /// started at one moment on few cores: a boot storm) misses them and panics with
    /// "IO-APIC + timer doesn't work!"; measured with 4 clients released together on 2
    /// busy cores.
    pub fn kernel_args(self) -> &'static str {
        match self {
            Accel::Kvm => "",
            Accel::Tcg => "no_timer_check",
        }
    }

    /// Parses `kvm` / `tcg` (case-insensitive).
    pub fn parse(s: &str) -> Option<Accel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kvm" => Some(Accel::Kvm),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The accelerator to use with `qemu` (see the module docs).
pub fn detect(qemu: &Path) -> Accel {
    detect_with_reason(qemu).0
}

/// Like [`detect`], also returning a human-readable reason for the choice.
pub fn detect_with_reason(qemu: &Path) -> (Accel, String) {
    let mut note = String::new();
    if let Ok(v) = std::env::var(ENV) {
        match Accel::parse(&v) {
            Some(a) => return (a, format!("forced by {ENV}={v}")),
            None => note = format!(" ({ENV}={v:?} ignored: expected kvm or tcg)"),
        }
    }
    static CACHE: OnceLock<(Accel, String)> = OnceLock::new();
    let (a, why) = CACHE.get_or_init(|| detect_uncached(qemu));
    (*a, format!("{why}{note}"))
}

fn detect_uncached(qemu: &Path) -> (Accel, String) {
    if let Err(why) = host_supports_kvm() {
        return (Accel::Tcg, why);
    }
    let limit = timeout::scaled(Duration::from_secs(5));
    match probe(qemu, Accel::Kvm, limit) {
        Ok(took) => (
            Accel::Kvm,
            format!("KVM probe guest ran in {:.2}s", took.as_secs_f64()),
        ),
        Err(why) => (Accel::Tcg, format!("KVM probe failed: {why}")),
    }
}

/// Checks the host-side preconditions for KVM.
pub fn host_supports_kvm() -> Result<(), String> {
    if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return Err(format!("/dev/kvm not usable read-write: {e}"));
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo")
        .map_err(|e| format!("cannot read /proc/cpuinfo: {e}"))?;
    let virt = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .flat_map(|l| l.split_whitespace())
        .any(|f| f == "vmx" || f == "svm");
    if virt {
        Ok(())
    } else {
        Err("CPU flags in /proc/cpuinfo lack vmx/svm (no nested virtualisation)".into())
    }
}

/// Boots the probe guest under `accel`; `Ok(elapsed)` if it powered off
/// through `isa-debug-exit` within `limit`, else why not.
pub fn probe(qemu: &Path, accel: Accel, limit: Duration) -> Result<Duration, String> {
    probe_cpu(qemu, accel, accel.cpu_model(), limit)
}

/// [`probe`] with an explicit `-cpu` model.
pub fn probe_cpu(
    qemu: &Path,
    accel: Accel,
    cpu: &str,
    limit: Duration,
) -> Result<Duration, String> {
    let mut image = tempfile::Builder::new()
        .prefix("srbuild-accel-probe")
        .suffix(".bin")
        .tempfile()
        .map_err(|e| format!("cannot create probe image: {e}"))?;
    image
        .write_all(&probe_firmware())
        .and_then(|()| image.flush())
        .map_err(|e| format!("cannot write probe image: {e}"))?;
    let stderr_file = tempfile::tempfile().map_err(|e| format!("cannot create probe log: {e}"))?;
    let stderr_copy = stderr_file
        .try_clone()
        .map_err(|e| format!("cannot create probe log: {e}"))?;

    let start = Instant::now();
    let mut child = Command::new(qemu)
        .args(["-accel", accel.as_str(), "-machine", "q35", "-cpu", cpu])
        .args(["-m", "16", "-nodefaults", "-display", "none", "-no-reboot"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-bios")
        .arg(image.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_copy)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", qemu.display()))?;

    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "probe guest under {accel} did not finish within {:.1}s",
                    limit.as_secs_f64()
                ));
            }
            Err(e) => return Err(format!("cannot wait for probe QEMU: {e}")),
        }
    };
    let took = start.elapsed();
    // isa-debug-exit turns the written value 0 into exit status (0 << 1) | 1.
    if status.code() == Some(1) {
        return Ok(took);
    }
    let mut err = String::new();
    let mut f = stderr_file;
    let _ = std::io::Seek::rewind(&mut f);
    let _ = f.read_to_string(&mut err);
    let err = err.lines().last().unwrap_or("").trim().to_string();
    Err(format!(
        "probe QEMU under {accel} exited with {status}: {err}"
    ))
}

/// The probe firmware: 64 KiB mapped below 4 GiB and at 0xF0000.
///
/// The reset vector jumps to 0xF000:0000, which loads a flat GDT, sets
/// CR0.PE, far-jumps into 32-bit code, loads data segments and writes 0 to
/// port 0xF4 (`isa-debug-exit`), then halts forever.
pub fn probe_firmware() -> Vec<u8> {
    const BASE: u32 = 0xF_0000;
    const PM_OFF: usize = 0x40;
    const GDTR_OFF: usize = 0x100;
    const GDT_OFF: usize = 0x110;
    let mut img = vec![0xF4u8; 0x1_0000]; // hlt everywhere

    let mut real = vec![0xFA]; // cli
    real.extend([0x2E, 0x0F, 0x01, 0x16]); // lgdt cs:[disp16]
    real.extend((GDTR_OFF as u16).to_le_bytes());
    real.extend([0x0F, 0x20, 0xC0]); // mov eax, cr0
    real.extend([0x0C, 0x01]); // or al, 1
    real.extend([0x0F, 0x22, 0xC0]); // mov cr0, eax
    real.extend([0x66, 0xEA]); // jmp dword 0x08:BASE+PM_OFF
    real.extend((BASE + PM_OFF as u32).to_le_bytes());
    real.extend(0x08u16.to_le_bytes());
    img[..real.len()].copy_from_slice(&real);

    let protected = [
        0x66, 0xB8, 0x10, 0x00, // mov ax, 0x10
        0x8E, 0xD8, // mov ds, ax
        0x8E, 0xD0, // mov ss, ax
        0xB0, 0x00, // mov al, 0
        0xE6, 0xF4, // out 0xf4, al
        0xF4, // hlt
        0xEB, 0xFD, // jmp back to hlt
    ];
    img[PM_OFF..PM_OFF + protected.len()].copy_from_slice(&protected);

    let mut gdtr = (3u16 * 8 - 1).to_le_bytes().to_vec();
    gdtr.extend((BASE + GDT_OFF as u32).to_le_bytes());
    img[GDTR_OFF..GDTR_OFF + gdtr.len()].copy_from_slice(&gdtr);
    let gdt: [u64; 3] = [0, 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF];
    for (i, d) in gdt.iter().enumerate() {
        img[GDT_OFF + i * 8..GDT_OFF + i * 8 + 8].copy_from_slice(&d.to_le_bytes());
    }

    let reset = [0xEA, 0x00, 0x00, 0x00, 0xF0]; // jmp far 0xF000:0x0000
    img[0xFFF0..0xFFF0 + reset.len()].copy_from_slice(&reset);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_override_values() {
        assert_eq!(Accel::parse("KVM"), Some(Accel::Kvm));
        assert_eq!(Accel::parse(" tcg\n"), Some(Accel::Tcg));
        assert_eq!(Accel::parse("hvf"), None);
    }

    #[test]
    fn firmware_has_reset_vector_and_size() {
        let fw = probe_firmware();
        assert_eq!(fw.len(), 65536);
        assert_eq!(&fw[0xFFF0..0xFFF5], &[0xEA, 0, 0, 0, 0xF0]);
        assert_eq!(fw[0], 0xFA);
    }
}
