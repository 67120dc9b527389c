//! Binary and library resolution by reading ELF headers (never by running `ldd`): for each
//! program, what ld.so would load, simulated object by object in ld.so's breadth-first load
//! order (PT_INTERP, DT_NEEDED in the directories [`ldso::search_dirs`] gives, names
//! already loaded satisfy later needs, `glibc-hwcaps` variants for every CPU level), and the
//! `#!` interpreters of scripts. Every file is read through [`Sysroot::read`] and parsed
//! once per build.

use crate::error::{BuildError, Result};
use crate::plan::{Cause, Plan, Source, Via};
use crate::provenance;
use crate::resolve::elfinfo::{arch_of, Arch, ElfInfo};
use crate::resolve::ldconf;
use crate::resolve::ldso::{self, Level, Searcher};
use crate::sysroot::Sysroot;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Which CPUs the result must serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hwcaps {
    /// Every x86-64 level: the baseline libraries and every `glibc-hwcaps` variant ld.so
    /// would pick on some CPU (an image boots on many nodes). The default.
    EveryLevel,
    /// One CPU of this level: exactly what ld.so on it loads (to compare with `ldd`).
    Cpu(Level),
}

/// One object ld.so loads for a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The path ld.so opens (as found in the search directory, links not followed).
    pub path: String,
    /// The real file inside the sysroot (links followed), without a leading slash.
    pub image_path: String,
    /// The real path of the object whose DT_NEEDED or PT_INTERP loaded it; `None` for the
    /// program itself.
    pub needed_by: Option<String>,
}

/// What a file in the sysroot is, as far as resolution cares.
enum FileKind {
    Elf {
        arch: Option<Arch>,
        info: std::result::Result<Rc<ElfInfo>, String>,
    },
    /// A script: the first line's words after `#!`.
    Script(String),
    Other,
}

/// One object of the simulated program (ld.so's `link_map`).
struct Object {
    path: String,
    image_path: String,
    /// Names it satisfies: the names it was asked for, the path it was found at, its soname.
    names: Vec<String>,
    info: Rc<ElfInfo>,
    origin: String,
    search: Searcher,
}

/// Resolves executables, scripts and libraries into a plan.
pub struct ElfResolver<'a> {
    sysroot: &'a Sysroot,
    hwcaps: Hwcaps,
    /// The sysroot's ld.so.conf directories, read on first use.
    conf: Option<Rc<Vec<String>>>,
    files: HashMap<String, Rc<FileKind>>,
    /// Sysroot path -> the real path of the file there (`None`: absent or not a file).
    lookups: HashMap<String, Option<String>>,
    /// Directory -> whether it has a `glibc-hwcaps` subdirectory.
    hwcaps_dirs: HashMap<String, bool>,
    /// Roots already resolved in this build.
    done: HashSet<String>,
    /// Number of ELF files parsed, for the summary and the "parsed once" test.
    pub parsed: usize,
    /// The profile or module list the next [`ElfResolver::add`] calls serve (`binaries`,
    /// `files`, `plugin_dirs`), recorded as the cause of what they plan.
    pub list: &'static str,
}

impl<'a> ElfResolver<'a> {
    /// A resolver for images: every CPU level is served ([`Hwcaps::EveryLevel`]).
    pub fn new(sysroot: &'a Sysroot) -> Self {
        Self::with_hwcaps(sysroot, Hwcaps::EveryLevel)
    }

    pub fn with_hwcaps(sysroot: &'a Sysroot, hwcaps: Hwcaps) -> Self {
        ElfResolver {
            sysroot,
            hwcaps,
            conf: None,
            files: HashMap::new(),
            lookups: HashMap::new(),
            hwcaps_dirs: HashMap::new(),
            done: HashSet::new(),
            parsed: 0,
            list: "files",
        }
    }

    /// Adds `path` (absolute inside the sysroot) and everything it needs to run.
    /// Returns `false` when `path` does not exist. What it plans is recorded as asked for
    /// by `by`'s [`ElfResolver::list`], and each library as needed by its loader.
    pub fn add(&mut self, plan: &mut Plan, path: &str, by: &str) -> Result<bool> {
        let cause = Cause::Listed {
            list: self.list,
            by: by.to_string(),
        };
        self.add_because(plan, path, by, cause)
    }

    fn add_because(&mut self, plan: &mut Plan, path: &str, by: &str, cause: Cause) -> Result<bool> {
        let Some(r) = self.sysroot.add(plan, path, by)? else {
            return Ok(false);
        };
        provenance::record(plan, path, by, cause);
        if r.is_dir || !self.done.insert(r.image_path.clone()) {
            return Ok(true);
        }
        // Generated or declared entries (e.g. busybox applet links) are not host files.
        if !matches!(
            plan.get(&r.image_path).map(|e| &e.source),
            Some(Source::Host(_))
        ) {
            return Ok(true);
        }
        match &*self.file(&r.image_path)? {
            FileKind::Elf { .. } => {
                for l in self.closure_of(path, &r.image_path)?.into_iter().skip(1) {
                    let needer = l.needed_by.clone().unwrap_or_else(|| r.image_path.clone());
                    let by = format!("/{needer}");
                    if self.sysroot.add(plan, &l.path, &by)?.is_none() {
                        return Err(BuildError::MissingFile {
                            path: l.path,
                            by,
                            hint: String::new(),
                        });
                    }
                    let via = if self.elf_info(&needer)?.interp.as_deref() == Some(&l.path) {
                        Via::Interp
                    } else {
                        Via::Needed
                    };
                    let cause = Cause::Object { path: needer, via };
                    provenance::record(plan, &l.path, &by, cause);
                }
            }
            FileKind::Script(line) => {
                if let Some(interp) = self.script_interpreter(line)? {
                    let by = format!("/{} (#! line)", r.image_path);
                    let cause = Cause::Object {
                        path: r.image_path.clone(),
                        via: Via::Shebang,
                    };
                    if !self.add_because(plan, &interp, &by, cause)? {
                        return Err(BuildError::MissingFile {
                            path: interp,
                            by,
                            hint: String::new(),
                        });
                    }
                }
            }
            FileKind::Other => {}
        }
        Ok(true)
    }

    /// Everything ld.so loads to run the ELF file `path`, the program first, then in load
    /// order; with [`Hwcaps::EveryLevel`], the union over the CPU levels. `Ok(None)` when
    /// `path` does not exist; a file that is not ELF comes back alone.
    pub fn closure(&mut self, path: &str) -> Result<Option<Vec<Loaded>>> {
        let Some(image_path) = self.lookup(path)? else {
            return Ok(None);
        };
        match &*self.file(&image_path)? {
            FileKind::Elf { .. } => self.closure_of(path, &image_path).map(Some),
            _ => Ok(Some(vec![Loaded {
                path: path.to_string(),
                image_path,
                needed_by: None,
            }])),
        }
    }

    fn closure_of(&mut self, path: &str, image_path: &str) -> Result<Vec<Loaded>> {
        let levels: Vec<Level> = match self.hwcaps {
            Hwcaps::EveryLevel => Level::ALL.to_vec(),
            Hwcaps::Cpu(l) => vec![l],
        };
        let mut hwcaps_met = false;
        let mut out = self.load_program(path, image_path, levels[0], &mut hwcaps_met)?;
        // Another level can only load something else when a directory searched has a
        // `glibc-hwcaps` subdirectory.
        if hwcaps_met {
            for &level in &levels[1..] {
                for l in self.load_program(path, image_path, level, &mut hwcaps_met)? {
                    if !out.iter().any(|o| o.path == l.path) {
                        out.push(l);
                    }
                }
            }
        }
        Ok(out)
    }

    /// ld.so's `_dl_map_object_deps` for one CPU level: objects in breadth-first load order.
    fn load_program(
        &mut self,
        path: &str,
        image_path: &str,
        level: Level,
        hwcaps_met: &mut bool,
    ) -> Result<Vec<Loaded>> {
        let conf = self.conf()?;
        let info = self.elf_info(image_path)?;
        // The program's $ORIGIN is its real directory (/proc/self/exe); a root that is no
        // program (a plugin, as dlopen'd) has the directory of the path it is opened as.
        let origin = if info.interp.is_some() {
            dir_of(&format!("/{image_path}"))
        } else {
            dir_of(path)
        };
        let mut objs = vec![Object {
            path: path.to_string(),
            image_path: image_path.to_string(),
            names: info.soname.iter().cloned().collect(),
            search: Searcher::new(
                info.rpath.as_deref(),
                info.runpath.as_deref(),
                info.nodeflib,
                &origin,
                None,
            ),
            origin,
            info: info.clone(),
        }];
        // ld.so itself is loaded before any DT_NEEDED, under its PT_INTERP path and soname.
        if let Some(interp) = &info.interp {
            let Some(real) = self.lookup(interp)? else {
                return Err(BuildError::MissingFile {
                    path: interp.clone(),
                    by: format!("/{image_path}"),
                    hint: " (the program's PT_INTERP)".into(),
                });
            };
            let rtld = self.elf_info(&real)?;
            let mut names = vec![interp.clone()];
            names.extend(rtld.soname.iter().cloned());
            objs.push(Object {
                path: interp.clone(),
                image_path: real,
                names,
                search: Searcher::default(),
                origin: dir_of(interp),
                info: rtld,
            });
        }
        let mut at = 0;
        while at < objs.len() {
            let needed = objs[at].info.needed.clone();
            for name in needed {
                self.map_needed(&mut objs, at, &name, &conf, level, hwcaps_met)?;
            }
            at += 1;
        }
        // ld.so has no loader; it is there because of the program's PT_INTERP.
        let loader_of = |i: usize, o: &Object| match o.search.loader {
            Some(l) => Some(objs[l].image_path.clone()),
            None if i > 0 => Some(objs[0].image_path.clone()),
            None => None,
        };
        Ok(objs
            .iter()
            .enumerate()
            .map(|(i, o)| Loaded {
                path: o.path.clone(),
                image_path: o.image_path.clone(),
                needed_by: loader_of(i, o),
            })
            .collect())
    }

    /// ld.so's `_dl_map_object` for `name`, a DT_NEEDED of `objs[needer]`.
    fn map_needed(
        &mut self,
        objs: &mut Vec<Object>,
        needer: usize,
        name: &str,
        conf: &[String],
        level: Level,
        hwcaps_met: &mut bool,
    ) -> Result<()> {
        // A name already loaded (as asked for, as found, or as a soname) is that object.
        if objs.iter().any(|o| o.names.iter().any(|n| n == name)) {
            return Ok(());
        }
        let expanded = if name.contains('$') {
            ldso::expand(name, &objs[needer].origin)
        } else {
            name.to_string()
        };
        let want = objs[needer].info.arch;
        let found = if expanded.contains('/') {
            // Opened as written (a relative one from `/`, the working directory of /init).
            match self.lookup(&expanded)? {
                Some(real) => (expanded, real),
                None => {
                    return Err(BuildError::MissingFile {
                        path: expanded,
                        by: format!("/{} (DT_NEEDED)", objs[needer].image_path),
                        hint: String::new(),
                    })
                }
            }
        } else {
            let searchers: Vec<Searcher> = objs.iter().map(|o| o.search.clone()).collect();
            let dirs = ldso::search_dirs(&searchers, needer, conf);
            match self.search(&dirs, &expanded, want, level, hwcaps_met)? {
                Some(f) => f,
                None => {
                    return Err(BuildError::MissingLibrary {
                        name: name.to_string(),
                        needed_by: format!("/{}", objs[needer].image_path),
                        searched: dirs.join(":"),
                    })
                }
            }
        };
        let (path, real) = found;
        // The same file found under another name is the object already loaded (ld.so
        // compares device and inode).
        if let Some(o) = objs.iter_mut().find(|o| o.image_path == real) {
            o.names.push(name.to_string());
            return Ok(());
        }
        let info = self.elf_info(&real)?;
        let origin = dir_of(&path);
        let mut names = vec![name.to_string(), path.clone()];
        names.extend(info.soname.iter().cloned());
        objs.push(Object {
            search: Searcher::new(
                info.rpath.as_deref(),
                info.runpath.as_deref(),
                info.nodeflib,
                &origin,
                Some(needer),
            ),
            path,
            image_path: real,
            names,
            origin,
            info,
        });
        Ok(())
    }

    /// The first candidate in `dirs` (each with its `glibc-hwcaps` subdirectories for
    /// `level`) that is an ELF file of arch `want`: `(path as found, real path)`. A file of
    /// another class or machine is passed over, as ld.so does; a file that is not ELF at
    /// all stops ld.so ("invalid ELF header"), so it is an error here too.
    fn search(
        &mut self,
        dirs: &[String],
        name: &str,
        want: Option<Arch>,
        level: Level,
        hwcaps_met: &mut bool,
    ) -> Result<Option<(String, String)>> {
        for dir in dirs {
            let has_hwcaps = self.has_hwcaps(dir)?;
            *hwcaps_met |= has_hwcaps;
            let level = if has_hwcaps { level } else { Level::Baseline };
            for cand in ldso::candidates(dir, name, level) {
                let Some(real) = self.lookup(&cand)? else {
                    continue;
                };
                match (&*self.file(&real)?, want) {
                    (FileKind::Elf { arch: Some(a), .. }, Some(w)) if *a != w => continue,
                    (FileKind::Elf { .. }, _) => return Ok(Some((cand, real))),
                    _ => {
                        return Err(BuildError::BadElf {
                            path: self.sysroot.host(&real),
                            message: format!(
                                "found as {cand} for {name}, and ld.so stops at a file that \
                                 is not ELF (invalid ELF header)"
                            ),
                        })
                    }
                }
            }
        }
        Ok(None)
    }

    fn has_hwcaps(&mut self, dir: &str) -> Result<bool> {
        if let Some(b) = self.hwcaps_dirs.get(dir) {
            return Ok(*b);
        }
        let b = self
            .sysroot
            .resolve(&format!("{}/glibc-hwcaps", dir.trim_end_matches('/')))?
            .is_some_and(|r| r.is_dir);
        self.hwcaps_dirs.insert(dir.to_string(), b);
        Ok(b)
    }

    /// The real path of the regular file `path` names in the sysroot.
    fn lookup(&mut self, path: &str) -> Result<Option<String>> {
        if let Some(r) = self.lookups.get(path) {
            return Ok(r.clone());
        }
        let r = self
            .sysroot
            .resolve(path)?
            .filter(|r| !r.is_dir)
            .map(|r| r.image_path);
        self.lookups.insert(path.to_string(), r.clone());
        Ok(r)
    }

    fn conf(&mut self) -> Result<Rc<Vec<String>>> {
        if self.conf.is_none() {
            self.conf = Some(Rc::new(ldconf::search_dirs(self.sysroot)?));
        }
        Ok(self.conf.clone().unwrap_or_default())
    }

    /// Reads and classifies the file at real path `image_path`, once.
    fn file(&mut self, image_path: &str) -> Result<Rc<FileKind>> {
        if let Some(k) = self.files.get(image_path) {
            return Ok(k.clone());
        }
        let bytes = self.sysroot.read(image_path)?.unwrap_or_default();
        let kind = if bytes.starts_with(b"\x7fELF") {
            self.parsed += 1;
            FileKind::Elf {
                arch: arch_of(&bytes),
                info: ElfInfo::parse(&bytes).map(Rc::new),
            }
        } else if let Some(rest) = bytes.strip_prefix(b"#!") {
            // The kernel reads at most 256 bytes of a `#!` line.
            let rest = &rest[..rest.len().min(254)];
            let line = String::from_utf8_lossy(rest);
            FileKind::Script(line.lines().next().unwrap_or("").trim().to_string())
        } else {
            FileKind::Other
        };
        let kind = Rc::new(kind);
        self.files.insert(image_path.to_string(), kind.clone());
        Ok(kind)
    }

    fn elf_info(&mut self, image_path: &str) -> Result<Rc<ElfInfo>> {
        match &*self.file(image_path)? {
            FileKind::Elf { info: Ok(i), .. } => Ok(i.clone()),
            FileKind::Elf { info: Err(e), .. } => Err(BuildError::BadElf {
                path: self.sysroot.host(image_path),
                message: e.clone(),
            }),
            _ => Err(BuildError::BadElf {
                path: self.sysroot.host(image_path),
                message: "not an ELF file (invalid ELF header)".into(),
            }),
        }
    }

    /// The interpreter a `#!` line names; `/usr/bin/env X` is looked up like a binary.
    fn script_interpreter(&self, line: &str) -> Result<Option<String>> {
        let mut words = line.split_whitespace();
        let Some(interp) = words.next() else {
            return Ok(None);
        };
        if interp.ends_with("/env") {
            if let Some(prog) = words.find(|w| !w.starts_with('-')) {
                return self.sysroot.which(prog);
            }
        }
        Ok(Some(interp.to_string()))
    }
}

/// The directory part of an absolute path (`/` for a file in the root).
fn dir_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((d, _)) => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::testelf::TestElf;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    const SYS: &str = "/usr/lib/x86_64-linux-gnu";

    fn exe() -> TestElf {
        TestElf::new().interp("/lib64/ld-linux-x86-64.so.2")
    }

    fn lib(soname: &str) -> TestElf {
        TestElf::new().soname(soname)
    }

    /// A sysroot with ld.so (linked from /lib64, as on Debian) and a libc that needs it.
    fn sysroot() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        lib("ld-linux-x86-64.so.2").write(r, &format!("{SYS}/ld-linux-x86-64.so.2"));
        std::fs::create_dir_all(r.join("lib64")).unwrap();
        symlink(
            format!("{SYS}/ld-linux-x86-64.so.2"),
            r.join("lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        lib("libc.so.6")
            .needed("ld-linux-x86-64.so.2")
            .write(r, &format!("{SYS}/libc.so.6"));
        d
    }

    fn closure(r: &Path, hwcaps: Hwcaps, prog: &str) -> Result<Vec<String>> {
        let s = Sysroot::new(r);
        let mut res = ElfResolver::with_hwcaps(&s, hwcaps);
        Ok(res
            .closure(prog)?
            .unwrap()
            .into_iter()
            .map(|l| format!("/{}", l.image_path))
            .collect())
    }

    fn loads(r: &Path, prog: &str) -> Vec<String> {
        closure(r, Hwcaps::EveryLevel, prog).unwrap()
    }

    #[test]
    fn ld_so_and_libc_load_once_under_their_sonames() {
        let d = sysroot();
        exe().needed("libc.so.6").write(d.path(), "/usr/bin/p");
        let s = Sysroot::new(d.path());
        let got = ElfResolver::new(&s).closure("/usr/bin/p").unwrap().unwrap();
        let paths: Vec<&str> = got.iter().map(|l| l.path.as_str()).collect();
        // ld.so is found under its PT_INTERP path and satisfies libc's DT_NEEDED by soname.
        assert_eq!(
            paths,
            [
                "/usr/bin/p",
                "/lib64/ld-linux-x86-64.so.2",
                "/usr/lib/x86_64-linux-gnu/libc.so.6"
            ]
        );
        assert_eq!(
            got[1].image_path,
            "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        );
        assert_eq!(got[2].needed_by.as_deref(), Some("usr/bin/p"));
    }

    #[test]
    fn rpath_is_inherited_by_the_libraries_without_runpath() {
        let d = sysroot();
        let r = d.path();
        exe()
            .rpath("/opt/e")
            .needed("liba.so.1")
            .write(r, "/usr/bin/p");
        lib("liba.so.1")
            .needed("libb.so.1")
            .write(r, "/opt/e/liba.so.1");
        lib("libb.so.1").write(r, "/opt/e/libb.so.1");
        lib("libb.so.1").write(r, &format!("{SYS}/libb.so.1"));
        assert!(loads(r, "/usr/bin/p").contains(&"/opt/e/libb.so.1".to_string()));
    }

    #[test]
    fn runpath_applies_only_to_the_objects_own_needs() {
        let d = sysroot();
        let r = d.path();
        exe()
            .runpath("/opt/r")
            .needed("liba.so.1")
            .write(r, "/usr/bin/p");
        lib("liba.so.1")
            .needed("libb.so.1")
            .write(r, "/opt/r/liba.so.1");
        lib("libb.so.1").write(r, "/opt/r/libb.so.1");
        lib("libb.so.1").write(r, &format!("{SYS}/libb.so.1"));
        let got = loads(r, "/usr/bin/p");
        assert!(got.contains(&"/opt/r/liba.so.1".to_string()));
        assert!(got.contains(&format!("{SYS}/libb.so.1")), "{got:?}");
    }

    #[test]
    fn a_runpath_turns_off_the_objects_rpath_and_the_inherited_ones() {
        let d = sysroot();
        let r = d.path();
        exe()
            .rpath("/opt/e")
            .needed("liba.so.1")
            .write(r, "/usr/bin/p");
        lib("liba.so.1")
            .rpath("/opt/own-rpath")
            .runpath("/opt/x")
            .needed("libb.so.1")
            .write(r, "/opt/e/liba.so.1");
        lib("libb.so.1").write(r, "/opt/e/libb.so.1");
        lib("libb.so.1").write(r, "/opt/own-rpath/libb.so.1");
        lib("libb.so.1").write(r, "/opt/x/libb.so.1");
        assert!(loads(r, "/usr/bin/p").contains(&"/opt/x/libb.so.1".to_string()));
    }

    #[test]
    fn origin_is_the_programs_real_directory_and_a_librarys_found_directory() {
        let d = sysroot();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        exe()
            .runpath("$ORIGIN/../lib")
            .needed("libq.so.1")
            .write(r, "/opt/p/bin/prog");
        symlink("/opt/p/bin/prog", r.join("usr/bin/prog")).unwrap();
        // Found as /opt/p/lib/libq.so.1, a link into /opt/q: $ORIGIN is /opt/p/lib.
        lib("libq.so.1")
            .runpath("${ORIGIN}/priv")
            .needed("libpriv.so.1")
            .write(r, "/opt/q/libq.so.1");
        std::fs::create_dir_all(r.join("opt/p/lib")).unwrap();
        symlink("/opt/q/libq.so.1", r.join("opt/p/lib/libq.so.1")).unwrap();
        lib("libpriv.so.1").write(r, "/opt/p/lib/priv/libpriv.so.1");
        lib("libpriv.so.1").write(r, "/opt/q/priv/libpriv.so.1");
        let got = loads(r, "/usr/bin/prog");
        assert!(got.contains(&"/opt/q/libq.so.1".to_string()), "{got:?}");
        assert!(
            got.contains(&"/opt/p/lib/priv/libpriv.so.1".to_string()),
            "{got:?}"
        );
    }

    #[test]
    fn lib_and_platform_tokens_expand_to_debians_values() {
        let d = sysroot();
        let r = d.path();
        exe()
            .rpath("/opt/$LIB/${PLATFORM}")
            .needed("libt.so.1")
            .write(r, "/usr/bin/p");
        lib("libt.so.1").write(r, "/opt/lib/x86_64-linux-gnu/x86_64/libt.so.1");
        lib("libt.so.1").write(r, &format!("{SYS}/libt.so.1"));
        assert!(loads(r, "/usr/bin/p")
            .contains(&"/opt/lib/x86_64-linux-gnu/x86_64/libt.so.1".to_string()));
    }

    #[test]
    fn glibc_hwcaps_variants_are_included_for_every_cpu_level() {
        let d = sysroot();
        let r = d.path();
        exe().needed("libz.so.1").write(r, "/usr/bin/p");
        lib("libz.so.1").write(r, &format!("{SYS}/libz.so.1"));
        lib("libz.so.1")
            .needed("libv3extra.so.1")
            .write(r, &format!("{SYS}/glibc-hwcaps/x86-64-v3/libz.so.1"));
        lib("libv3extra.so.1").write(r, &format!("{SYS}/libv3extra.so.1"));
        let v3 = format!("{SYS}/glibc-hwcaps/x86-64-v3/libz.so.1");
        let base = format!("{SYS}/libz.so.1");
        let extra = format!("{SYS}/libv3extra.so.1");
        // An image serves every CPU: the baseline, the v3 variant and what it needs.
        let all = loads(r, "/usr/bin/p");
        assert!(all.contains(&base) && all.contains(&v3) && all.contains(&extra));
        // One CPU loads what ld.so on it would pick.
        let v2 = closure(r, Hwcaps::Cpu(Level::V2), "/usr/bin/p").unwrap();
        assert!(v2.contains(&base) && !v2.contains(&v3) && !v2.contains(&extra));
        let v4 = closure(r, Hwcaps::Cpu(Level::V4), "/usr/bin/p").unwrap();
        assert!(!v4.contains(&base) && v4.contains(&v3) && v4.contains(&extra));
    }

    #[test]
    fn a_name_already_loaded_satisfies_later_needs() {
        let d = sysroot();
        let r = d.path();
        // The program asks for the development name; the object's soname then satisfies
        // liba's need, although liba's RUNPATH has another copy.
        exe()
            .runpath("/opt/r")
            .needed("libs.so")
            .needed("liba.so.1")
            .write(r, "/usr/bin/p");
        lib("libs.so.1").write(r, "/opt/r/libs.so");
        lib("liba.so.1")
            .runpath("/opt/other")
            .needed("libs.so.1")
            .write(r, "/opt/r/liba.so.1");
        lib("libs.so.1").write(r, "/opt/other/libs.so.1");
        let got = loads(r, "/usr/bin/p");
        assert!(got.contains(&"/opt/r/libs.so".to_string()));
        assert!(
            !got.contains(&"/opt/other/libs.so.1".to_string()),
            "{got:?}"
        );
    }

    #[test]
    fn other_classes_are_passed_over_and_a_non_elf_file_stops_the_search() {
        let d = sysroot();
        let r = d.path();
        exe()
            .rpath("/opt/32")
            .needed("libw.so.1")
            .write(r, "/usr/bin/p");
        TestElf::new().class32().write(r, "/opt/32/libw.so.1");
        lib("libw.so.1").write(r, &format!("{SYS}/libw.so.1"));
        assert!(loads(r, "/usr/bin/p").contains(&format!("{SYS}/libw.so.1")));
        std::fs::write(r.join("opt/32/libw.so.1"), "/* GNU ld script */\n").unwrap();
        assert!(matches!(
            closure(r, Hwcaps::EveryLevel, "/usr/bin/p"),
            Err(BuildError::BadElf { .. })
        ));
    }

    #[test]
    fn nodeflib_keeps_the_default_directories_out() {
        let d = sysroot();
        let r = d.path();
        exe().nodeflib().needed("libc.so.6").write(r, "/usr/bin/p");
        match closure(r, Hwcaps::EveryLevel, "/usr/bin/p") {
            Err(BuildError::MissingLibrary { name, searched, .. }) => {
                assert_eq!(name, "libc.so.6");
                assert!(!searched.contains(SYS), "{searched}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ld_so_conf_directories_come_before_the_default_ones() {
        let d = sysroot();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
        std::fs::write(r.join("etc/ld.so.conf"), "include ld.so.conf.d/*.conf\n").unwrap();
        std::fs::write(r.join("etc/ld.so.conf.d/local.conf"), "/usr/local/lib\n").unwrap();
        exe().needed("libl.so.1").write(r, "/usr/bin/p");
        lib("libl.so.1").write(r, "/usr/local/lib/libl.so.1");
        lib("libl.so.1").write(r, &format!("{SYS}/libl.so.1"));
        assert!(loads(r, "/usr/bin/p").contains(&"/usr/local/lib/libl.so.1".to_string()));
    }

    #[test]
    fn a_link_out_of_the_sysroot_never_reads_the_build_host() {
        let d = sysroot();
        let r = d.path();
        let host = tempfile::tempdir().unwrap();
        lib("libh.so.1").write(host.path(), "/libh.so.1");
        exe().needed("libh.so.1").write(r, "/usr/bin/p");
        symlink(
            host.path().join("libh.so.1"),
            r.join(&SYS[1..]).join("libh.so.1"),
        )
        .unwrap();
        assert!(matches!(
            closure(r, Hwcaps::EveryLevel, "/usr/bin/p"),
            Err(BuildError::MissingLibrary { .. })
        ));
    }

    #[test]
    fn add_plans_the_libraries_their_links_and_script_interpreters() {
        let d = sysroot();
        let r = d.path();
        exe().needed("libc.so.6").write(r, "/usr/bin/tool");
        std::fs::write(r.join("usr/bin/script"), "#!/usr/bin/tool -x\necho\n").unwrap();
        let s = Sysroot::new(r);
        let mut res = ElfResolver::new(&s);
        let mut plan = Plan::default();
        assert!(res.add(&mut plan, "/usr/bin/script", "t").unwrap());
        assert!(!res.add(&mut plan, "/usr/bin/none", "t").unwrap());
        for p in [
            "usr/bin/script",
            "usr/bin/tool",
            "lib64/ld-linux-x86-64.so.2",
            "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "usr/lib/x86_64-linux-gnu/libc.so.6",
        ] {
            assert!(plan.contains(p), "{p} not planned");
        }
        assert_eq!(
            plan.get("lib64/ld-linux-x86-64.so.2").unwrap().source,
            Source::Symlink(format!("{SYS}/ld-linux-x86-64.so.2"))
        );
        // Each file is parsed once, however many programs need it.
        exe().needed("libc.so.6").write(r, "/usr/bin/tool2");
        let before = res.parsed;
        res.add(&mut plan, "/usr/bin/tool2", "t").unwrap();
        assert_eq!(res.parsed, before + 1);
    }
}
