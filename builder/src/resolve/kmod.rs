//! Kernel modules: reads the sysroot's `modules.dep`, `modules.alias`, `modules.softdep` and
//! `modules.builtin`, selects modules by name, alias or path glob, takes the closure over
//! dependencies and softdeps in load order, reads `firmware=` from `.modinfo`, and writes the
//! image's own index files so that `modprobe NAME` works inside it.

use crate::config::Item;
use crate::error::{BuildError, Result};
use crate::sysroot::Sysroot;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;

/// `nfs-layout` and `nfs_layout` name the same module.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// A module's path in the image: `rel` (`kernel/fs/nfs/nfs.ko.xz`) with a plain `.ko`
/// suffix, since the image stores modules uncompressed (busybox `insmod` cannot
/// decompress).
pub fn plain_ko(rel: &str) -> String {
    format!("{}.ko", rel.split(".ko").next().unwrap_or(rel))
}

fn module_name(rel: &str) -> String {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    let stem = base.split(".ko").next().unwrap_or(base);
    normalize(stem)
}

/// Whether `glob` accepts `pat` (only `[` classes and `**` can make it refuse one).
fn alias_pattern_ok(pat: &str) -> bool {
    !(pat.contains('[') || pat.contains("**")) || glob::Pattern::new(pat).is_ok()
}

/// Whether the alias pattern `pat` matches `name`; compiled only when the text before its
/// first wildcard is a prefix of `name`.
fn alias_matches(pat: &str, name: &str) -> bool {
    let lit = pat.find(['*', '?', '[']).map_or(pat, |i| &pat[..i]);
    name.starts_with(lit) && glob::Pattern::new(pat).is_ok_and(|p| p.matches(name))
}

/// The sysroot's module index for one kernel version.
#[derive(Debug)]
pub struct ModuleIndex {
    pub kver: String,
    /// Host directory `lib/modules/<kver>`.
    pub dir: PathBuf,
    /// name → (relative path, dependencies as names, in modules.dep order)
    deps: BTreeMap<String, (String, Vec<String>)>,
    aliases: Vec<(String, String)>,
    softdeps: HashMap<String, (Vec<String>, Vec<String>)>,
    builtin: HashSet<String>,
}

/// The modules chosen for an image.
#[derive(Debug, Default)]
pub struct Selection {
    /// Every module in load order (dependencies and softdep `pre:` first).
    pub load_order: Vec<String>,
    /// Requested names that are built into the kernel (nothing to load).
    pub builtin: Vec<String>,
    /// Optional requests that matched nothing.
    pub missing_optional: Vec<Item>,
    /// Why each selected module is there (the first reason found, in selection order).
    pub reasons: HashMap<String, Selected>,
    /// The modules a request named (by name, alias or path), whatever else pulled them in.
    pub requested: HashSet<String>,
}

/// Why a module was selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    /// A profile or module asked for it (`kernel_modules` of the item's `by`).
    Requested(Item),
    /// The named module depends on it (`modules.dep`).
    DependencyOf(String),
    /// The named module lists it in a `softdep`.
    SoftdepOf(String),
}

impl ModuleIndex {
    /// Reads the index files of `image_dir` (`/lib/modules/<kver>`) through `sysroot`, so a
    /// symlink among them never reads a file of the build host.
    pub fn load(sysroot: &Sysroot, image_dir: &str, kver: &str) -> Result<Self> {
        let dir = sysroot.host(image_dir);
        let read = |name: &str| sysroot.read_text(&format!("{image_dir}/{name}"));
        let mut deps = BTreeMap::new();
        let dep_path = dir.join("modules.dep");
        let dep_text = read("modules.dep")?.ok_or_else(|| {
            BuildError::read(
                &dep_path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "missing, or a link out of the sysroot",
                ),
            )
        })?;
        for (i, line) in dep_text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Some((m, rest)) = line.split_once(':') else {
                return Err(BuildError::ModulesIndex {
                    path: dep_path,
                    line: i + 1,
                    what: "modules.dep",
                    text: line.to_string(),
                });
            };
            let ds = rest.split_whitespace().map(module_name).collect();
            deps.insert(module_name(m), (m.to_string(), ds));
        }
        let mut aliases = Vec::new();
        if let Some(text) = read("modules.alias")? {
            for line in text.lines() {
                let mut w = line.split_whitespace();
                if let (Some("alias"), Some(pat), Some(m)) = (w.next(), w.next(), w.next()) {
                    if alias_pattern_ok(pat) {
                        aliases.push((pat.to_string(), normalize(m)));
                    }
                }
            }
        }
        let mut softdeps: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
        if let Some(text) = read("modules.softdep")? {
            for line in text.lines() {
                let mut w = line.split_whitespace();
                if w.next() != Some("softdep") {
                    continue;
                }
                let Some(m) = w.next() else { continue };
                let entry = softdeps.entry(normalize(m)).or_default();
                let mut post = false;
                for word in w {
                    match word {
                        "pre:" => post = false,
                        "post:" => post = true,
                        other if post => entry.1.push(other.to_string()),
                        other => entry.0.push(other.to_string()),
                    }
                }
            }
        }
        let builtin = read("modules.builtin")?
            .map(|t| t.lines().map(module_name).collect())
            .unwrap_or_default();
        Ok(ModuleIndex {
            kver: kver.to_string(),
            dir,
            deps,
            aliases,
            softdeps,
            builtin,
        })
    }

    /// Relative path (`kernel/fs/nfs/nfs.ko`) of a module.
    pub fn path_of(&self, name: &str) -> Option<&str> {
        self.deps.get(name).map(|(p, _)| p.as_str())
    }

    /// The plain `.ko` path of a module in the image ([`plain_ko`]), under `lib/modules/KVER`.
    pub fn plain_path_of(&self, name: &str) -> String {
        plain_ko(self.path_of(name).unwrap_or_default())
    }

    /// Resolves one request to module names: a path glob, a name, or an alias.
    pub fn lookup(&self, req: &str) -> Vec<String> {
        if req.contains('/') || req.contains('*') || req.contains('?') {
            let Ok(pat) = glob::Pattern::new(req) else {
                return Vec::new();
            };
            return self
                .deps
                .iter()
                .filter(|(_, (p, _))| {
                    pat.matches(p) || pat.matches(p.split(".ko").next().unwrap_or(p))
                })
                .map(|(n, _)| n.clone())
                .collect();
        }
        let n = normalize(req);
        if self.deps.contains_key(&n) {
            return vec![n];
        }
        let mut hits: Vec<String> = self
            .aliases
            .iter()
            .filter(|(raw, _)| raw == req || alias_matches(raw, req))
            .map(|(_, m)| m.clone())
            .filter(|m| self.deps.contains_key(m))
            .collect();
        hits.sort();
        hits.dedup();
        hits
    }

    fn is_builtin(&self, req: &str) -> bool {
        self.builtin.contains(&normalize(req))
    }

    /// Selects the requested modules and their closure, in load order.
    pub fn select(&self, requests: &[Item]) -> Result<Selection> {
        let mut sel = Selection::default();
        let mut visited = HashSet::new();
        for item in requests {
            let names = self.lookup(&item.name);
            if names.is_empty() {
                if self.is_builtin(&item.name) {
                    sel.builtin.push(item.name.clone());
                    continue;
                }
                if item.optional {
                    sel.missing_optional.push(item.clone());
                    continue;
                }
                return Err(BuildError::UnknownKernelModule {
                    name: item.name.clone(),
                    by: item.by.clone(),
                    kver: self.kver.clone(),
                });
            }
            sel.requested.extend(names.iter().cloned());
            for n in names {
                let why = Selected::Requested(item.clone());
                self.visit(&n, why, &mut visited, &mut sel, 0);
            }
        }
        Ok(sel)
    }

    /// Module `name` and everything it loads with it (dependencies and softdeps), in load
    /// order, `name` included.
    pub fn closure(&self, name: &str) -> Vec<String> {
        let mut sel = Selection::default();
        let why = Selected::DependencyOf(name.to_string());
        self.visit(name, why, &mut HashSet::new(), &mut sel, 0);
        sel.load_order
    }

    fn visit(
        &self,
        name: &str,
        why: Selected,
        visited: &mut HashSet<String>,
        sel: &mut Selection,
        depth: usize,
    ) {
        if depth > 64 || !visited.insert(name.to_string()) {
            return;
        }
        sel.reasons.insert(name.to_string(), why);
        let soft = || Selected::SoftdepOf(name.to_string());
        let (pre, post) = self.softdeps.get(name).cloned().unwrap_or_default();
        for p in pre {
            for n in self.lookup(&p) {
                self.visit(&n, soft(), visited, sel, depth + 1);
            }
        }
        if let Some((_, ds)) = self.deps.get(name) {
            // modules.dep lists the module loaded last first.
            for d in ds.iter().rev() {
                let why = Selected::DependencyOf(name.to_string());
                self.visit(d, why, visited, sel, depth + 1);
            }
        }
        sel.load_order.push(name.to_string());
        for p in post {
            for n in self.lookup(&p) {
                self.visit(&n, soft(), visited, sel, depth + 1);
            }
        }
    }

    /// The image's `modules.dep`, `modules.alias`, `modules.softdep` limited to `included`.
    /// Paths are written with a plain `.ko` suffix ([`plain_ko`]).
    pub fn image_indexes(&self, included: &[String]) -> Vec<(&'static str, String)> {
        let set: BTreeSet<&String> = included.iter().collect();
        let mut dep = String::new();
        for n in &set {
            if let Some((rel, ds)) = self.deps.get(*n) {
                let paths: Vec<String> = ds
                    .iter()
                    .filter_map(|d| self.deps.get(d).map(|(p, _)| plain_ko(p)))
                    .collect();
                dep.push_str(
                    &format!("{}: {}\n", plain_ko(rel), paths.join(" ")).replace(": \n", ":\n"),
                );
            }
        }
        let mut alias = String::new();
        for (raw, m) in &self.aliases {
            if set.contains(m) {
                alias.push_str(&format!("alias {raw} {m}\n"));
            }
        }
        let mut soft = String::new();
        let mut names: Vec<&String> = self.softdeps.keys().filter(|k| set.contains(k)).collect();
        names.sort();
        for n in names {
            let (pre, post) = &self.softdeps[n];
            let mut line = format!("softdep {n}");
            if !pre.is_empty() {
                line.push_str(&format!(" pre: {}", pre.join(" ")));
            }
            if !post.is_empty() {
                line.push_str(&format!(" post: {}", post.join(" ")));
            }
            soft.push_str(&line);
            soft.push('\n');
        }
        vec![
            ("modules.dep", dep),
            ("modules.alias", alias),
            ("modules.softdep", soft),
        ]
    }
}

/// The suffixes of the compressions a distribution ships modules and firmware in
/// (`nfs.ko.xz`, `iwlwifi-9000-pu-b0-jf-b0-46.ucode.zst`), each read by [`read_decompressed`].
pub const COMPRESSED_SUFFIXES: &[&str] = &[".xz", ".zst", ".gz"];

/// `path` without its compression suffix, or `None` when it has none.
pub fn strip_compression(path: &str) -> Option<&str> {
    COMPRESSED_SUFFIXES
        .iter()
        .find_map(|s| path.strip_suffix(s))
}

/// Reads the file at image path `path` through `sysroot` (a module or a firmware file) and
/// decompresses it when its name ends in `.xz`, `.zst` or `.gz`, so that the image holds
/// it plain: one compression (the image's), and nothing for the kernel to decompress at
/// load time (busybox `insmod` cannot).
pub fn read_decompressed(sysroot: &Sysroot, path: &str) -> Result<Vec<u8>> {
    let host = sysroot.host(path);
    let raw = sysroot.read(path)?.ok_or_else(|| {
        BuildError::read(
            &host,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file in the sysroot (or a link out of it)",
            ),
        )
    })?;
    let mut out = Vec::new();
    let res = if path.ends_with(".xz") {
        xz2::read::XzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map(|_| ())
    } else if path.ends_with(".zst") {
        zstd::stream::read::Decoder::new(&raw[..])
            .and_then(|mut d| d.read_to_end(&mut out).map(|_| ()))
    } else if path.ends_with(".gz") {
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map(|_| ())
    } else {
        return Ok(raw);
    };
    res.map_err(|e| {
        BuildError::read(
            &host,
            std::io::Error::new(
                e.kind(),
                format!("cannot decompress ({e}); reinstall the package that ships it"),
            ),
        )
    })?;
    Ok(out)
}

/// `firmware=` values from a module's `.modinfo` section.
pub fn firmware_of(ko: &[u8]) -> Vec<String> {
    let Ok(elf) = goblin::elf::Elf::parse(ko) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sh in &elf.section_headers {
        if elf.shdr_strtab.get_at(sh.sh_name) != Some(".modinfo") {
            continue;
        }
        let start = sh.sh_offset as usize;
        let end = start.saturating_add(sh.sh_size as usize).min(ko.len());
        if start >= end {
            continue;
        }
        for kv in ko[start..end].split(|b| *b == 0) {
            if let Some(v) = kv.strip_prefix(b"firmware=") {
                out.push(String::from_utf8_lossy(v).into_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (tempfile::TempDir, ModuleIndex) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("modules.dep"),
            "kernel/fs/nfs/nfsv4.ko.xz: kernel/fs/nfs/nfs.ko.xz kernel/net/sunrpc/sunrpc.ko.xz\n\
             kernel/fs/nfs/nfs.ko.xz: kernel/net/sunrpc/sunrpc.ko.xz\n\
             kernel/net/sunrpc/sunrpc.ko.xz:\n\
             kernel/crypto/crc32c_generic.ko.xz:\n\
             kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz\n\
             kernel/fs/jbd2/jbd2.ko.xz:\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("modules.alias"),
            "alias fs-nfs4 nfsv4\nalias crypto-crc32c crc32c_generic\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("modules.softdep"),
            "softdep ext4 pre: crypto-crc32c\n",
        )
        .unwrap();
        std::fs::write(d.path().join("modules.builtin"), "kernel/fs/fat/vfat.ko\n").unwrap();
        let idx = ModuleIndex::load(&Sysroot::new(d.path()), "/", "6.1.0-test").unwrap();
        (d, idx)
    }

    #[test]
    fn links_out_of_the_sysroot_are_never_read_from_the_host() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("shadow");
        std::fs::write(&secret, "root:$6$secret:19000:0:99999:7:::\n").unwrap();
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("lib/modules/6.1.0-test");
        std::fs::create_dir_all(m.join("kernel/fs/ext4")).unwrap();
        std::fs::write(m.join("modules.dep"), "kernel/fs/ext4/ext4.ko:\n").unwrap();
        // An absolute link: inside the sysroot it points at <sysroot>/<outside>/shadow,
        // which does not exist; on the host it would be the secret.
        std::os::unix::fs::symlink(&secret, m.join("kernel/fs/ext4/ext4.ko")).unwrap();
        std::os::unix::fs::symlink(&secret, m.join("modules.alias")).unwrap();
        let s = Sysroot::new(d.path());
        let idx = ModuleIndex::load(&s, "/lib/modules/6.1.0-test", "6.1.0-test").unwrap();
        assert!(
            idx.aliases.is_empty(),
            "modules.alias was read from the host"
        );
        let err = read_decompressed(&s, "/lib/modules/6.1.0-test/kernel/fs/ext4/ext4.ko")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ext4.ko"), "{err}");
        // A relative link that climbs out stops at the sysroot's root, as under chroot.
        std::fs::remove_file(m.join("kernel/fs/ext4/ext4.ko")).unwrap();
        let climb = format!("../../../../../../../../..{}", secret.display());
        std::os::unix::fs::symlink(&climb, m.join("kernel/fs/ext4/ext4.ko")).unwrap();
        assert!(read_decompressed(&s, "/lib/modules/6.1.0-test/kernel/fs/ext4/ext4.ko").is_err());
    }

    fn req(n: &str) -> Item {
        Item {
            name: n.into(),
            by: "test".into(),
            optional: false,
        }
    }

    #[test]
    fn closure_in_load_order_with_softdeps() {
        let (_d, idx) = index();
        let sel = idx
            .select(&[req("fs-nfs4"), req("ext4"), req("vfat")])
            .unwrap();
        assert_eq!(
            sel.load_order,
            vec!["sunrpc", "nfs", "nfsv4", "crc32c_generic", "jbd2", "ext4"]
        );
        assert_eq!(sel.builtin, vec!["vfat"]);
    }

    #[test]
    fn path_globs_and_unknown_modules() {
        let (_d, idx) = index();
        let sel = idx.select(&[req("kernel/fs/nfs/*")]).unwrap();
        assert_eq!(sel.load_order, vec!["sunrpc", "nfs", "nfsv4"]);
        let err = idx.select(&[req("nosuchmod")]).unwrap_err().to_string();
        assert!(err.contains("nosuchmod") && err.contains("test"), "{err}");
        let opt = Item {
            optional: true,
            ..req("nosuchmod")
        };
        assert_eq!(idx.select(&[opt]).unwrap().missing_optional.len(), 1);
    }

    #[test]
    fn image_index_uses_plain_ko_paths() {
        let (_d, idx) = index();
        let files = idx.image_indexes(&["sunrpc".into(), "nfs".into()]);
        let dep = &files[0].1;
        assert!(
            dep.contains("kernel/fs/nfs/nfs.ko: kernel/net/sunrpc/sunrpc.ko\n"),
            "{dep}"
        );
        assert!(!dep.contains("nfsv4"));
    }
}
