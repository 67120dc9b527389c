//! Binary and library resolution by reading ELF headers (never by running `ldd`):
//! PT_INTERP, DT_NEEDED, DT_RPATH/DT_RUNPATH with `$ORIGIN`, the sysroot's ld.so.conf, and
//! the `#!` interpreters of scripts. Each file is read and parsed once per build.

use crate::error::{BuildError, Result};
use crate::plan::Plan;
use crate::resolve::ldconf;
use crate::sysroot::Sysroot;
use goblin::elf::Elf;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Read;

/// Class and machine of an ELF file, to skip libraries of another architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arch {
    class: u8,
    machine: u16,
}

fn arch_of(bytes: &[u8]) -> Option<Arch> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return None;
    }
    let machine = if bytes[5] == 2 {
        u16::from_be_bytes([bytes[18], bytes[19]])
    } else {
        u16::from_le_bytes([bytes[18], bytes[19]])
    };
    Some(Arch {
        class: bytes[4],
        machine,
    })
}

/// Resolves executables, scripts and libraries into a plan.
pub struct ElfResolver<'a> {
    sysroot: &'a Sysroot,
    search: Vec<String>,
    done: HashSet<String>,
    arch_cache: HashMap<String, Option<Arch>>,
    /// Number of ELF files parsed, for the summary and the "parsed once" test.
    pub parsed: usize,
}

impl<'a> ElfResolver<'a> {
    pub fn new(sysroot: &'a Sysroot) -> Self {
        ElfResolver {
            sysroot,
            search: ldconf::search_dirs(sysroot),
            done: HashSet::new(),
            arch_cache: HashMap::new(),
            parsed: 0,
        }
    }

    /// Adds `path` (absolute inside the sysroot) and everything it needs to run.
    /// Returns `false` when `path` does not exist.
    pub fn add(&mut self, plan: &mut Plan, path: &str, by: &str) -> Result<bool> {
        let mut queue = VecDeque::new();
        queue.push_back((path.to_string(), by.to_string()));
        let mut first = true;
        // What ld.so has loaded for this program, by soname and by the name it was asked
        // for: a later DT_NEEDED of the same name is satisfied by it, without a new search
        // (ld.so does not search again, whatever the later object's own RUNPATH says).
        let mut loaded: HashMap<String, String> = HashMap::new();
        while let Some((p, who)) = queue.pop_front() {
            let Some(r) = self.sysroot.add(plan, &p, &who)? else {
                if first {
                    return Ok(false);
                }
                return Err(BuildError::MissingFile {
                    path: p,
                    by: who,
                    hint: String::new(),
                });
            };
            first = false;
            if r.is_dir || !self.done.insert(r.image_path.clone()) {
                continue;
            }
            // Generated or declared entries (e.g. busybox applet links) are not host files.
            if !matches!(
                plan.get(&r.image_path).map(|e| &e.source),
                Some(crate::plan::Source::Host(_))
            ) {
                continue;
            }
            let mut head = [0u8; 64];
            let n = std::fs::File::open(&r.host_path)
                .and_then(|mut f| f.read(&mut head))
                .map_err(|e| BuildError::read(&r.host_path, e))?;
            let head = &head[..n];
            if head.starts_with(b"\x7fELF") {
                let bytes =
                    std::fs::read(&r.host_path).map_err(|e| BuildError::read(&r.host_path, e))?;
                self.parsed += 1;
                let needs = self.elf_needs(&bytes, &r.image_path, &mut loaded)?;
                for n in needs {
                    queue.push_back((n, format!("/{}", r.image_path)));
                }
            } else if head.starts_with(b"#!") {
                if let Some(interp) = self.script_interpreter(&r.host_path)? {
                    queue.push_back((interp, format!("/{} (#! line)", r.image_path)));
                }
            }
        }
        Ok(true)
    }

    fn script_interpreter(&self, host: &std::path::Path) -> Result<Option<String>> {
        let mut buf = [0u8; 256];
        let n = std::fs::File::open(host)
            .and_then(|mut f| f.read(&mut buf))
            .map_err(|e| BuildError::read(host, e))?;
        let line = String::from_utf8_lossy(&buf[2..n]);
        let line = line.lines().next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let Some(interp) = words.next() else {
            return Ok(None);
        };
        if interp.ends_with("/env") {
            // `#!/usr/bin/env python3`: the real interpreter is looked up like a binary.
            if let Some(prog) = words.find(|w| !w.starts_with('-')) {
                return self.sysroot.which(prog);
            }
        }
        Ok(Some(interp.to_string()))
    }

    fn elf_needs(
        &mut self,
        bytes: &[u8],
        image_path: &str,
        loaded: &mut HashMap<String, String>,
    ) -> Result<Vec<String>> {
        let elf = Elf::parse(bytes).map_err(|e| BuildError::BadElf {
            path: self.sysroot.host(image_path),
            message: e.to_string(),
        })?;
        if let Some(soname) = elf.soname {
            loaded
                .entry(soname.to_string())
                .or_insert_with(|| format!("/{image_path}"));
        }
        let arch = arch_of(bytes);
        let mut out = Vec::new();
        if let Some(interp) = elf.interpreter {
            out.push(interp.to_string());
        }
        let origin = format!(
            "/{}",
            image_path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
        );
        let expand = |p: &str| {
            p.replace("$ORIGIN", &origin)
                .replace("${ORIGIN}", &origin)
                .replace("$LIB", "lib/x86_64-linux-gnu")
                .replace("${LIB}", "lib/x86_64-linux-gnu")
                .replace("$PLATFORM", "x86_64")
        };
        let mut dirs: Vec<String> = Vec::new();
        // DT_RPATH is used only when there is no DT_RUNPATH.
        if elf.runpaths.is_empty() {
            for rp in &elf.rpaths {
                dirs.extend(rp.split(':').filter(|s| !s.is_empty()).map(expand));
            }
        }
        for rp in &elf.runpaths {
            dirs.extend(rp.split(':').filter(|s| !s.is_empty()).map(expand));
        }
        dirs.extend(self.search.iter().cloned());
        for lib in &elf.libraries {
            if lib.contains('/') {
                out.push(lib.to_string());
                continue;
            }
            if let Some(p) = loaded.get(*lib) {
                out.push(p.clone());
                continue;
            }
            let mut found = None;
            for d in &dirs {
                let cand = format!("{}/{lib}", d.trim_end_matches('/'));
                if self.compatible(&cand, arch)? {
                    found = Some(cand);
                    break;
                }
            }
            match found {
                Some(f) => {
                    loaded.insert(lib.to_string(), f.clone());
                    out.push(f)
                }
                None => {
                    return Err(BuildError::MissingLibrary {
                        name: lib.to_string(),
                        needed_by: format!("/{image_path}"),
                        searched: dirs.join(":"),
                    })
                }
            }
        }
        Ok(out)
    }

    /// True when `path` exists in the sysroot and is an ELF of the same class and machine.
    fn compatible(&mut self, path: &str, want: Option<Arch>) -> Result<bool> {
        let Some(r) = self.sysroot.resolve(path)? else {
            return Ok(false);
        };
        if r.is_dir {
            return Ok(false);
        }
        let got = match self.arch_cache.get(&r.image_path) {
            Some(a) => *a,
            None => {
                let mut head = [0u8; 20];
                let a = std::fs::File::open(&r.host_path)
                    .and_then(|mut f| f.read_exact(&mut head))
                    .ok()
                    .and_then(|_| arch_of(&head));
                self.arch_cache.insert(r.image_path.clone(), a);
                a
            }
        };
        Ok(match (want, got) {
            (Some(w), Some(g)) => w == g,
            (None, _) => true,
            (Some(_), None) => false,
        })
    }
}
