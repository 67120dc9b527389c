//! The host tree a build reads from (`--sysroot`, default `/`). Owns path resolution inside
//! it: symlink chains are followed *inside* the sysroot (an absolute link target never
//! escapes to the build host), and every link met on the way is recorded in the plan, so
//! merged-/usr layouts and `libfoo.so.1 -> libfoo.so.1.2.3` chains stay links in the image.

use crate::error::{BuildError, Result};
use crate::plan::{Plan, Source};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Directories searched for binaries named without a slash.
pub const BIN_DIRS: &[&str] = &[
    "usr/local/sbin",
    "usr/local/bin",
    "usr/sbin",
    "usr/bin",
    "sbin",
    "bin",
];

/// What a path resolved to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The image path of the final, non-symlink object.
    pub image_path: String,
    /// The host path of it (sysroot prefix included).
    pub host_path: PathBuf,
    pub is_dir: bool,
}

/// A sysroot on the build host.
#[derive(Debug, Clone)]
pub struct Sysroot {
    root: PathBuf,
}

fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

impl Sysroot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Sysroot { root: root.into() }
    }

    /// A sysroot given by the user (`--sysroot`): it must exist and be a directory (a link
    /// to one is fine), else the error names the path and what to pass instead.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let what = "pass the root directory of the system to take files from \
                    (e.g. /srv/debian12), or / for this host";
        let problem = match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => return Ok(Sysroot { root }),
            Ok(m) => format!(
                "{} is {}, not a directory",
                root.display(),
                if m.is_file() {
                    "a file"
                } else {
                    "a special file"
                }
            ),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                format!("{} does not exist", root.display())
            }
            Err(e) => format!("cannot use {}: {e}", root.display()),
        };
        Err(BuildError::Config {
            location: "--sysroot".into(),
            message: format!("{problem}; {what}"),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of an image path (no symlink resolution).
    pub fn host(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Resolves `path` inside the sysroot; `plan`, when given, receives the symlinks and
    /// directories met on the way and wins over the host where it already has an entry.
    /// Returns `Ok(None)` when the path does not exist.
    fn walk(&self, path: &str, mut plan: Option<(&mut Plan, &str)>) -> Result<Option<Resolved>> {
        let mut pending: Vec<String> = split(path);
        pending.reverse();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            if c == ".." {
                cur.pop();
                continue;
            }
            let mut cand = cur.clone();
            cand.push(c);
            let cand_s = cand.join("/");
            // The image's own view wins (e.g. /bin/sh declared as busybox, not the host's dash).
            let planned = plan
                .as_ref()
                .and_then(|(p, _)| p.get(&cand_s).map(|e| e.source.clone()));
            let target = match planned {
                Some(Source::Symlink(t)) => Some(t),
                Some(Source::Dir) => {
                    cur = cand;
                    continue;
                }
                Some(_) if pending.is_empty() => {
                    return Ok(Some(Resolved {
                        host_path: self.host(&cand_s),
                        image_path: cand_s,
                        is_dir: false,
                    }))
                }
                Some(_) => return Ok(None),
                None => {
                    let host = self.host(&cand_s);
                    let meta = match std::fs::symlink_metadata(&host) {
                        Ok(m) => m,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                        Err(e) if e.raw_os_error() == Some(20) => return Ok(None), // ENOTDIR
                        Err(e) => return Err(BuildError::read(host, e)),
                    };
                    if meta.file_type().is_symlink() {
                        let t =
                            std::fs::read_link(&host).map_err(|e| BuildError::read(&host, e))?;
                        let t = t.to_string_lossy().into_owned();
                        if let Some((plan, by)) = plan.as_mut() {
                            plan.insert(&cand_s, Source::Symlink(t.clone()), 0o777, by)?;
                        }
                        Some(t)
                    } else if meta.is_dir() {
                        if let Some((plan, by)) = plan.as_mut() {
                            if !plan.contains(&cand_s) {
                                let mode = meta.permissions().mode() & 0o7777;
                                plan.insert(&cand_s, Source::Dir, mode, by)?;
                            }
                        }
                        cur = cand;
                        continue;
                    } else if pending.is_empty() {
                        return Ok(Some(Resolved {
                            host_path: host,
                            image_path: cand_s,
                            is_dir: false,
                        }));
                    } else {
                        return Ok(None);
                    }
                }
            };
            if let Some(t) = target {
                hops += 1;
                if hops > 40 {
                    return Err(BuildError::SymlinkLoop {
                        path: path.to_string(),
                    });
                }
                if t.starts_with('/') {
                    cur.clear();
                }
                let mut more = split(&t);
                more.reverse();
                pending.extend(more);
            }
        }
        let image_path = cur.join("/");
        Ok(Some(Resolved {
            host_path: self.host(&image_path),
            image_path,
            is_dir: true,
        }))
    }

    /// Resolves without touching any plan.
    pub fn resolve(&self, path: &str) -> Result<Option<Resolved>> {
        self.walk(path, None)
    }

    /// Resolves and records every symlink and directory met in `plan`; the final object is
    /// added too (a host file, or a directory). Returns `None` if it does not exist.
    pub fn add(&self, plan: &mut Plan, path: &str, by: &str) -> Result<Option<Resolved>> {
        let Some(r) = self.walk(path, Some((plan, by)))? else {
            return Ok(None);
        };
        if !r.is_dir && !plan.contains(&r.image_path) {
            let meta =
                std::fs::metadata(&r.host_path).map_err(|e| BuildError::read(&r.host_path, e))?;
            if !meta.is_file() {
                return Ok(None);
            }
            let mode = meta.permissions().mode() & 0o7777;
            plan.insert(&r.image_path, Source::Host(r.host_path.clone()), mode, by)?;
        }
        Ok(Some(r))
    }

    /// Reads the file at image path `path`, resolved inside the sysroot (every symlink on
    /// the way followed as `chroot` would, never out to the build host). `Ok(None)` when it
    /// does not exist or is not a regular file.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(r) = self.resolve(path)? else {
            return Ok(None);
        };
        if r.is_dir {
            return Ok(None);
        }
        // Only a regular file (a FIFO would block the build), checked before opening it.
        match std::fs::symlink_metadata(&r.host_path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BuildError::read(&r.host_path, e)),
        }
        // The resolved host path has no symlink left; refuse one that appeared since.
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&r.host_path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BuildError::read(&r.host_path, e)),
        };
        if !f
            .metadata()
            .map_err(|e| BuildError::read(&r.host_path, e))?
            .is_file()
        {
            return Ok(None);
        }
        let mut out = Vec::new();
        f.read_to_end(&mut out)
            .map_err(|e| BuildError::read(&r.host_path, e))?;
        Ok(Some(out))
    }

    /// [`Sysroot::read`] as UTF-8 text (invalid bytes replaced).
    pub fn read_text(&self, path: &str) -> Result<Option<String>> {
        Ok(self
            .read(path)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Finds a binary named without a slash in [`BIN_DIRS`]; returns the path as found.
    pub fn which(&self, name: &str) -> Result<Option<String>> {
        for dir in BIN_DIRS {
            let cand = format!("/{dir}/{name}");
            if let Some(r) = self.resolve(&cand)? {
                if !r.is_dir {
                    return Ok(Some(cand));
                }
            }
        }
        Ok(None)
    }

    /// Kernel versions installed under `lib/modules`, newest first.
    pub fn kernels(&self) -> Vec<String> {
        let dir = match self.resolve("/lib/modules") {
            Ok(Some(r)) => r.host_path,
            _ => return Vec::new(),
        };
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join("modules.dep").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| version_cmp(b, a));
        v
    }
}

/// Compares version strings by their numeric and text runs (`6.10.0` > `6.9.3`).
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut num = String::new();
        let mut txt = String::new();
        for ch in s.chars() {
            if ch.is_ascii_digit() {
                if !txt.is_empty() {
                    out.push((0, std::mem::take(&mut txt)));
                }
                num.push(ch);
            } else {
                if !num.is_empty() {
                    out.push((num.parse().unwrap_or(u64::MAX), String::new()));
                    num.clear();
                }
                txt.push(ch);
            }
        }
        if !num.is_empty() {
            out.push((num.parse().unwrap_or(u64::MAX), String::new()));
        }
        if !txt.is_empty() {
            out.push((0, txt));
        }
        out
    }
    chunks(a).cmp(&chunks(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("usr/bin", r.join("bin")).unwrap();
        std::fs::write(r.join("usr/lib/x86_64-linux-gnu/libfoo.so.1.2"), b"x").unwrap();
        symlink(
            "libfoo.so.1.2",
            r.join("usr/lib/x86_64-linux-gnu/libfoo.so.1"),
        )
        .unwrap();
        // An absolute link must resolve inside the sysroot, not on the host.
        symlink(
            "/usr/lib/x86_64-linux-gnu/libfoo.so.1",
            r.join("usr/bin/abs"),
        )
        .unwrap();
        symlink("loop2", r.join("usr/bin/loop1")).unwrap();
        symlink("loop1", r.join("usr/bin/loop2")).unwrap();
        d
    }

    #[test]
    fn merged_usr_and_chains_stay_links() {
        let d = tree();
        let s = Sysroot::new(d.path());
        let mut plan = Plan::default();
        let r = s
            .add(&mut plan, "/lib/x86_64-linux-gnu/libfoo.so.1", "t")
            .unwrap()
            .unwrap();
        assert_eq!(r.image_path, "usr/lib/x86_64-linux-gnu/libfoo.so.1.2");
        assert_eq!(
            plan.get("lib").unwrap().source,
            Source::Symlink("usr/lib".into())
        );
        assert_eq!(
            plan.get("usr/lib/x86_64-linux-gnu/libfoo.so.1")
                .unwrap()
                .source,
            Source::Symlink("libfoo.so.1.2".into())
        );
        assert!(matches!(
            plan.get(&r.image_path).unwrap().source,
            Source::Host(_)
        ));
    }

    #[test]
    fn absolute_links_stay_inside_the_sysroot() {
        let d = tree();
        let s = Sysroot::new(d.path());
        let r = s.resolve("/bin/abs").unwrap().unwrap();
        assert!(r.host_path.starts_with(d.path()));
        assert_eq!(r.image_path, "usr/lib/x86_64-linux-gnu/libfoo.so.1.2");
    }

    #[test]
    fn loops_and_missing_paths() {
        let d = tree();
        let s = Sysroot::new(d.path());
        assert!(matches!(
            s.resolve("/bin/loop1"),
            Err(BuildError::SymlinkLoop { .. })
        ));
        assert!(s.resolve("/bin/nope").unwrap().is_none());
        assert!(s
            .resolve("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2/x")
            .unwrap()
            .is_none());
    }

    #[test]
    fn open_refuses_a_missing_or_non_directory_sysroot() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("passwd");
        std::fs::write(&file, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let cases = [
            (file.clone(), "is a file, not a directory"),
            (d.path().join("missing"), "does not exist"),
            (file.join("below"), "does not exist"),
            (PathBuf::from("/dev/null"), "is a special file"),
        ];
        for (path, says) in cases {
            let e = Sysroot::open(&path).unwrap_err().to_string();
            assert!(
                e.starts_with("--sysroot: ") && e.contains(&*path.to_string_lossy()),
                "{e}"
            );
            assert!(e.contains(says) && e.contains("or / for this host"), "{e}");
        }
        // A directory, or a link to one, is a sysroot.
        symlink(d.path(), d.path().join("link")).unwrap();
        assert!(Sysroot::open(d.path()).is_ok());
        assert!(Sysroot::open(d.path().join("link")).is_ok());
    }

    /// Random sysroots full of hostile links: the resolver must stay inside the root.
    mod property {
        use super::*;

        const SENTINEL: &[u8] = b"OUTSIDE-THE-SYSROOT-SENTINEL";
        const NAMES: &[&str] = &["a", "b", "etc", "lib", "usr", "x"];

        /// xorshift64*: deterministic, so a failure names the seed that reproduces it.
        struct Rng(u64);

        impl Rng {
            fn next(&mut self) -> u64 {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
            }
            fn below(&mut self, n: usize) -> usize {
                (self.next() % n as u64) as usize
            }
            fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
                &items[self.below(items.len())]
            }
            fn chance(&mut self, percent: u64) -> bool {
                self.next() % 100 < percent
            }
        }

        /// A path of 0..=max random parts from `parts`, absolute or relative.
        fn random_path(rng: &mut Rng, parts: &[String], max: usize) -> String {
            let n = rng.below(max + 1);
            let joined: Vec<&str> = (0..n).map(|_| rng.pick(parts).as_str()).collect();
            let lead = if rng.chance(50) { "/" } else { "" };
            format!("{lead}{}", joined.join("/"))
        }

        /// A random tree under `root` (inside `outside`, which holds the sentinels):
        /// directories, files and links of every hostile kind. Returns the names used and
        /// the image paths of the links made.
        fn random_tree(rng: &mut Rng, root: &Path, outside: &Path) -> (Vec<String>, Vec<String>) {
            let mut dirs = vec![String::new()];
            for _ in 0..rng.below(8) + 2 {
                let parent = rng.pick(&dirs).clone();
                let d = format!("{parent}/{}", rng.pick(NAMES));
                std::fs::create_dir_all(root.join(d.trim_start_matches('/'))).unwrap();
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
            let mut names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
            names.extend(["..", ".", "f", "l0", "l1", "l2", "l3"].map(String::from));
            let sentinel = outside.join("sentinel");
            let outside_dir = outside.join("dir");
            let mut links = Vec::new();
            // Decoys inside the root where a link out would land if it stayed inside: the
            // resolver must read these, never the host's.
            for decoy in [
                "sentinel".to_string(),
                "dir/sentinel".to_string(),
                "etc/passwd".to_string(),
                format!("{}/sentinel", outside.display()),
            ] {
                if rng.chance(50) {
                    let at = root.join(decoy.trim_start_matches('/'));
                    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
                    std::fs::write(&at, format!("inside decoy {decoy}")).unwrap();
                }
            }
            for i in 0..rng.below(14) + 4 {
                let dir = root.join(rng.pick(&dirs).trim_start_matches('/'));
                let name = if rng.chance(25) {
                    "f".to_string()
                } else if rng.chance(60) {
                    format!("l{}", rng.below(4))
                } else {
                    rng.pick(NAMES).to_string()
                };
                let at = dir.join(&name);
                if std::fs::symlink_metadata(&at).is_ok() {
                    continue;
                }
                if name == "f" {
                    std::fs::write(&at, format!("inside {i}")).unwrap();
                    continue;
                }
                let depth = dir.strip_prefix(root).unwrap().components().count();
                let up = |n: usize| "../".repeat(n);
                let target = match rng.below(12) {
                    // Straight at the host: the sentinel and its directory, by host path.
                    0 => sentinel.display().to_string(),
                    1 => format!("{}/sentinel", outside_dir.display()),
                    // Climbing out with exactly enough, or far too many, `..`.
                    2 => format!("{}sentinel", up(depth + 1)),
                    3 => format!("{}{}sentinel", up(depth + 1 + rng.below(6)), ""),
                    4 => format!("{}dir/sentinel", up(depth + 1)),
                    5 => format!("{}dir", up(depth + 1)),
                    // Well-known host paths and the roots.
                    6 => rng
                        .pick(&["/etc/passwd", "../../../../etc", "/", ".", ".."])
                        .to_string(),
                    // Loops: itself, its directory, a sibling link.
                    7 => rng
                        .pick(&[name.clone(), ".".into(), format!("./{name}"), "l0".into()])
                        .clone(),
                    // Anything made of the tree's names, `.` and `..`.
                    _ => random_path(rng, &names, 5),
                };
                let target = if target.is_empty() { "." } else { &target };
                symlink(target, &at).unwrap();
                links.push(format!("/{}", at.strip_prefix(root).unwrap().display()));
            }
            (names, links)
        }

        #[test]
        fn random_sysroots_never_resolve_or_read_outside_the_root() {
            let (mut resolved, mut read, mut loops, mut naive_escapes) = (0, 0, 0, 0);
            for seed in 1..=120u64 {
                let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                let d = tempfile::tempdir().unwrap();
                let outside = d.path();
                std::fs::create_dir(outside.join("dir")).unwrap();
                std::fs::write(outside.join("sentinel"), SENTINEL).unwrap();
                std::fs::write(outside.join("dir/sentinel"), SENTINEL).unwrap();
                let root = outside.join("root");
                std::fs::create_dir(&root).unwrap();
                let (names, links) = random_tree(&mut rng, &root, outside);
                let canon_root = root.canonicalize().unwrap();
                let s = Sysroot::new(&root);
                let mut plan = Plan::default();
                for _ in 0..60 {
                    // A made link (maybe with more after it), or anything at all.
                    let path = if !links.is_empty() && rng.chance(50) {
                        let tail = rng.pick(&["", "/sentinel", "/f", "/passwd", "/dir/sentinel"]);
                        format!("{}{tail}", rng.pick(&links))
                    } else {
                        random_path(&mut rng, &names, 6)
                    };
                    let ctx = format!("seed {seed}, path {path:?}");
                    // What a naive join-and-open would read: the test must reach the host.
                    if std::fs::read(root.join(path.trim_start_matches('/')))
                        .is_ok_and(|b| b == SENTINEL)
                    {
                        naive_escapes += 1;
                    }
                    match s.resolve(&path) {
                        Ok(Some(r)) => {
                            resolved += 1;
                            let rel = r.host_path.strip_prefix(&root).expect(&ctx);
                            assert!(
                                rel.components()
                                    .all(|c| matches!(c, std::path::Component::Normal(_))),
                                "{ctx}: {}",
                                r.host_path.display()
                            );
                            assert_eq!(rel, Path::new(&r.image_path), "{ctx}");
                            let canon = r.host_path.canonicalize().expect(&ctx);
                            assert!(
                                canon.starts_with(&canon_root),
                                "{ctx}: resolved to {} outside {}",
                                canon.display(),
                                canon_root.display()
                            );
                            let meta = std::fs::symlink_metadata(&r.host_path).expect(&ctx);
                            assert!(!meta.file_type().is_symlink(), "{ctx}: ends on a link");
                            assert_eq!(meta.is_dir(), r.is_dir, "{ctx}");
                        }
                        Ok(None) => {}
                        Err(BuildError::SymlinkLoop { .. }) => loops += 1,
                        Err(e) => panic!("{ctx}: unexpected error {e}"),
                    }
                    match s.read(&path) {
                        Ok(Some(bytes)) => {
                            read += 1;
                            assert_ne!(bytes, SENTINEL, "{ctx}: read the host's file");
                        }
                        Ok(None) | Err(BuildError::SymlinkLoop { .. }) => {}
                        Err(e) => panic!("{ctx}: unexpected error {e}"),
                    }
                    // Recording the walk in a plan: every host file it names is inside.
                    match s.add(&mut plan, &path, "property test") {
                        Ok(_) | Err(BuildError::SymlinkLoop { .. }) => {}
                        Err(BuildError::Conflict { .. }) => {}
                        Err(e) => panic!("{ctx}: unexpected error {e}"),
                    }
                }
                for (path, entry) in plan.iter() {
                    if let Source::Host(host) = &entry.source {
                        let canon = host.canonicalize().unwrap();
                        assert!(
                            canon.starts_with(&canon_root),
                            "seed {seed}: plan entry {path} comes from {}",
                            canon.display()
                        );
                    }
                }
            }
            // The generator must really produce what the resolver has to survive.
            let counts = format!(
                "{resolved} resolved, {read} read, {loops} loops, {naive_escapes} naive escapes"
            );
            eprintln!("{counts}");
            assert!(resolved > 1000 && read > 100 && loops > 20, "{counts}");
            assert!(
                naive_escapes > 20,
                "only {naive_escapes} paths reach the host"
            );
        }
    }

    #[test]
    fn version_sort() {
        assert_eq!(
            version_cmp("6.10.0-1-amd64", "6.9.3-1-amd64"),
            std::cmp::Ordering::Greater
        );
        assert_eq!(
            version_cmp("6.1.0-56-amd64", "6.1.0-9-amd64"),
            std::cmp::Ordering::Greater
        );
    }
}
