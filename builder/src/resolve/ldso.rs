//! The dynamic loader's search rules, as glibc's ld.so applies them (checked against glibc
//! 2.36 on x86_64 Debian with `LD_DEBUG=libs`), in one place and free of I/O:
//! dynamic string tokens (`$ORIGIN`, `$LIB`, `$PLATFORM`, braced or not), `DT_RPATH` /
//! `DT_RUNPATH` lists, the order of the directories searched for one `DT_NEEDED`
//! (RPATH inherited down the loader chain, RUNPATH only for the object's own needs,
//! `DF_1_NODEFLIB`), and the `glibc-hwcaps` subdirectories tried in each directory.
//! The resolver (`elf.rs`) feeds it what it read from the sysroot.

/// What `$LIB` expands to. glibc substitutes `DL_DST_LIB`; Debian's multiarch build sets it
/// to `lib/x86_64-linux-gnu` (checked: an RPATH `/x/$LIB/y` is searched as
/// `/x/lib/x86_64-linux-gnu/y`), not the `lib64` of upstream's x86_64 default.
pub const DST_LIB: &str = "lib/x86_64-linux-gnu";

/// What `$PLATFORM` expands to: the kernel's `AT_PLATFORM`, `x86_64` on every x86-64 CPU.
pub const DST_PLATFORM: &str = "x86_64";

/// ld.so's own search path after the cache (`ld.so --help`: "system search path"), plus the
/// `lib64` directories other distributions' loaders use instead. With `DF_1_NODEFLIB` none of
/// them is searched, and no ld.so.conf directory below one of them either.
pub const SYSTEM_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// An x86-64 micro-architecture level, as the `glibc-hwcaps` subdirectories name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Plain x86-64: no `glibc-hwcaps` subdirectory is searched.
    Baseline,
    V2,
    V3,
    V4,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [Level::Baseline, Level::V2, Level::V3, Level::V4];

    /// The `glibc-hwcaps/…` subdirectories a CPU of this level searches before the directory
    /// itself, best first (glibc 2.33+: v4, v3, v2, each only when the CPU supports it).
    pub fn subdirs(self) -> &'static [&'static str] {
        const ORDER: [&str; 3] = [
            "glibc-hwcaps/x86-64-v4",
            "glibc-hwcaps/x86-64-v3",
            "glibc-hwcaps/x86-64-v2",
        ];
        match self {
            Level::Baseline => &[],
            Level::V2 => &ORDER[2..],
            Level::V3 => &ORDER[1..],
            Level::V4 => &ORDER[..],
        }
    }

    /// The level named by a `glibc-hwcaps` subdirectory (`x86-64-v3`).
    pub fn from_name(name: &str) -> Option<Level> {
        match name {
            "x86-64-v2" => Some(Level::V2),
            "x86-64-v3" => Some(Level::V3),
            "x86-64-v4" => Some(Level::V4),
            _ => None,
        }
    }
}

/// The paths tried for `name` in directory `dir` by a CPU of `level`, in order.
pub fn candidates(dir: &str, name: &str, level: Level) -> Vec<String> {
    let dir = dir.trim_end_matches('/');
    let mut out: Vec<String> = level
        .subdirs()
        .iter()
        .map(|sub| format!("{dir}/{sub}/{name}"))
        .collect();
    out.push(format!("{dir}/{name}"));
    out
}

/// Length of the dynamic string token `token` at the start of `s` (just after a `$`): `NAME`
/// or `{NAME}`, and `NAME` must not go on with an identifier character (`$ORIGINAL` is no
/// `$ORIGIN`). glibc's `is_dst`.
fn dst_len(s: &str, token: &str) -> usize {
    if let Some(rest) = s.strip_prefix('{') {
        if rest.strip_prefix(token).is_some_and(|r| r.starts_with('}')) {
            return token.len() + 2;
        }
        return 0;
    }
    match s.strip_prefix(token) {
        Some(r) if !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') => token.len(),
        _ => 0,
    }
}

/// Expands the dynamic string tokens in one path. `origin` is the directory of the object
/// whose entry this is. An unknown `$NAME` stays as written, as in ld.so.
pub fn expand(path: &str, origin: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let known = [
            ("ORIGIN", origin),
            ("PLATFORM", DST_PLATFORM),
            ("LIB", DST_LIB),
        ];
        match known
            .iter()
            .find_map(|(t, v)| Some((dst_len(after, t), *v)).filter(|(n, _)| *n > 0))
        {
            Some((n, value)) => {
                out.push_str(value);
                rest = &after[n..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The directories of a `DT_RPATH` or `DT_RUNPATH` value, tokens expanded, trailing slashes
/// removed. Empty and relative entries are dropped: ld.so would search them relative to
/// the process's working directory, which a build cannot know (and `ldd` run elsewhere
/// would not agree with).
pub fn path_list(value: &str, origin: &str) -> Vec<String> {
    value
        .split(':')
        .filter(|e| !e.is_empty())
        .map(|e| expand(e, origin))
        .filter(|d| d.starts_with('/'))
        .map(|d| {
            let t = d.trim_end_matches('/');
            if t.is_empty() {
                "/".to_string()
            } else {
                t.to_string()
            }
        })
        .collect()
}

/// The search-relevant part of one loaded object.
#[derive(Debug, Clone, Default)]
pub struct Searcher {
    /// `DT_RPATH`, expanded; empty when the object has a `DT_RUNPATH` (ld.so ignores the
    /// RPATH of an object that has both).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH`, expanded, when the object has one.
    pub runpath: Option<Vec<String>>,
    /// `DF_1_NODEFLIB`: no ld.so.cache entry under a system directory, no default directory.
    pub nodeflib: bool,
    /// Index of the object whose `DT_NEEDED` loaded this one first (`l_loader`); `None` for
    /// the program itself.
    pub loader: Option<usize>,
}

impl Searcher {
    /// Builds the view from the raw dynamic entries of an object whose directory is
    /// `origin`.
    pub fn new(
        rpath: Option<&str>,
        runpath: Option<&str>,
        nodeflib: bool,
        origin: &str,
        loader: Option<usize>,
    ) -> Self {
        Searcher {
            rpath: match (rpath, runpath) {
                (Some(r), None) => path_list(r, origin),
                _ => Vec::new(),
            },
            runpath: runpath.map(|r| path_list(r, origin)),
            nodeflib,
            loader,
        }
    }
}

/// True when `dir` is one of the [`SYSTEM_DIRS`] or below one.
fn under_system_dir(dir: &str) -> bool {
    SYSTEM_DIRS
        .iter()
        .any(|s| dir == *s || dir.strip_prefix(s).is_some_and(|r| r.starts_with('/')))
}

/// The directories ld.so searches, in order, for a `DT_NEEDED` without a slash of object
/// `needer` in the program's `objects`:
///
/// 1. only if `needer` has no `DT_RUNPATH`: the `DT_RPATH` of `needer`, then of its loader,
///    and so on up to the program (an ancestor with a RUNPATH has no RPATH to give, but
///    the walk goes on past it);
/// 2. `LD_LIBRARY_PATH`: not part of an image's environment, never used;
/// 3. the `DT_RUNPATH` of `needer` itself (never inherited);
/// 4. the ld.so.cache, for which the directories of the sysroot's ld.so.conf (`conf`) stand;
/// 5. the system directories.
///
/// With `DF_1_NODEFLIB` on `needer`, 4 keeps only directories outside the system ones and 5
/// is skipped.
pub fn search_dirs(objects: &[Searcher], needer: usize, conf: &[String]) -> Vec<String> {
    let me = &objects[needer];
    let mut dirs: Vec<String> = Vec::new();
    if me.runpath.is_none() {
        let mut at = Some(needer);
        let mut hops = 0;
        while let Some(i) = at {
            dirs.extend(objects[i].rpath.iter().cloned());
            at = objects[i].loader;
            hops += 1;
            if hops > objects.len() {
                break; // a loop cannot happen (loaders come first), but never spin
            }
        }
    }
    if let Some(rp) = &me.runpath {
        dirs.extend(rp.iter().cloned());
    }
    dirs.extend(
        conf.iter()
            .filter(|d| !me.nodeflib || !under_system_dir(d))
            .cloned(),
    );
    if !me.nodeflib {
        dirs.extend(SYSTEM_DIRS.iter().map(|d| d.to_string()));
    }
    // A directory searched twice cannot find anything the first time did not.
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn origin_lib_and_platform_expand_with_and_without_braces() {
        assert_eq!(expand("$ORIGIN/../lib", "/opt/x/bin"), "/opt/x/bin/../lib");
        assert_eq!(expand("${ORIGIN}/lib", "/opt/x"), "/opt/x/lib");
        assert_eq!(expand("/usr/$LIB/x", "/o"), "/usr/lib/x86_64-linux-gnu/x");
        assert_eq!(expand("/usr/${LIB}/x", "/o"), "/usr/lib/x86_64-linux-gnu/x");
        assert_eq!(expand("/p/$PLATFORM/q", "/o"), "/p/x86_64/q");
        assert_eq!(expand("/p/${PLATFORM}", "/o"), "/p/x86_64");
        // Mid-path, as ld.so does it: `/o/${ORIGIN}/z` -> `/o//tmp/t/z`.
        assert_eq!(expand("/o/${ORIGIN}/z", "/tmp/t"), "/o//tmp/t/z");
    }

    #[test]
    fn unknown_or_longer_names_are_not_tokens() {
        assert_eq!(expand("$ORIGINAL/x", "/o"), "$ORIGINAL/x");
        assert_eq!(expand("$ORIGIN_x", "/o"), "$ORIGIN_x");
        assert_eq!(expand("/a/$FOO/b", "/o"), "/a/$FOO/b");
        assert_eq!(expand("${ORIGIN/x", "/o"), "${ORIGIN/x");
        assert_eq!(expand("/a$", "/o"), "/a$");
        assert_eq!(expand("$LIBS", "/o"), "$LIBS");
    }

    #[test]
    fn path_lists_drop_empty_and_relative_entries_and_trailing_slashes() {
        assert_eq!(
            path_list("$ORIGIN/:/a//::rel/dir:/:/b", "/o"),
            s(&["/o", "/a", "/", "/b"])
        );
    }

    #[test]
    fn glibc_hwcaps_subdirectories_come_first_best_first() {
        assert_eq!(
            candidates("/l/", "libz.so.1", Level::Baseline),
            s(&["/l/libz.so.1"])
        );
        assert_eq!(
            candidates("/l", "libz.so.1", Level::V3),
            s(&[
                "/l/glibc-hwcaps/x86-64-v3/libz.so.1",
                "/l/glibc-hwcaps/x86-64-v2/libz.so.1",
                "/l/libz.so.1",
            ])
        );
        assert_eq!(candidates("/l", "x", Level::V4).len(), 4);
        assert_eq!(Level::from_name("x86-64-v2"), Some(Level::V2));
        assert_eq!(Level::from_name("haswell"), None);
    }

    /// exe (RPATH /e) -> a (RPATH /a) -> b (RUNPATH /b) -> c (no paths).
    fn chain() -> Vec<Searcher> {
        vec![
            Searcher::new(Some("/e"), None, false, "/bin", None),
            Searcher::new(Some("/a"), None, false, "/l", Some(0)),
            Searcher::new(Some("/ignored"), Some("/b"), false, "/l", Some(1)),
            Searcher::new(None, None, false, "/l", Some(2)),
        ]
    }

    #[test]
    fn rpath_is_inherited_down_the_loader_chain() {
        let objs = chain();
        let conf = s(&["/conf"]);
        let d = search_dirs(&objs, 1, &conf);
        assert_eq!(&d[..3], &s(&["/a", "/e", "/conf"])[..]);
        // c has no paths of its own: its loaders' RPATHs apply; b's RUNPATH does not, and
        // b (which has one) gives no RPATH, but the walk goes on to a and the program.
        let d = search_dirs(&objs, 3, &conf);
        assert_eq!(&d[..3], &s(&["/a", "/e", "/conf"])[..]);
        assert!(!d.contains(&"/b".to_string()));
        assert!(!d.contains(&"/ignored".to_string()));
    }

    #[test]
    fn runpath_applies_only_to_the_objects_own_needs_and_disables_rpath() {
        let objs = chain();
        let d = search_dirs(&objs, 2, &s(&["/conf"]));
        // b has a RUNPATH: no RPATH at all (not its own, not inherited), then its RUNPATH.
        assert_eq!(&d[..2], &s(&["/b", "/conf"])[..]);
        assert!(!d.contains(&"/a".to_string()) && !d.contains(&"/e".to_string()));
    }

    #[test]
    fn conf_then_system_dirs_and_nodeflib_skips_the_system_ones() {
        let mut objs = vec![Searcher::new(None, Some("/r"), false, "/bin", None)];
        let conf = s(&["/usr/local/lib", "/usr/lib/x86_64-linux-gnu/sub", "/lib"]);
        let d = search_dirs(&objs, 0, &conf);
        assert_eq!(
            &d[..4],
            &s(&[
                "/r",
                "/usr/local/lib",
                "/usr/lib/x86_64-linux-gnu/sub",
                "/lib"
            ])[..]
        );
        assert!(d.contains(&"/usr/lib/x86_64-linux-gnu".to_string()));
        objs[0].nodeflib = true;
        assert_eq!(search_dirs(&objs, 0, &conf), s(&["/r", "/usr/local/lib"]));
    }
}
