//! Listing, glob expansion and directory walks *inside* a sysroot, as under `chroot`: every
//! directory is resolved with [`Sysroot::resolve`] before it is listed, so a link in a
//! pattern's path (`etc/d -> /tmp`) or a `..` lists the sysroot's own directory, never the
//! build host's. Profiles' `files` and `plugin_dirs` and `ld.so.conf` includes expand here.

use crate::error::{BuildError, Result};
use crate::sysroot::Sysroot;
use std::os::unix::fs::FileTypeExt;

/// Most paths one pattern may expand to (a bound on a hostile pattern's cost).
const MAX_MATCHES: usize = 100_000;

fn has_magic(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

impl Sysroot {
    /// The names in the directory at `path` (resolved inside the sysroot), sorted; `None`
    /// when the path does not exist or is not a directory. Names that are not UTF-8 are
    /// left out (no profile can name them).
    pub fn read_dir(&self, path: &str) -> Result<Option<Vec<String>>> {
        let Some(r) = self.resolve(path)? else {
            return Ok(None);
        };
        if !r.is_dir {
            return Ok(None);
        }
        let read = |source| BuildError::Read {
            path: r.host_path.clone(),
            source,
        };
        let mut names = Vec::new();
        for e in std::fs::read_dir(&r.host_path).map_err(read)? {
            if let Some(n) = e.map_err(read)?.file_name().to_str() {
                names.push(n.to_string());
            }
        }
        names.sort();
        Ok(Some(names))
    }

    /// Expands a shell-style pattern (`*`, `?`, `[...]` within one component) to the
    /// existing paths it names inside the sysroot, sorted, as absolute sysroot paths. A
    /// component without wildcards is taken as it is (`..` included: resolution keeps it
    /// inside the sysroot). As with `glob(3)`, `*` also matches a leading dot.
    pub fn glob(&self, pattern: &str) -> Result<Vec<String>> {
        self.expand(pattern, false)
    }

    /// [`Sysroot::glob`] where a leading `.` must be matched literally, as glob(3) does
    /// without `GLOB_PERIOD` (ldconfig's `include` lines).
    pub fn glob_no_hidden(&self, pattern: &str) -> Result<Vec<String>> {
        self.expand(pattern, true)
    }

    fn expand(&self, pattern: &str, literal_leading_dot: bool) -> Result<Vec<String>> {
        let bad = |message: String| BuildError::Config {
            location: format!("file pattern {pattern:?}"),
            message,
        };
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: literal_leading_dot,
        };
        let mut found = vec![String::new()];
        for comp in pattern.split('/').filter(|c| !c.is_empty() && *c != ".") {
            let mut next = Vec::new();
            for base in &found {
                if !has_magic(comp) {
                    next.push(join(base, comp));
                    continue;
                }
                let p = glob::Pattern::new(comp).map_err(|e| bad(format!("{e}")))?;
                let Some(names) = self.read_dir(&format!("/{base}"))? else {
                    continue;
                };
                next.extend(
                    names
                        .iter()
                        .filter(|n| p.matches_with(n, options))
                        .map(|n| join(base, n)),
                );
                if next.len() > MAX_MATCHES {
                    return Err(bad(format!(
                        "expands to more than {MAX_MATCHES} paths; name fewer files"
                    )));
                }
            }
            found = next;
        }
        let mut out = Vec::new();
        for p in found {
            let p = format!("/{p}");
            if self.resolve(&p)?.is_some() {
                out.push(p);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Every entry below the directory at `path` that is not a directory (files, symlinks,
    /// devices), as absolute sysroot paths, sorted. Links inside the tree are not
    /// followed; the directory itself is resolved inside the sysroot first.
    pub fn walk_files(&self, path: &str) -> Result<Vec<String>> {
        let Some(r) = self.resolve(path)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut stack = vec![(r.host_path.clone(), r.image_path.clone())];
        while let Some((host, image)) = stack.pop() {
            let read = |source| BuildError::Read {
                path: host.clone(),
                source,
            };
            let mut entries: Vec<(String, std::fs::FileType)> = Vec::new();
            for e in std::fs::read_dir(&host).map_err(read)? {
                let e = e.map_err(read)?;
                let Some(name) = e.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                entries.push((name, e.file_type().map_err(read)?));
            }

            for (name, t) in entries {
                let child = join(&image, &name);
                if t.is_dir() {
                    stack.push((host.join(&name), child));
                } else if t.is_file() || t.is_symlink() || t.is_char_device() || t.is_block_device()
                {
                    out.push(format!("/{child}"));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Sysroot, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        for p in ["etc/conf.d", "usr/lib/plugins/sub", "tmp"] {
            std::fs::create_dir_all(root.join(p)).unwrap();
        }
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.conf"), "host").unwrap();
        std::fs::write(root.join("etc/conf.d/a.conf"), "a").unwrap();
        std::fs::write(root.join("etc/conf.d/.hidden.conf"), "h").unwrap();
        std::fs::write(root.join("usr/lib/plugins/p1.so"), "p").unwrap();
        std::fs::write(root.join("usr/lib/plugins/sub/p2.so"), "p").unwrap();
        symlink("p1.so", root.join("usr/lib/plugins/p1-link.so")).unwrap();
        // Links that would leave the sysroot on the host.
        symlink(&outside, root.join("etc/hostlink")).unwrap();
        symlink("../../../outside", root.join("etc/rel")).unwrap();
        (d, Sysroot::new(&root), outside)
    }

    #[test]
    fn globs_expand_inside_the_sysroot_only() {
        let (_d, s, _outside) = tree();
        assert_eq!(
            s.glob("/etc/conf.d/*.conf").unwrap(),
            ["/etc/conf.d/.hidden.conf", "/etc/conf.d/a.conf"]
        );
        // A link to a host directory lists the sysroot's path of the same name: nothing.
        assert!(s.glob("/etc/hostlink/*").unwrap().is_empty());
        assert!(s.glob("/etc/rel/*.conf").unwrap().is_empty());
        // `..` never climbs above the sysroot's root.
        assert!(s.glob("/etc/../../../outside/*").unwrap().is_empty());
        assert_eq!(
            s.glob("/etc/../../etc/conf.d/a.*").unwrap(),
            ["/etc/../../etc/conf.d/a.conf"]
        );
        assert!(s.glob("/no/such/*").unwrap().is_empty());
        assert_eq!(s.glob("/usr/lib/plugins").unwrap(), ["/usr/lib/plugins"]);
        let e = s.glob("/etc/[").unwrap_err().to_string();
        assert!(e.contains("file pattern"), "{e}");
    }

    #[test]
    fn walks_list_files_and_links_without_following_them() {
        let (_d, s, _outside) = tree();
        assert_eq!(
            s.walk_files("/usr/lib/plugins").unwrap(),
            [
                "/usr/lib/plugins/p1-link.so",
                "/usr/lib/plugins/p1.so",
                "/usr/lib/plugins/sub/p2.so"
            ]
        );
        assert!(s.walk_files("/etc/hostlink").unwrap().is_empty());
        assert_eq!(s.read_dir("/etc/hostlink").unwrap(), None);
    }
}
