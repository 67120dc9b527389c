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
//! Anything that stands in the way falls back to booting the bzImage, with the reason:
//! a file that is not a bzImage of boot protocol 2.08 or later, a payload that is not xz
//! or zstd or does not inflate to the size the image states, a payload that is not an
//! x86-64 ELF with the PVH note, or a cache that cannot be written. A cached `vmlinux` is
//! used only if it is a regular file of this user, not a link, and still has the PVH
//! note; it is refreshed on use, and entries unused for [`STALE_DAYS`](crate::run::cache::STALE_DAYS) days are removed.

use crate::error::{LabError, Result};
use crate::run::cache::{fnv1a, is_ours, sweep, touch};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest bzImage read (Debian's is 8 MB).
const MAX_BZIMAGE: u64 = 256 << 20;
/// Largest `vmlinux` accepted (Debian's is 66 MB); the size comes from the bzImage.
const MAX_VMLINUX: u64 = 256 << 20;
/// `XEN_ELFNOTE_PHYS32_ENTRY`: the 32-bit entry point QEMU's PVH loader jumps to.
const PVH_NOTE: u32 = 18;
const PREFIX: &str = "vmlinux-";
const TMP_PREFIX: &str = ".vmlinux-tmp-";

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
/// first use) when it has a PVH entry, else `bzimage` itself with the reason.
///
/// Errors only when `bzimage` cannot be read (QEMU could not read it either).
pub fn boot_kernel(bzimage: &Path, cache: &Path) -> Result<BootKernel> {
    let fallback = |why: String| Ok(BootKernel::BzImage(bzimage.to_path_buf(), why));
    let data = read_capped(bzimage)?;
    let payload = match payload(&data) {
        Ok(p) => p,
        Err(why) => return fallback(why),
    };
    let target = cache.join(format!("{PREFIX}{:016x}", fnv1a(&data)));
    if cached(&target, payload.size) {
        // Refreshed, so that the sweep keeps what is in use.
        touch(&target);
        return Ok(BootKernel::Pvh(target));
    }
    let vmlinux = match payload.decompress() {
        Ok(v) => v,
        Err(why) => return fallback(why),
    };
    if let Err(why) = check_pvh(&vmlinux) {
        return fallback(why);
    }
    if let Err(e) = store(cache, &target, &vmlinux) {
        return fallback(format!("the lab cache cannot take its vmlinux: {e}"));
    }
    sweep(cache, &[PREFIX, TMP_PREFIX], &target);
    Ok(BootKernel::Pvh(target))
}

/// A usable cache entry: a regular file of ours (not a link), of the stated size, that is
/// still an x86-64 ELF with the PVH note (a torn or planted file is replaced).
fn cached(target: &Path, size: u64) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(target) else {
        return false;
    };
    if !is_ours(&meta) || meta.len() != size {
        return false;
    }
    std::fs::read(target).is_ok_and(|d| check_pvh(&d).is_ok())
}

/// Writes `vmlinux` to `target` through a synced temporary file and a rename.
fn store(cache: &Path, target: &Path, vmlinux: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(cache)?;
    let mut tmp = srbuild_fsio::AtomicFile::create_with_prefix(target, TMP_PREFIX.as_ref())?;
    tmp.write_all(vmlinux)?;
    tmp.commit(0o600, None)
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
    /// Not the archive crate's decoders: they cap zstd windows at 32 MiB for images, and
    /// a kernel built with `zstd -22 --ultra` uses a 128 MiB window.
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
        let size = usize::try_from(self.size).map_err(|_| "its payload is too large")?;
        let mut out = Vec::new();
        out.try_reserve_exact(size)
            .map_err(|_| format!("no memory for its {size}-byte payload"))?;
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
    let setup_sects = match d.get(0x1f1) {
        None => return Err("truncated bzImage header".into()),
        Some(0) => 4,
        Some(&n) => usize::from(n),
    };
    let start = (setup_sects + 1) * 512;
    let (offset, length) = match (u32_at(d, 0x248), u32_at(d, 0x24c)) {
        (Some(o), Some(l)) => match (usize::try_from(o), usize::try_from(l)) {
            (Ok(o), Ok(l)) => (o, l),
            _ => return Err("its payload lies outside the file".into()),
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A bzImage-shaped file: a header that points at `stream` followed by `size`.
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

    /// The smallest x86-64 ELF QEMU's PVH loader would look at: a header, one PT_NOTE
    /// program header, and the `Xen` note of `note_type`.
    fn tiny_elf(note_type: u32) -> Vec<u8> {
        let mut d = vec![0u8; 64];
        d[..4].copy_from_slice(b"\x7fELF");
        d[4] = 2; // 64-bit
        d[5] = 1; // little endian
        d[6] = 1;
        d[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        d[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        d[20..24].copy_from_slice(&1u32.to_le_bytes());
        d[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        d[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        d[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        d[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        d[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        let mut note = Vec::new();
        note.extend_from_slice(&4u32.to_le_bytes());
        note.extend_from_slice(&4u32.to_le_bytes());
        note.extend_from_slice(&note_type.to_le_bytes());
        note.extend_from_slice(b"Xen\0");
        note.extend_from_slice(&0x0100_0000u32.to_le_bytes());
        let mut ph = vec![0u8; 56];
        ph[..4].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
        ph[8..16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        ph[32..40].copy_from_slice(&(note.len() as u64).to_le_bytes()); // p_filesz
        ph[40..48].copy_from_slice(&(note.len() as u64).to_le_bytes()); // p_memsz
        ph[48..56].copy_from_slice(&4u64.to_le_bytes()); // p_align
        d.extend_from_slice(&ph);
        d.extend_from_slice(&note);
        d
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        xz2::read::XzEncoder::new(data, 6)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn inode(p: &Path) -> u64 {
        std::fs::metadata(p).unwrap().ino()
    }

    #[test]
    fn payload_found_through_the_header_and_checked() {
        let body = b"not really a kernel".to_vec();
        let z = zstd::encode_all(&body[..], 3).unwrap();
        let img = fake_bzimage(&z, body.len() as u32);
        let p = payload(&img).unwrap();
        assert_eq!(p.size, body.len() as u64);
        assert_eq!(p.decompress().unwrap(), body);
        // xz, as Debian's kernels are.
        let img = fake_bzimage(&xz(&body), body.len() as u32);
        assert_eq!(payload(&img).unwrap().decompress().unwrap(), body);
        // The size the image states must match what inflates.
        let img = fake_bzimage(&z, body.len() as u32 + 1);
        assert!(payload(&img)
            .unwrap()
            .decompress()
            .unwrap_err()
            .contains("says"));
        let gz = fake_bzimage(&[0x1f, 0x8b, 8, 0], 5);
        let err = payload(&gz).unwrap().decompress().unwrap_err();
        assert!(err.contains("gzip"), "{err}");
    }

    #[test]
    fn hostile_headers_are_refused_without_a_panic() {
        let z = zstd::encode_all(&b"kernel"[..], 3).unwrap();
        let good = fake_bzimage(&z, 6);
        let mut past_end = good.clone();
        past_end[0x248..0x24c].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(payload(&past_end).unwrap_err().contains("outside"));
        let mut long = good.clone();
        long[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(payload(&long).unwrap_err().contains("outside"));
        assert!(payload(b"MZ").unwrap_err().contains("HdrS"));
        // Cut between the version and the payload fields.
        assert!(payload(&good[..0x220]).unwrap_err().contains("truncated"));
        let mut old = good.clone();
        old[0x206..0x208].copy_from_slice(&0x207u16.to_le_bytes());
        assert!(payload(&old).unwrap_err().contains("0x207"));
        // A payload of only the size field.
        let mut tiny = good.clone();
        tiny[0x24c..0x250].copy_from_slice(&4u32.to_le_bytes());
        assert!(payload(&tiny).unwrap_err().contains("outside"));
        // A size above the cap, or zero.
        for size in [0, u32::MAX] {
            let img = fake_bzimage(&z, size);
            assert!(payload(&img).unwrap_err().contains("claims"), "{size}");
        }
        // setup_sects 0 means 4: the payload is found where it is.
        let mut zero = good.clone();
        zero[0x1f1] = 0;
        assert_eq!(payload(&zero).unwrap().decompress().unwrap(), b"kernel");
    }

    #[test]
    fn extracted_once_then_reused_and_a_bad_entry_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let elf = tiny_elf(PVH_NOTE);
        let k = dir.path().join("vmlinuz-x");
        std::fs::write(&k, fake_bzimage(&xz(&elf), elf.len() as u32)).unwrap();
        let cache = dir.path().join("cache");
        let first = boot_kernel(&k, &cache).unwrap();
        let BootKernel::Pvh(path) = &first else {
            panic!("{first:?}")
        };
        assert_eq!(std::fs::read(path).unwrap(), elf);
        let ino = inode(path);
        assert_eq!(boot_kernel(&k, &cache).unwrap(), first);
        assert_eq!(inode(path), ino, "a good entry is reused");
        // A torn entry of the same length (zeros after a crash) is extracted again.
        std::fs::write(path, vec![0u8; elf.len()]).unwrap();
        assert_eq!(boot_kernel(&k, &cache).unwrap(), first);
        assert_eq!(std::fs::read(path).unwrap(), elf);
        // So is a link planted in its place; the link's target is left alone.
        let decoy = dir.path().join("decoy");
        std::fs::write(&decoy, &elf).unwrap();
        std::fs::remove_file(path).unwrap();
        std::os::unix::fs::symlink(&decoy, path).unwrap();
        assert_eq!(boot_kernel(&k, &cache).unwrap(), first);
        assert!(!std::fs::symlink_metadata(path)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&decoy).unwrap(), elf);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn what_cannot_boot_through_pvh_falls_back_to_the_bzimage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let cases: [(Vec<u8>, &str); 3] = [
            (b"\x7fELF but truncated".to_vec(), "not an ELF"),
            (tiny_elf(17), "no PVH entry"),
            (
                {
                    let mut e = tiny_elf(PVH_NOTE);
                    e[18..20].copy_from_slice(&183u16.to_le_bytes()); // aarch64
                    e
                },
                "not an x86-64",
            ),
        ];
        for (body, why) in cases {
            let k = dir.path().join("vmlinuz-x");
            let z = zstd::encode_all(&body[..], 3).unwrap();
            std::fs::write(&k, fake_bzimage(&z, body.len() as u32)).unwrap();
            match boot_kernel(&k, &cache).unwrap() {
                BootKernel::BzImage(p, got) => {
                    assert_eq!(p, k);
                    assert!(got.contains(why), "{got}");
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(!cache.exists(), "nothing is cached for a fallback");
        // A cache that cannot be written is a fallback too, not an error.
        let k = dir.path().join("vmlinuz-x");
        let elf = tiny_elf(PVH_NOTE);
        std::fs::write(&k, fake_bzimage(&xz(&elf), elf.len() as u32)).unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        match boot_kernel(&k, &blocker.join("cache")).unwrap() {
            BootKernel::BzImage(_, why) => assert!(why.contains("lab cache"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    /// The installed Debian kernel has the PVH entry the lab relies on.
    #[test]
    fn the_installed_kernel_has_a_pvh_entry() {
        let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
            .collect();
        kernels.sort();
        let Some(k) = kernels.first() else {
            eprintln!("SKIPPING: no /boot/vmlinuz-* (apt-get install linux-image-amd64)");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let got = boot_kernel(k, dir.path()).unwrap();
        let BootKernel::Pvh(path) = &got else {
            panic!("{got:?}")
        };
        check_pvh(&std::fs::read(path).unwrap()).unwrap();
    }
}
