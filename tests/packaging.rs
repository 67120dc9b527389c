//! Distribution integration: where profiles and modules come from (`srbuild profiles`),
//! and, `#[ignore]`d because it installs and purges a package on this machine as root,
//! the whole .deb life cycle (`cargo xtask dist` builds it; `xtask::dist::check_package`
//! runs the same checks in CI).

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

/// Puts things back however the test ends: the kernel's initrd (and initramfs-tools'
/// checksum of it) as they were, and no srbuild package left installed.
struct Restore {
    saved: Vec<(std::path::PathBuf, Option<Vec<u8>>)>,
}

impl Restore {
    fn save(paths: &[std::path::PathBuf]) -> Restore {
        Restore {
            saved: paths
                .iter()
                .map(|p| (p.clone(), std::fs::read(p).ok()))
                .collect(),
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        for (path, bytes) in &self.saved {
            match bytes {
                Some(b) => {
                    if std::fs::read(path).ok().as_ref() != Some(b) {
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
        if installed("srbuild") {
            let _ = std::process::Command::new("dpkg")
                .args(["--purge", "srbuild"])
                .status();
        }
    }
}

/// The package on this machine, start to end: install, use from outside the source tree,
/// man page and bash completion, a real kernel package (re)install that runs the hooks,
/// purge, nothing left behind. Reinstalls the installed kernel package of the same
/// version, so the lab's kernel stays, and restores /boot/initrd.img-KVER afterwards.
#[test]
#[ignore = "as root: installs and purges the srbuild .deb and reinstalls the kernel package; `cargo xtask dist --check` runs it"]
fn package_life_cycle() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "needs root (dpkg -i)");
    let deb = deb();
    if installed("srbuild") {
        sh("dpkg --purge srbuild");
    }
    let kver = common::kver();
    let vmlinuz = format!("/boot/vmlinuz-{kver}");
    let initrd = std::path::PathBuf::from(format!("/boot/initrd.img-{kver}"));
    let kernel_pkg = sh(&format!("dpkg-query -S {vmlinuz}"));
    let kernel_pkg = kernel_pkg
        .split(':')
        .next()
        .expect("dpkg-query -S names the package")
        .trim()
        .to_string();
    let _restore = Restore::save(&[
        initrd.clone(),
        format!("/var/lib/initramfs-tools/{kver}").into(),
    ]);
    let before = srbuild_paths();

    // Install.
    let t = std::time::Instant::now();
    sh(&format!("dpkg -i {}", deb.display()));
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

    // A real kernel package: reinstalling it runs its postrm (upgrade: the image stays)
    // and its postinst (configure: srbuild's hook runs after initramfs-tools' and wins).
    let k = std::time::Instant::now();
    sh(&format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall \
         -o DPkg::Lock::Timeout=300 {kernel_pkg} >&2"
    ));
    let kernel_secs = k.elapsed().as_secs_f64();
    let listing = sh(&format!("/usr/bin/srbuild ls {}", initrd.display()));
    assert!(
        listing.contains("etc/srbuild/profile"),
        "{} was not written by srbuild",
        initrd.display()
    );
    let log = std::fs::read_to_string(format!("/var/log/srbuild/{kver}.log")).unwrap();
    assert!(log.contains("result: ok"), "{log}");
    // The kernel's removal, as its postrm runs the hooks (`run-parts` with
    // DEB_MAINT_PARAMS=remove), for srbuild's hook only: the lab's kernel stays.
    sh(&format!(
        "DEB_MAINT_PARAMS=remove run-parts --report --exit-on-error --regex='^srbuild$' \
         --arg={kver} --arg={vmlinuz} /etc/kernel/postrm.d"
    ));
    assert!(!initrd.exists(), "postrm left {}", initrd.display());

    // Purge: nothing of srbuild's is left.
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
        "packaging: life cycle {:.1} s, of which the kernel package reinstall {kernel_secs:.1} s",
        t.elapsed().as_secs_f64()
    );
}
