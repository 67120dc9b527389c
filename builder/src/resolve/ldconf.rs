//! The library search path of a sysroot: `/etc/ld.so.conf` with its `include` globs
//! (read from the sysroot, never from the build host), then the multiarch and default
//! directories the dynamic loader always searches.

use crate::sysroot::Sysroot;

/// Directories the loader searches after ld.so.conf.
const DEFAULT_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// Reads ld.so.conf and its includes; returns directories in search order, deduplicated.
pub fn search_dirs(sysroot: &Sysroot) -> Vec<String> {
    let mut dirs = Vec::new();
    read_conf(sysroot, "/etc/ld.so.conf", &mut dirs, 0);
    for d in DEFAULT_DIRS {
        dirs.push(d.to_string());
    }
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

fn read_conf(sysroot: &Sysroot, path: &str, dirs: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(Some(r)) = sysroot.resolve(path) else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(&r.host_path) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with("hwcap") {
            continue;
        }
        if let Some(pattern) = line.strip_prefix("include") {
            for pat in pattern.split_whitespace() {
                let pat = if pat.starts_with('/') {
                    pat.to_string()
                } else {
                    format!("/etc/{pat}")
                };
                let host_pat = sysroot.host(&pat).display().to_string();
                let mut found: Vec<_> = glob::glob(&host_pat)
                    .map(|g| g.flatten().collect())
                    .unwrap_or_default();
                found.sort();
                for f in found {
                    if let Ok(rel) = f.strip_prefix(sysroot.root()) {
                        read_conf(sysroot, &format!("/{}", rel.display()), dirs, depth + 1);
                    }
                }
            }
        } else {
            for d in line.split([' ', '\t', ',', ':']).filter(|s| !s.is_empty()) {
                dirs.push(d.trim_end_matches('/').to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_read_from_the_sysroot() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
        std::fs::write(
            r.join("etc/ld.so.conf"),
            "include /etc/ld.so.conf.d/*.conf\n/opt/a # c\n",
        )
        .unwrap();
        std::fs::write(r.join("etc/ld.so.conf.d/b.conf"), "/opt/b\n").unwrap();
        std::fs::write(r.join("etc/ld.so.conf.d/a.conf"), "# x\n/opt/c:/opt/d\n").unwrap();
        let dirs = search_dirs(&Sysroot::new(r));
        assert_eq!(&dirs[..4], &["/opt/c", "/opt/d", "/opt/b", "/opt/a"]);
        assert!(dirs.contains(&"/usr/lib/x86_64-linux-gnu".to_string()));
    }
}
