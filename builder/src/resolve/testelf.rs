//! Test support: writes minimal x86-64 ELF objects (a PT_LOAD over the whole file, a
//! PT_DYNAMIC with DT_NEEDED/DT_SONAME/DT_RPATH/DT_RUNPATH/DT_FLAGS_1, optionally a
//! PT_INTERP), so the loader rules can be tested on sysroots made in a temporary directory.

use std::path::Path;

/// A builder for one small ELF file.
#[derive(Debug, Clone, Default)]
pub struct TestElf {
    interp: Option<String>,
    soname: Option<String>,
    needed: Vec<String>,
    rpath: Option<String>,
    runpath: Option<String>,
    nodeflib: bool,
    class32: bool,
}

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_1_NODEFLIB: u64 = 0x800;

impl TestElf {
    pub fn new() -> Self {
        TestElf::default()
    }
    pub fn interp(mut self, p: &str) -> Self {
        self.interp = Some(p.into());
        self
    }
    pub fn soname(mut self, s: &str) -> Self {
        self.soname = Some(s.into());
        self
    }
    pub fn needed(mut self, n: &str) -> Self {
        self.needed.push(n.into());
        self
    }
    pub fn rpath(mut self, r: &str) -> Self {
        self.rpath = Some(r.into());
        self
    }
    pub fn runpath(mut self, r: &str) -> Self {
        self.runpath = Some(r.into());
        self
    }
    pub fn nodeflib(mut self) -> Self {
        self.nodeflib = true;
        self
    }
    /// Marks the header as a 32-bit i386 file. Only the header is 32-bit: enough for the
    /// class check that makes ld.so skip it, not for parsing.
    pub fn class32(mut self) -> Self {
        self.class32 = true;
        self
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut add_str = |s: &str| {
            let off = strtab.len() as u64;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            off
        };
        let mut dyns: Vec<(u64, u64)> = Vec::new();
        for n in &self.needed {
            dyns.push((DT_NEEDED, add_str(n)));
        }
        if let Some(s) = &self.soname {
            dyns.push((DT_SONAME, add_str(s)));
        }
        if let Some(s) = &self.rpath {
            dyns.push((DT_RPATH, add_str(s)));
        }
        if let Some(s) = &self.runpath {
            dyns.push((DT_RUNPATH, add_str(s)));
        }
        if self.nodeflib {
            dyns.push((DT_FLAGS_1, DF_1_NODEFLIB));
        }
        let phnum: u64 = if self.interp.is_some() { 3 } else { 2 };
        let interp_off = 64 + 56 * phnum;
        let interp = self
            .interp
            .as_ref()
            .map(|s| format!("{s}\0").into_bytes())
            .unwrap_or_default();
        let str_off = interp_off + interp.len() as u64;
        let dyn_off = (str_off + strtab.len() as u64).div_ceil(8) * 8;
        dyns.push((DT_STRTAB, str_off));
        dyns.push((DT_STRSZ, strtab.len() as u64));
        dyns.push((DT_NULL, 0));
        let total = dyn_off + 16 * dyns.len() as u64;

        let mut b = Vec::with_capacity(total as usize);
        b.extend_from_slice(b"\x7fELF");
        b.extend_from_slice(&[if self.class32 { 1 } else { 2 }, 1, 1, 0]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
        b.extend_from_slice(&(if self.class32 { 3u16 } else { 62u16 }).to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes()); // entry
        b.extend_from_slice(&64u64.to_le_bytes()); // phoff
        b.extend_from_slice(&0u64.to_le_bytes()); // shoff
        b.extend_from_slice(&0u32.to_le_bytes()); // flags
        for h in [64u16, 56, phnum as u16, 64, 0, 0] {
            b.extend_from_slice(&h.to_le_bytes());
        }
        let phdr = |b: &mut Vec<u8>, kind: u32, off: u64, size: u64| {
            b.extend_from_slice(&kind.to_le_bytes());
            b.extend_from_slice(&4u32.to_le_bytes()); // PF_R
            for v in [off, off, off, size, size, 8] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        };
        phdr(&mut b, 1, 0, total); // PT_LOAD
        phdr(&mut b, 2, dyn_off, total - dyn_off); // PT_DYNAMIC
        if self.interp.is_some() {
            phdr(&mut b, 3, interp_off, interp.len() as u64); // PT_INTERP
        }
        b.extend_from_slice(&interp);
        b.extend_from_slice(&strtab);
        b.resize(dyn_off as usize, 0);
        for (tag, val) in dyns {
            b.extend_from_slice(&tag.to_le_bytes());
            b.extend_from_slice(&val.to_le_bytes());
        }
        b
    }

    /// Writes the file at `root` + `path`, creating its directory.
    pub fn write(&self, root: &Path, path: &str) {
        let host = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        std::fs::write(host, self.bytes()).unwrap();
    }
}
