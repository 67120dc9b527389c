//! Distribution integration: where profiles and modules come from (`srbuild profiles`),
//! and, `#[ignore]`d because as root it installs and purges packages on this machine (the
//! srbuild .deb and a cloud-flavour kernel package from the archive), the whole .deb life
//! cycle with a real kernel install and removal (`cargo xtask dist` builds the package;
//! `cargo xtask dist --check`, `xtask::dist::run`, builds it and runs this test).

mod common;

use common::{stderr, stdout};

fn put(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn profiles_shows_the_search_order_and_where_each_came_from() {
    let d = tempfile::tempdir().unwrap();
    put(d.path(), "profiles/nfs.toml", "inherits = \"base\"\n");
    put(d.path(), "profiles/mine.toml", "inherits = \"base\"\n");
    put(d.path(), "modules/extra/module.toml", "binaries = []\n");
    let o = common::srbuild()
        .arg("profiles")
        .env("SRBUILD_DATA_DIR", d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let dir = d.path().display().to_string();
    assert!(
        out.starts_with(&format!(
            "search order: {dir}, /etc/srbuild, /usr/share/srbuild, built in\n"
        )),
        "{out}"
    );
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_string()
    };
    assert!(
        line("nfs").contains(&format!("{dir}/profiles/nfs.toml  (over "))
            && line("nfs").ends_with("<builtin>/profiles/nfs.toml)"),
        "{out}"
    );
    assert!(line("mine").ends_with(&format!("{dir}/profiles/mine.toml")));
    assert!(line("extra").ends_with(&format!("{dir}/modules/extra/module.toml")));
    assert!(line("gfs2").contains("profiles/gfs2.toml"));
}

/// Runs a command line through `sh -c`, panicking with its output when it fails.
fn sh(line: &str) -> String {
    let o = std::process::Command::new("sh")
        .args(["-c", line])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "`{line}` failed ({:?}):\n{}{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn installed(package: &str) -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| stdout(&o).starts_with("install ok installed"))
        .unwrap_or(false)
}

/// The package to test: `$SRBUILD_DEB`, or what `cargo xtask dist` left in target/dist.
fn deb() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("SRBUILD_DEB") {
        return p.into();
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dist");
    let mut debs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask dist` first", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    debs.sort();
    debs.pop()
        .unwrap_or_else(|| panic!("no .deb in {}; run `cargo xtask dist`", dir.display()))
}

/// Paths that belong to srbuild on this machine: under the directories the package
/// touches, with "srbuild" in their path.
fn srbuild_paths() -> std::collections::BTreeSet<String> {
    let found = sh(
        "find /usr /etc /var/lib /var/log /boot -path /proc -prune -o -print 2>/dev/null || true",
    );
    found
        .lines()
        .filter(|l| l.contains("srbuild"))
        .map(str::to_string)
        .collect()
}

/// Runs a command line through `sh -c` with stderr merged into stdout, panicking with that
/// output (and `what` went wrong) when it fails.
fn sh_merged(line: &str, what: &str) -> String {
    let o = std::process::Command::new("sh")
        .args(["-c", &format!("{line} 2>&1")])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{what}: `{line}` failed ({:?}):\n{out}",
        o.status
    );
    out
}

/// Whether dpkg knows `package` at all (installed, or removed with its conffiles left).
fn known(package: &str) -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| o.status.success() && !stdout(&o).ends_with("not-installed"))
        .unwrap_or(false)
}

/// The sha256 of a file, or `None` when it does not exist.
fn sha256(path: &std::path::Path) -> Option<String> {
    if !path.exists() {
        return None;
    }
    let out = sh(&format!("sha256sum '{}'", path.display()));
    out.split_whitespace().next().map(str::to_string)
}

/// Paths, sizes and modification times of everything under `dir`: what a change to the
/// lab kernel's modules would alter.
fn fingerprint(dir: &str) -> String {
    sh(&format!(
        "find '{dir}' -printf '%P %y %s %T@\\n' 2>/dev/null | sort | sha256sum"
    ))
}

/// A kernel package the lab does not use: the ABI package that the cloud flavour's
/// meta-package depends on (`linux-image-6.1.0-NN-cloud-amd64`), and its kernel version.
fn other_flavour() -> (String, String) {
    let arch = sh("dpkg --print-architecture").trim().to_string();
    let meta = format!("linux-image-cloud-{arch}");
    let suffix = format!("-cloud-{arch}");
    let deps = sh_merged(
        &format!("apt-cache depends {meta}"),
        "cannot find the cloud kernel flavour (has `apt-get update` run?)",
    );
    let package = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && p.ends_with(&suffix))
        .unwrap_or_else(|| {
            panic!("`apt-cache depends {meta}` names no linux-image-*{suffix} package:\n{deps}")
        })
        .to_string();
    let kver = package["linux-image-".len()..].to_string();
    (package, kver)
}

/// Puts the machine back however the test ends (a failed assertion included): purges the
/// packages the test installed (the kernel package first, while srbuild's postrm hook is
/// still there, then srbuild), and puts the lab kernel's files and the /vmlinuz and
/// /initrd.img links back if anything changed them.
struct Restore {
    /// Packages this test installed, purged on drop if dpkg still knows them.
    installed: Vec<String>,
    saved: Vec<(std::path::PathBuf, Option<Vec<u8>>)>,
    links: Vec<(std::path::PathBuf, Option<std::path::PathBuf>)>,
}

impl Restore {
    fn save(paths: &[std::path::PathBuf], links: &[&str]) -> Restore {
        Restore {
            installed: Vec::new(),
            saved: paths
                .iter()
                .map(|p| (p.clone(), std::fs::read(p).ok()))
                .collect(),
            links: links
                .iter()
                .map(|l| (l.into(), std::fs::read_link(l).ok()))
                .collect(),
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        for package in self.installed.iter().rev() {
            if known(package) {
                eprintln!("packaging: cleaning up: purging {package}");
                let _ = std::process::Command::new("sh")
                    .args([
                        "-c",
                        &format!(
                            "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
                             -o DPkg::Lock::Timeout=300 {package} >&2"
                        ),
                    ])
                    .status();
            }
        }
        if known("srbuild") {
            let _ = std::process::Command::new("dpkg")
                .args(["--purge", "srbuild"])
                .status();
        }
        for (path, bytes) in &self.saved {
            match bytes {
                Some(b) => {
                    if std::fs::read(path).ok().as_ref() != Some(b) {
                        eprintln!("packaging: cleaning up: restoring {}", path.display());
                        std::fs::write(path, b).unwrap_or_else(|e| {
                            eprintln!("cannot restore {}: {e}", path.display())
                        });
                    }
                }
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        for (link, target) in &self.links {
            if std::fs::read_link(link).ok() != *target {
                eprintln!(
                    "packaging: cleaning up: restoring the link {}",
                    link.display()
                );
                let _ = std::fs::remove_file(link);
                if let Some(t) = target {
                    if let Err(e) = std::os::unix::fs::symlink(t, link) {
                        eprintln!("cannot restore the link {}: {e}", link.display());
                    }
                }
            }
        }
    }
}

/// The position of the first line of `out` that starts with `prefix`.
fn line_at(out: &str, prefix: &str) -> Option<usize> {
    out.lines().position(|l| l.starts_with(prefix))
}

/// The package on this machine, start to end: install, use from outside the source tree,
/// man page and bash completion, then a real kernel package of another flavour than the
/// lab's (cloud) installed with apt-get (its postinst runs srbuild's hook after
/// initramfs-tools', and srbuild's image is the one left in /boot) and purged (its postrm
/// runs the hooks and the initrd goes), then srbuild purged with nothing left behind. The
/// lab's kernel, its modules and its initrd are checked untouched; whatever happens, the
/// cloud kernel and srbuild are purged at the end.
#[test]
#[ignore = "as root: installs and purges the srbuild .deb and a cloud kernel package (network); `cargo xtask dist --check` runs it"]
fn package_life_cycle() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "needs root (dpkg -i)");
    let t = std::time::Instant::now();
    let deb = deb();
    if installed("srbuild") {
        sh("dpkg --purge srbuild");
    }
    let (kernel_pkg, kver) = other_flavour();
    assert!(
        !known(&kernel_pkg),
        "{kernel_pkg} is already on this machine; this test installs and purges it and \
         will not remove a kernel it did not install (a killed earlier run may have left \
         it: `apt-get purge {kernel_pkg}`)"
    );
    let lab = common::kver();
    assert_ne!(
        lab, kver,
        "the lab's kernel is the cloud flavour; nothing else to install"
    );
    let lab_files: Vec<std::path::PathBuf> = [
        format!("/boot/vmlinuz-{lab}"),
        format!("/boot/initrd.img-{lab}"),
    ]
    .into_iter()
    .map(Into::into)
    .collect();
    let lab_sums: Vec<Option<String>> = lab_files.iter().map(|p| sha256(p)).collect();
    let lab_modules = fingerprint(&format!("/lib/modules/{lab}"));
    let mut restore = Restore::save(
        &lab_files,
        &["/vmlinuz", "/vmlinuz.old", "/initrd.img", "/initrd.img.old"],
    );
    let before = srbuild_paths();

    // Install.
    sh(&format!("dpkg -i {}", deb.display()));
    restore.installed.push("srbuild".into());
    let listed = sh("dpkg -L srbuild");
    for must in [
        "/usr/bin/srbuild",
        "/usr/share/srbuild/profiles/nfs.toml",
        "/usr/share/srbuild/modules/nfs/module.toml",
        "/etc/srbuild/srbuild.toml",
        "/etc/kernel/postinst.d/srbuild",
        "/etc/kernel/postrm.d/srbuild",
        "/usr/lib/kernel/install.d/50-srbuild.install",
        "/usr/share/man/man1/srbuild.1.gz",
        "/usr/share/bash-completion/completions/srbuild",
        "/usr/share/zsh/vendor-completions/_srbuild",
        "/usr/share/fish/vendor_completions.d/srbuild.fish",
    ] {
        assert!(
            listed.lines().any(|l| l == must),
            "{must} not in the package"
        );
    }

    // The installed binary, from outside the source tree, takes the package's data.
    let work = tempfile::tempdir().unwrap();
    let img = work.path().join("nfs.img");
    let o = std::process::Command::new("/usr/bin/srbuild")
        .current_dir(work.path())
        .env_remove("SRBUILD_DATA_DIR")
        .args(["image", "--profile", "nfs", "-o"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("replaces the built-in copy"),
        "{}",
        stderr(&o)
    );
    let listing = sh(&format!("cd /tmp && /usr/bin/srbuild ls {}", img.display()));
    assert!(listing.contains("etc/srbuild/profile"), "{listing}");
    let profiles = sh("cd /tmp && SRBUILD_DATA_DIR= /usr/bin/srbuild profiles");
    assert!(
        profiles.contains("/usr/share/srbuild/profiles/nfs.toml"),
        "{profiles}"
    );

    // man and bash completion.
    let page = sh("MANPAGER=cat MANWIDTH=80 man srbuild 2>&1");
    assert!(
        page.contains("kernel-hook") && page.contains("srbuild-image(1)"),
        "{page}"
    );
    let page = sh("MANPAGER=cat man srbuild-kernel-hook-add 2>&1");
    assert!(page.contains("--output"), "{page}");
    let words = sh(
        "bash -c '. /usr/share/bash-completion/completions/srbuild; \
         COMP_WORDS=(srbuild \"\"); COMP_CWORD=1; COMP_LINE=\"srbuild \"; COMP_POINT=8; \
         _srbuild srbuild \"\" srbuild; printf \"%s\\n\" \"${COMPREPLY[@]}\"'",
    );
    for sub in ["image", "ls", "extract", "profiles", "kernel-hook", "lab"] {
        assert!(
            words.lines().any(|w| w == sub),
            "{sub} not completed: {words}"
        );
    }
    let words = sh(
        "bash -c '. /usr/share/bash-completion/completions/srbuild; \
         COMP_WORDS=(srbuild kernel-hook \"\"); COMP_CWORD=2; \
         _srbuild srbuild \"\" kernel-hook; printf \"%s\\n\" \"${COMPREPLY[@]}\"'",
    );
    assert!(
        words.lines().any(|w| w == "add") && words.lines().any(|w| w == "remove"),
        "{words}"
    );

    // A real kernel install. The packages apt will add (the kernel, and any dependency
    // not installed yet) are purged again whatever happens.
    let apt = "DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300";
    let plan = sh_merged(
        &format!("{apt} install -s --no-install-recommends {kernel_pkg}"),
        &format!("apt cannot install {kernel_pkg}"),
    );
    let new: Vec<String> = plan
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .filter(|rest| {
            !rest
                .split_whitespace()
                .nth(1)
                .is_some_and(|w| w.starts_with('['))
        })
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(
        new.contains(&kernel_pkg),
        "apt does not plan to install {kernel_pkg}:\n{plan}"
    );
    restore.installed.extend(new.iter().cloned());
    let initrd = std::path::PathBuf::from(format!("/boot/initrd.img-{kver}"));
    let log_path = format!("/var/log/srbuild/{kver}.log");
    let k = std::time::Instant::now();
    let out = sh_merged(
        &format!("{apt} install -y --no-install-recommends {kernel_pkg}"),
        &format!("installing {kernel_pkg} (its postinst runs the kernel hooks)"),
    );
    let install_secs = k.elapsed().as_secs_f64();
    assert!(
        std::path::Path::new(&format!("/boot/vmlinuz-{kver}")).exists(),
        "{kernel_pkg} installed no /boot/vmlinuz-{kver}:\n{out}"
    );
    let ours = line_at(&out, &format!("srbuild: building {}", initrd.display()));
    assert!(
        ours.is_some(),
        "srbuild's postinst hook did not run for {kver}:\n{out}"
    );
    // initramfs-tools' hook, when it is installed, runs first; srbuild's image wins.
    if std::path::Path::new("/etc/kernel/postinst.d/initramfs-tools").exists() {
        let theirs = line_at(
            &out,
            &format!("update-initramfs: Generating {}", initrd.display()),
        );
        assert!(
            theirs.is_some_and(|t| Some(t) < ours),
            "initramfs-tools' hook should run before srbuild's:\n{out}"
        );
    }
    assert!(
        initrd.is_file(),
        "no {} after the install:\n{out}",
        initrd.display()
    );
    let listing = sh(&format!("/usr/bin/srbuild ls {}", initrd.display()));
    assert!(
        listing.contains("etc/srbuild/profile"),
        "{} was not written by srbuild (another generator ran after it):\n{out}",
        initrd.display()
    );
    assert!(
        listing.contains(&format!("lib/modules/{kver}/")),
        "{} holds no modules of {kver}:\n{listing}",
        initrd.display()
    );
    let log = std::fs::read_to_string(&log_path)
        .unwrap_or_else(|e| panic!("srbuild's hook left no log {log_path}: {e}"));
    assert!(log.contains("result: ok"), "{log_path}:\n{log}");

    // Its real removal: the postrm hooks run (initramfs-tools' deletes the image first
    // when it is installed; srbuild's then finds nothing to do) and nothing of the
    // kernel is left in /boot or /lib/modules.
    let k = std::time::Instant::now();
    let out = sh_merged(
        &format!("{apt} purge -y {}", new.join(" ")),
        &format!("purging {kernel_pkg} (its postrm runs the kernel hooks)"),
    );
    let purge_secs = k.elapsed().as_secs_f64();
    let gone = format!("srbuild: removed {}", initrd.display());
    let absent = format!(
        "srbuild: no initrd at {}; nothing to remove",
        initrd.display()
    );
    assert!(
        out.lines().any(|l| l == gone || l == absent),
        "srbuild's postrm hook did not run for {kver}:\n{out}"
    );
    assert!(
        !initrd.exists(),
        "{} is left after the kernel's purge:\n{out}",
        initrd.display()
    );
    assert!(
        !std::path::Path::new(&log_path).exists(),
        "{log_path} is left after the kernel's purge:\n{out}"
    );
    assert!(
        !std::path::Path::new(&format!("/lib/modules/{kver}")).exists(),
        "/lib/modules/{kver} is left after the kernel's purge"
    );
    let left = sh(&format!("ls -d /boot/*{kver}* 2>/dev/null || true"));
    assert!(
        left.is_empty(),
        "left in /boot after the purge of {kernel_pkg}: {left}"
    );
    for package in &new {
        assert!(
            !known(package),
            "{package} is still known to dpkg after its purge"
        );
    }

    // The lab's kernel was not touched.
    for (path, sum) in lab_files.iter().zip(&lab_sums) {
        assert_eq!(
            sha256(path),
            *sum,
            "{} changed while the cloud kernel came and went",
            path.display()
        );
    }
    assert_eq!(
        fingerprint(&format!("/lib/modules/{lab}")),
        lab_modules,
        "/lib/modules/{lab} changed while the cloud kernel came and went"
    );
    for (link, target) in &restore.links {
        assert_eq!(
            std::fs::read_link(link).ok(),
            *target,
            "{} does not point where it did before the cloud kernel came and went",
            link.display()
        );
    }

    // Purge: nothing of srbuild's is left (the kernel's build log included).
    sh("dpkg --purge srbuild");
    assert!(!installed("srbuild"));
    let after = srbuild_paths();
    let left: Vec<&String> = after.difference(&before).collect();
    assert!(left.is_empty(), "left behind after purge: {left:?}");
    for path in listed.lines() {
        let p = std::path::Path::new(path);
        if !p.is_dir() {
            assert!(!p.exists(), "{path} is left after purge");
        }
    }
    eprintln!(
        "packaging: life cycle {:.1} s, of which installing {kernel_pkg} {install_secs:.1} s \
         and purging it {purge_secs:.1} s",
        t.elapsed().as_secs_f64()
    );
}
