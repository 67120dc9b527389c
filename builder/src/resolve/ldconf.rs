//! The directories of a sysroot's `/etc/ld.so.conf`, as ldconfig reads them (glibc's
//! `parse_conf`): one directory per line (a `=TYPE` suffix dropped), `#` comments,
//! `hwcap` lines ignored, and `include` lines whose words are glob patterns, relative ones
//! taken from the directory of the file that includes them, expanded in byte order and
//! nested. Every file and directory is read inside the sysroot, never on the build host.
//! These directories stand for ld.so.cache in the loader's search (see `ldso.rs`).

use crate::error::Result;
use crate::sysroot::Sysroot;

/// How deep includes may nest (ldconfig has no limit and loops on a self-include).
const MAX_DEPTH: usize = 16;

/// Reads ld.so.conf and its includes; returns absolute directories in order, first
/// occurrence kept. A missing ld.so.conf gives none; one that cannot be read is an error.
pub fn search_dirs(sysroot: &Sysroot) -> Result<Vec<String>> {
    let mut dirs = Vec::new();
    let mut read = std::collections::HashSet::new();
    read_conf(sysroot, "/etc/ld.so.conf", &mut dirs, &mut read, 0)?;
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    Ok(dirs)
}

/// `read` holds the files already read (by their real path in the sysroot): a file
/// included again adds only directories already listed, and skipping it keeps a hostile
/// sysroot's include loops (`include *.conf` in every file) from taking exponential time.
fn read_conf(
    sysroot: &Sysroot,
    path: &str,
    dirs: &mut Vec<String>,
    read: &mut std::collections::HashSet<String>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    match sysroot.resolve(path)? {
        Some(r) if !read.insert(r.image_path.clone()) => return Ok(()),
        _ => {}
    }
    let Some(text) = sysroot.read_text(path)? else {
        return Ok(());
    };
    let here = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(words) = keyword(line, "include") {
            for pat in words.split([' ', '\t']).filter(|w| !w.is_empty()) {
                let pat = if pat.starts_with('/') {
                    pat.to_string()
                } else {
                    format!("{here}/{pat}")
                };
                for file in sysroot.glob_no_hidden(&pat)? {
                    read_conf(sysroot, &file, dirs, read, depth + 1)?;
                }
            }
        } else if keyword(&line.to_ascii_lowercase(), "hwcap").is_some() {
            continue;
        } else {
            let dir = line.split('=').next().unwrap_or("").trim_end();
            let dir = dir.trim_end_matches('/');
            // ldconfig stats a relative directory from its working directory; the loader's
            // cache only ever holds absolute paths worth searching.
            if dir.starts_with('/') {
                dirs.push(dir.to_string());
            }
        }
    }
    Ok(())
}

/// The rest of `line` after `word` and a blank, if `line` starts so.
fn keyword<'l>(line: &'l str, word: &str) -> Option<&'l str> {
    line.strip_prefix(word)
        .filter(|r| r.starts_with([' ', '\t']))
        .map(|r| &r[1..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn includes_are_read_from_the_sysroot_in_byte_order() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
        fs::write(
            r.join("etc/ld.so.conf"),
            "include /etc/ld.so.conf.d/*.conf\n/opt/a/ # c\n",
        )
        .unwrap();
        fs::write(r.join("etc/ld.so.conf.d/b.conf"), "/opt/b\n").unwrap();
        fs::write(
            r.join("etc/ld.so.conf.d/a.conf"),
            "# x\n  /opt/c\n/opt/d=libc6\n",
        )
        .unwrap();
        fs::write(r.join("etc/ld.so.conf.d/.hidden.conf"), "/opt/hidden\n").unwrap();
        fs::write(r.join("etc/ld.so.conf.d/B.conf"), "/opt/B\n").unwrap();
        let dirs = search_dirs(&Sysroot::new(r)).unwrap();
        assert_eq!(dirs, ["/opt/B", "/opt/c", "/opt/d", "/opt/b", "/opt/a"]);
    }

    #[test]
    fn include_loops_read_each_file_once() {
        // Three files that each include all three: 3^16 reads without the read set.
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
        fs::write(
            r.join("etc/ld.so.conf"),
            "include ld.so.conf.d/*.conf
",
        )
        .unwrap();
        for n in ["a", "b", "c"] {
            fs::write(
                r.join(format!("etc/ld.so.conf.d/{n}.conf")),
                format!(
                    "include *.conf
include /etc/ld.so.conf
/opt/{n}
"
                ),
            )
            .unwrap();
        }
        let started = std::time::Instant::now();
        let dirs = search_dirs(&Sysroot::new(r)).unwrap();
        assert_eq!(dirs, ["/opt/c", "/opt/b", "/opt/a"]);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn one_directory_per_line_and_hwcap_lines_ignored() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(
            r.join("etc/ld.so.conf"),
            "/opt/x:/opt/y\nhwcap 1 nosegneg\nHWCAP\t2 x\nrelative/dir\n/opt/z\n/opt/z\n",
        )
        .unwrap();
        // ldconfig does not split a line: `/opt/x:/opt/y` is one (odd) directory.
        let dirs = search_dirs(&Sysroot::new(r)).unwrap();
        assert_eq!(dirs, ["/opt/x:/opt/y", "/opt/z"]);
    }

    #[test]
    fn relative_includes_are_relative_to_the_including_file_and_nest() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("etc/conf.d/more")).unwrap();
        fs::write(r.join("etc/ld.so.conf"), "include conf.d/*.conf\n").unwrap();
        fs::write(
            r.join("etc/conf.d/one.conf"),
            "/opt/one\ninclude more/*.conf /etc/conf.d/abs.list\n",
        )
        .unwrap();
        fs::write(r.join("etc/conf.d/more/two.conf"), "/opt/two\n").unwrap();
        fs::write(r.join("etc/conf.d/abs.list"), "/opt/abs\n").unwrap();
        // Includes itself: nesting stops, the directory is listed once.
        fs::write(
            r.join("etc/conf.d/self.conf"),
            "include self.conf\n/opt/self\n",
        )
        .unwrap();
        let dirs = search_dirs(&Sysroot::new(r)).unwrap();
        assert_eq!(dirs, ["/opt/one", "/opt/two", "/opt/abs", "/opt/self"]);
    }

    #[test]
    fn globs_in_several_components_and_links_stay_in_the_sysroot() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let host = tempfile::tempdir().unwrap();
        fs::write(host.path().join("evil.conf"), "/host/only\n").unwrap();
        fs::create_dir_all(r.join("etc/a.d")).unwrap();
        fs::create_dir_all(r.join("etc/b.d")).unwrap();
        fs::write(r.join("etc/a.d/x.conf"), "/opt/a\n").unwrap();
        fs::write(r.join("etc/b.d/x.conf"), "/opt/b\n").unwrap();
        // An absolute link to a build-host directory: it is read as the sysroot's own
        // directory of that name.
        symlink(host.path(), r.join("etc/c.d")).unwrap();
        let inside = r.join(host.path().strip_prefix("/").unwrap());
        fs::create_dir_all(&inside).unwrap();
        fs::write(inside.join("evil.conf"), "/opt/inside\n").unwrap();
        fs::write(r.join("etc/ld.so.conf"), "include /etc/*.d/*.conf\n").unwrap();
        let dirs = search_dirs(&Sysroot::new(r)).unwrap();
        assert_eq!(dirs, ["/opt/a", "/opt/b", "/opt/inside"]);
    }
}
