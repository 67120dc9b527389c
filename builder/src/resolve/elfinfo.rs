//! What the resolver needs from one ELF file, read from its program headers and dynamic
//! section only (no symbol tables, so a 100 MB library costs little): class and machine,
//! PT_INTERP, DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH and DF_1_NODEFLIB.

use goblin::container::{Container, Ctx};
use goblin::elf::dynamic::{self, Dynamic};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{self, ProgramHeader};
use goblin::elf::Elf;

/// Class, byte order and machine of an ELF file: ld.so skips a library whose differ from the
/// program's (a 32-bit `libc.so.6` earlier in the path) and goes on searching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    pub class: u8,
    pub data: u8,
    pub machine: u16,
}

/// The arch of `bytes`, `None` when they are not an ELF header.
pub fn arch_of(bytes: &[u8]) -> Option<Arch> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return None;
    }
    let machine = if bytes[5] == header::ELFDATA2MSB {
        u16::from_be_bytes([bytes[18], bytes[19]])
    } else {
        u16::from_le_bytes([bytes[18], bytes[19]])
    };
    Some(Arch {
        class: bytes[4],
        data: bytes[5],
        machine,
    })
}

/// The dynamic-linking facts of one ELF file.
#[derive(Debug, Clone, Default)]
pub struct ElfInfo {
    pub arch: Option<Arch>,
    pub interp: Option<String>,
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    pub nodeflib: bool,
}

impl ElfInfo {
    /// Parses `bytes` (a whole ELF file). A static program has no dynamic section and comes
    /// back with no needs.
    pub fn parse(bytes: &[u8]) -> Result<ElfInfo, String> {
        let hdr: Header = Elf::parse_header(bytes).map_err(|e| e.to_string())?;
        let class = hdr.e_ident[header::EI_CLASS];
        let container = match class {
            header::ELFCLASS64 => Container::Big,
            header::ELFCLASS32 => Container::Little,
            c => return Err(format!("unknown ELF class {c}")),
        };
        let le = hdr.e_ident[header::EI_DATA] == header::ELFDATA2LSB;
        let ctx = Ctx::new(container, goblin::container::Endian::from(le));
        let phdrs = ProgramHeader::parse(bytes, hdr.e_phoff as usize, hdr.e_phnum as usize, ctx)
            .map_err(|e| format!("program headers: {e}"))?;
        let mut info = ElfInfo {
            arch: arch_of(bytes),
            ..ElfInfo::default()
        };
        if let Some(ph) = phdrs.iter().find(|p| p.p_type == program_header::PT_INTERP) {
            let raw = slice(bytes, ph.p_offset as usize, ph.p_filesz as usize)
                .ok_or_else(|| "PT_INTERP lies outside the file".to_string())?;
            info.interp = Some(c_str(raw).to_string());
        }
        let Some(dynamic) =
            Dynamic::parse(bytes, &phdrs, ctx).map_err(|e| format!("dynamic section: {e}"))?
        else {
            return Ok(info);
        };
        let strtab = slice(bytes, dynamic.info.strtab, dynamic.info.strsz)
            .ok_or_else(|| "the dynamic string table lies outside the file".to_string())?;
        let string = |off: u64| -> Result<String, String> {
            strtab
                .get(off as usize..)
                .map(|s| c_str(s).to_string())
                .ok_or_else(|| format!("dynamic string offset {off} outside the table"))
        };
        for d in &dynamic.dyns {
            match d.d_tag {
                dynamic::DT_NEEDED => info.needed.push(string(d.d_val)?),
                // ld.so keeps the last entry of a tag (`l_info[tag] = dyn` in a loop).
                dynamic::DT_SONAME => info.soname = Some(string(d.d_val)?),
                dynamic::DT_RPATH => info.rpath = Some(string(d.d_val)?),
                dynamic::DT_RUNPATH => info.runpath = Some(string(d.d_val)?),
                dynamic::DT_FLAGS_1 => info.nodeflib = d.d_val & dynamic::DF_1_NODEFLIB != 0,
                _ => {}
            }
        }
        Ok(info)
    }
}

fn slice(bytes: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    bytes.get(off..off.checked_add(len)?)
}

/// The string up to the first NUL (lossy: a path is compared as written).
fn c_str(b: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::testelf::TestElf;

    #[test]
    fn reads_the_dynamic_entries() {
        let bytes = TestElf::new()
            .interp("/lib64/ld-linux-x86-64.so.2")
            .soname("libx.so.1")
            .needed("liba.so.1")
            .needed("libb.so.2")
            .rpath("$ORIGIN/r")
            .runpath("/run")
            .nodeflib()
            .bytes();
        let i = ElfInfo::parse(&bytes).unwrap();
        assert_eq!(i.interp.as_deref(), Some("/lib64/ld-linux-x86-64.so.2"));
        assert_eq!(i.soname.as_deref(), Some("libx.so.1"));
        assert_eq!(i.needed, ["liba.so.1", "libb.so.2"]);
        assert_eq!(i.rpath.as_deref(), Some("$ORIGIN/r"));
        assert_eq!(i.runpath.as_deref(), Some("/run"));
        assert!(i.nodeflib);
        assert_eq!(
            i.arch,
            Some(Arch {
                class: 2,
                data: 1,
                machine: 62
            })
        );
    }

    #[test]
    fn other_classes_are_told_apart_and_garbage_is_an_error() {
        let a = arch_of(&TestElf::new().bytes()).unwrap();
        let b = arch_of(&TestElf::new().class32().bytes()).unwrap();
        assert_ne!(a, b);
        assert!(ElfInfo::parse(b"#!/bin/sh\n").is_err());
        assert!(arch_of(b"\x7fELF").is_none());
    }
}
