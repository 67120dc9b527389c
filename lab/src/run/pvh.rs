//! The kernel file the lab's VMs boot.
//!
//! A distribution's `/boot/vmlinuz-*` is a bzImage: a decompressor and the real kernel
//! (`vmlinux`) compressed inside it. Under TCG the guest's own xz decompression of
//! Debian's 65 MB kernel, with SeaBIOS before it, costs about 3 s of CPU for every VM
//! that boots (measured: "Linux version" 3.5 s after QEMU starts, 0.4 s for the same
//! kernel booted uncompressed). So, unless `--bzimage` is given, the lab takes the
//! `vmlinux` out of the bzImage once, on the host, keeps it in the lab cache, and QEMU
//! boots it through its PVH entry point (the `Xen` ELF note `PHYS32_ENTRY`, present with
//! `CONFIG_PVH`). The kernel, the initramfs and the command line are the same; what
//! the guest skips is the firmware's Linux loader and the decompressor, and with it
//! KASLR. The PXE scenario still boots the bzImage, through iPXE, as a boot loader does.
//!
//! A kernel whose payload is not xz or zstd, or that has no PVH entry, is booted as the
//! bzImage, and the reason is reported.

use crate::error::{LabError, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest bzImage read (Debian's is 8 MB).
const MAX_BZIMAGE: u64 = 256 << 20;
/// Largest `vmlinux` accepted (Debian's is 66 MB); the size comes from the bzImage.
const MAX_VMLINUX: u64 = 1 << 30;
/// `XEN_ELFNOTE_PHYS32_ENTRY`: the 32-bit entry point QEMU's PVH loader jumps to.
const PVH_NOTE: u32 = 18;

/// What the VMs boot, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootKernel {
    /// The uncompressed kernel, booted through its PVH entry.
    Pvh(PathBuf),
    /// The bzImage itself; the string says why not PVH.
    BzImage(PathBuf, String),
}

impl BootKernel {
    /// The file given to QEMU's `-kernel`.
    pub fn path(&self) -> &Path {
        match self {
            BootKernel::Pvh(p) | BootKernel::BzImage(p, _) => p,
        }
    }

    /// One line for the lab's start message.
    pub fn describe(&self) -> String {
        match self {
            BootKernel::Pvh(p) => format!("kernel {} (PVH entry)", p.display()),
            BootKernel::BzImage(p, why) => format!("kernel {} ({why})", p.display()),
        }
    }
}

/// The kernel to boot for `bzimage`: its `vmlinux` from `cache` (extracted there on the
/// first use) when it has a PVH entry, else `bzimage` itself.
///
/// Errors only when the cache cannot be written; a kernel that cannot be booted through
/// PVH is not an error.
pub fn boot_kernel(bzimage: &Path, cache: &Path) -> Result<BootKernel> {
    let fallback = |why: String| Ok(BootKernel::BzImage(bzimage.to_path_buf(), why));
    let data = read_capped(bzimage)?;
    let payload = match payload(&data) {
        Ok(p) => p,
        Err(why) => return fallback(why),
    };
    let target = cache.join(format!("vmlinux-{:016x}", fnv1a(&data)));
    if std::fs::metadata(&target).is_ok_and(|m| m.len() == payload.size) {
        return Ok(BootKernel::Pvh(target));
    }
    let vmlinux = match payload.decompress() {
        Ok(v) => v,
        Err(why) => return fallback(why),
    };
    if let Err(why) = check_pvh(&vmlinux) {
        return fallback(why);
    }
    std::fs::create_dir_all(cache).map_err(|e| LabError::io("cannot create", cache, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(cache)
        .map_err(|e| LabError::io("cannot create a file in", cache, e))?;
    tmp.write_all(&vmlinux)
        .map_err(|e| LabError::io("cannot write", tmp.path(), e))?;
    tmp.persist(&target)
        .map_err(|e| LabError::io("cannot rename into place", &target, e.error))?;
    Ok(BootKernel::Pvh(target))
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| LabError::io("cannot open", path, e))?;
    let mut data = Vec::new();
    f.take(MAX_BZIMAGE + 1)
        .read_to_end(&mut data)
        .map_err(|e| LabError::io("cannot read", path, e))?;
    if data.len() as u64 > MAX_BZIMAGE {
        return Err(LabError::Invalid(format!(
            "{}: larger than {} MiB; is it a kernel image?",
            path.display(),
            MAX_BZIMAGE >> 20
        )));
    }
    Ok(data)
}

/// The compressed kernel inside a bzImage and its uncompressed size.
#[derive(Debug)]
struct Payload<'a> {
    /// The compressed stream, without the 4-byte size the kernel's build appends.
    stream: &'a [u8],
    size: u64,
}

impl Payload<'_> {
    fn decompress(&self) -> std::result::Result<Vec<u8>, String> {
        let s = self.stream;
        let reader: Box<dyn Read + '_> = if s.starts_with(b"\xfd7zXZ\x00") {
            Box::new(xz2::read::XzDecoder::new(s))
        } else if s.starts_with(b"\x28\xb5\x2f\xfd") {
            Box::new(
                zstd::stream::read::Decoder::with_buffer(s)
                    .map_err(|e| format!("cannot start zstd: {e}"))?,
            )
        } else {
            let name = match s.get(..2) {
                Some([0x1f, 0x8b]) => "gzip",
                Some([b'B', b'Z']) => "bzip2",
                Some([0x5d, 0x00]) => "lzma",
                Some([0x89, b'L']) => "lzo",
                Some([0x02, 0x21]) => "lz4",
                _ => "an unknown format",
            };
            return Err(format!("its payload is {name}, the lab reads xz and zstd"));
        };
        let mut out = Vec::with_capacity(self.size as usize);
        reader
            .take(self.size + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot decompress its payload: {e}"))?;
        if out.len() as u64 != self.size {
            return Err(format!(
                "its payload inflates to {} bytes, the image says {}",
                out.len(),
                self.size
            ));
        }
        Ok(out)
    }
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// Finds the payload through the x86 boot protocol's header (version 2.08 or later).
fn payload(d: &[u8]) -> std::result::Result<Payload<'_>, String> {
    if d.get(0x202..0x206) != Some(b"HdrS") {
        return Err("not a bzImage (no HdrS header)".into());
    }
    let version = u16_at(d, 0x206).unwrap_or(0);
    if version < 0x208 {
        return Err(format!("boot protocol {version:#x} has no payload fields"));
    }
    let setup_sects = match d[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let start = (setup_sects + 1) * 512;
    let (offset, length) = match (u32_at(d, 0x248), u32_at(d, 0x24c)) {
        (Some(o), Some(l)) => (o as usize, l as usize),
        _ => return Err("truncated bzImage header".into()),
    };
    let whole = start
        .checked_add(offset)
        .and_then(|b| Some((b, b.checked_add(length)?)))
        .and_then(|(b, e)| d.get(b..e))
        .filter(|p| p.len() > 4)
        .ok_or("its payload lies outside the file")?;
    let (stream, size) = whole.split_at(whole.len() - 4);
    let size = u64::from(u32::from_le_bytes(size.try_into().expect("4 bytes")));
    if size == 0 || size > MAX_VMLINUX {
        return Err(format!("its payload claims {size} bytes uncompressed"));
    }
    Ok(Payload { stream, size })
}

/// An x86-64 ELF with the PVH entry note, as QEMU's `-kernel` needs.
fn check_pvh(vmlinux: &[u8]) -> std::result::Result<(), String> {
    let elf = goblin::elf::Elf::parse(vmlinux)
        .map_err(|e| format!("its payload is not an ELF kernel: {e}"))?;
    if elf.header.e_machine != goblin::elf::header::EM_X86_64 {
        return Err("its payload is not an x86-64 kernel".into());
    }
    let has = elf
        .iter_note_headers(vmlinux)
        .into_iter()
        .flatten()
        .any(|n| {
            n.as_ref()
                .is_ok_and(|n| n.name == "Xen" && n.n_type == PVH_NOTE)
        });
    if has {
        Ok(())
    } else {
        Err("it has no PVH entry (CONFIG_PVH)".into())
    }
}

/// FNV-1a over the bzImage: the cache entry's name.
fn fnv1a(d: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in d {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bzImage-shaped file: a header that points at `stream` followed by its size.
    fn fake_bzimage(stream: &[u8], size: u32) -> Vec<u8> {
        let mut d = vec![0u8; 5 * 512];
        d[0x1f1] = 4;
        d[0x202..0x206].copy_from_slice(b"HdrS");
        d[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        d[0x248..0x24c].copy_from_slice(&16u32.to_le_bytes());
        d[0x24c..0x250].copy_from_slice(&(stream.len() as u32 + 4).to_le_bytes());
        d.extend_from_slice(&[0u8; 16]);
        d.extend_from_slice(stream);
        d.extend_from_slice(&size.to_le_bytes());
        d
    }

    #[test]
    fn payload_found_through_the_header_and_checked() {
        let body = b"not really a kernel".to_vec();
        let z = zstd::encode_all(&body[..], 3).unwrap();
        let img = fake_bzimage(&z, body.len() as u32);
        let p = payload(&img).unwrap();
        assert_eq!(p.size, body.len() as u64);
        assert_eq!(p.decompress().unwrap(), body);
        // The size the image states must match what inflates.
        let img = fake_bzimage(&z, body.len() as u32 + 1);
        assert!(payload(&img)
            .unwrap()
            .decompress()
            .unwrap_err()
            .contains("says"));
        // A payload offset past the end, or no header, is refused without a panic.
        let mut bad = fake_bzimage(&z, 5);
        bad[0x248..0x24c].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(payload(&bad).unwrap_err().contains("outside"));
        assert!(payload(b"MZ").unwrap_err().contains("HdrS"));
        let gz = fake_bzimage(&[0x1f, 0x8b, 8, 0], 5);
        let err = payload(&gz).unwrap().decompress().unwrap_err();
        assert!(err.contains("gzip"), "{err}");
    }

    #[test]
    fn a_payload_without_pvh_falls_back_to_the_bzimage() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"\x7fELF but truncated".to_vec();
        let z = zstd::encode_all(&body[..], 3).unwrap();
        let k = dir.path().join("vmlinuz-x");
        std::fs::write(&k, fake_bzimage(&z, body.len() as u32)).unwrap();
        let cache = dir.path().join("cache");
        match boot_kernel(&k, &cache).unwrap() {
            BootKernel::BzImage(p, why) => {
                assert_eq!(p, k);
                assert!(why.contains("not an ELF"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!cache.exists(), "nothing is cached for a fallback");
    }

    /// The installed Debian kernel: extracted once, with its PVH note, then reused.
    #[test]
    fn the_installed_kernel_has_a_pvh_entry() {
        let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
            .expect("/boot (apt-get install linux-image-amd64)")
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
            .collect();
        kernels.sort();
        let k = kernels
            .first()
            .expect("a /boot/vmlinuz-* (apt-get install linux-image-amd64)");
        let dir = tempfile::tempdir().unwrap();
        let first = boot_kernel(k, dir.path()).unwrap();
        let BootKernel::Pvh(path) = &first else {
            panic!("{first:?}")
        };
        let data = std::fs::read(path).unwrap();
        check_pvh(&data).unwrap();
        let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
        assert_eq!(boot_kernel(k, dir.path()).unwrap(), first);
        assert_eq!(std::fs::metadata(path).unwrap().modified().unwrap(), mtime);
    }
}
