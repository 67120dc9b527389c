//! The resolver against ld.so on real programs: every dynamic ELF program of the build host
//! (`/usr/bin`, `/usr/sbin`, `/usr/libexec`, `/usr/lib`, `/opt`; links and setuid/setgid
//! programs left out) is resolved with sysroot `/`, and the set of files loaded is compared
//! with what `ldd` lists. The test runs `ldd` as the oracle; the product never does.

use srbuild_builder::error::BuildError;
use srbuild_builder::resolve::elf::{ElfResolver, Hwcaps};
use srbuild_builder::resolve::elfinfo::ElfInfo;
use srbuild_builder::resolve::ldso::Level;
use srbuild_builder::sysroot::Sysroot;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the programs come from, and how deep each tree is walked.
const TREES: &[(&str, usize)] = &[
    ("/usr/bin", 1),
    ("/usr/sbin", 1),
    ("/usr/libexec", 3),
    ("/usr/lib", 4),
    ("/opt", 4),
];

/// At most this many programs (ldd costs ~10 ms each; the test must stay well under 30 s).
const CAP: usize = 2000;

/// What ldd says about one program.
enum Ldd {
    /// The files loaded (canonical paths), and the names it could not find.
    Loaded {
        files: BTreeSet<String>,
        missing: Vec<String>,
    },
    /// A static program ("not a dynamic executable", "statically linked").
    Static,
    /// ldd itself failed (e.g. a program for another architecture).
    Failed(String),
}

fn ldd(prog: &Path) -> Ldd {
    let out = match Command::new("ldd")
        .arg(prog)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .output()
    {
        Ok(o) => o,
        Err(e) => return Ldd::Failed(e.to_string()),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    if text.contains("statically linked") || err.contains("not a dynamic executable") {
        return Ldd::Static;
    }
    if !out.status.success() {
        return Ldd::Failed(format!("{}{}", text.trim(), err.trim()));
    }
    let mut files = BTreeSet::new();
    let mut missing = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        // `name => /path (0x…)`, `name => not found`, `/path (0x…)` (the interpreter), or
        // `linux-vdso.so.1 (0x…)`: the vDSO is mapped by the kernel and has no file, so it
        // is no part of what an image must carry.
        let (name, path) = match line.split_once(" => ") {
            Some((n, rest)) => (n, rest),
            None => (line, line),
        };
        if path.starts_with("not found") {
            missing.push(name.to_string());
            continue;
        }
        let Some(path) = path.split_whitespace().next() else {
            continue;
        };
        if !path.starts_with('/') {
            continue; // linux-vdso.so.1 (and linux-gate.so.1 on i386)
        }
        // ldd prints the path ld.so opened (`/lib/x86_64-linux-gnu/…` on a merged-/usr
        // host, `/lib64/ld-linux-x86-64.so.2`): compare real files.
        match std::fs::canonicalize(path) {
            Ok(p) => files.insert(p.display().to_string()),
            Err(e) => return Ldd::Failed(format!("{path}: {e}")),
        };
    }
    Ldd::Loaded { files, missing }
}

/// The glibc-hwcaps level ld.so searches on this CPU (`ld.so --help`), so that the
/// resolver is asked about exactly this CPU.
fn host_level() -> Level {
    let Ok(o) = Command::new("/lib64/ld-linux-x86-64.so.2")
        .arg("--help")
        .output()
    else {
        return Level::Baseline;
    };
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("supported, searched"))
        .filter_map(|l| Level::from_name(l.split_whitespace().next()?))
        .max()
        .unwrap_or(Level::Baseline)
}

/// Dynamic ELF programs (regular files with a PT_INTERP, not setuid or setgid).
fn programs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (root, depth) in TREES {
        for e in walkdir::WalkDir::new(root)
            .max_depth(*depth)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            // ld.so runs setuid programs in secure mode (no $ORIGIN outside trusted
            // directories); links are reached through the file they name.
            if !meta.is_file() || meta.permissions().mode() & 0o6000 != 0 {
                continue;
            }
            if meta.permissions().mode() & 0o111 == 0 || has_no_interp(e.path()) {
                continue;
            }
            out.push(e.path().to_path_buf());
        }
    }
    out.truncate(CAP);
    out
}

fn has_no_interp(p: &Path) -> bool {
    let Ok(bytes) = std::fs::read(p) else {
        return true;
    };
    !bytes.starts_with(b"\x7fELF") || ElfInfo::parse(&bytes).map_or(true, |i| i.interp.is_none())
}

#[test]
fn the_resolver_loads_what_ld_so_loads_for_the_hosts_programs() {
    if Command::new("ldd").arg("--version").output().is_err() {
        eprintln!("skipped: no ldd on this machine");
        return;
    }
    if std::fs::read("/etc/ld.so.preload").is_ok_and(|b| !b.is_empty()) {
        eprintln!("skipped: /etc/ld.so.preload adds libraries to every ldd answer");
        return;
    }
    let started = std::time::Instant::now();
    let progs = programs();
    assert!(progs.len() >= 50, "only {} programs found", progs.len());

    // ldd is the slow part: run it on a few threads.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let chunk = progs.len().div_ceil(threads);
    let oracle: Vec<Ldd> = std::thread::scope(|s| {
        let handles: Vec<_> = progs
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|p| ldd(p)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });

    let sysroot = Sysroot::new("/");
    let level = host_level();
    let mut resolver = ElfResolver::with_hwcaps(&sysroot, Hwcaps::Cpu(level));
    let (mut compared, mut with_missing, mut statics, mut ldd_failed) = (0, 0, 0, 0);
    let mut mismatches = Vec::new();
    for (prog, answer) in progs.iter().zip(oracle) {
        let path = prog.display().to_string();
        let (want, missing) = match answer {
            Ldd::Static => {
                statics += 1;
                continue;
            }
            Ldd::Failed(why) => {
                eprintln!("ldd failed on {path}: {why}");
                ldd_failed += 1;
                continue;
            }
            Ldd::Loaded { files, missing } => (files, missing),
        };
        compared += 1;
        match resolver.closure(&path) {
            Ok(Some(loaded)) if missing.is_empty() => {
                let got: BTreeSet<String> = loaded
                    .iter()
                    .skip(1)
                    .map(|l| format!("/{}", l.image_path))
                    .collect();
                if got != want {
                    mismatches.push(format!(
                        "{path}:\n    only the resolver: {:?}\n    only ldd: {:?}",
                        got.difference(&want).collect::<Vec<_>>(),
                        want.difference(&got).collect::<Vec<_>>()
                    ));
                }
            }
            // ldd could not find a library either: the resolver must refuse the program,
            // naming one of the libraries ldd could not find.
            Err(BuildError::MissingLibrary { name, .. }) if missing.contains(&name) => {
                with_missing += 1;
            }
            Ok(other) => mismatches.push(format!(
                "{path}: ldd finds no {missing:?}, the resolver loads {:?}",
                other.map(|v| v.into_iter().map(|l| l.image_path).collect::<Vec<_>>())
            )),
            Err(e) => mismatches.push(format!(
                "{path}: the resolver fails ({e}), ldd does not find {missing:?}"
            )),
        }
    }
    println!(
        "ldd comparison ({level:?} CPU): {compared} programs compared ({with_missing} missing \
         the same library in both), {statics} static and {ldd_failed} ldd failures skipped, \
         {} mismatches, {} ELF files parsed, {:.1} s",
        mismatches.len(),
        resolver.parsed,
        started.elapsed().as_secs_f64()
    );
    assert!(compared >= 50, "only {compared} programs compared");
    assert!(
        mismatches.is_empty(),
        "the resolver and ld.so disagree on {} of {compared} programs:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
