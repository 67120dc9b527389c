//! `cargo xtask deps --check-releases`: resolves the whole of `ci/host-packages.txt` with
//! apt's resolver against every Debian release the lab knows
//! (`srbuild_lab::run::releases::RELEASES`: bookworm and trixie), without installing
//! anything on the host, so the README can say which host releases `cargo xtask deps`
//! works on.
//!
//! Each release is one `mmdebstrap --variant=apt --simulate --include=<list> SUITE
//! /dev/null` over the release, its `-updates` and its `-security` suites from Debian's
//! archive: mmdebstrap fetches the package lists into a temporary directory and runs
//! `apt-get --simulate install` of the list there, against an empty system, so every
//! dependency down to the essential set must be resolvable in that release. A release whose
//! list does not resolve fails the check, naming the release and the packages apt names.

use crate::deps::{blockers, packages};
use anyhow::{bail, Context, Result};
use srbuild_lab::run::releases::{Release, RELEASES};
use srbuild_lab::run::rootfs::MIRROR;
use std::time::Instant;
use xshell::{cmd, Shell};

/// Debian's security archive (the other half of a release's apt sources).
const SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";

/// The apt source lines of a host of `suite`: the release, its updates and its security
/// updates, as a freshly installed Debian host has them.
pub fn sources(suite: &str) -> Vec<String> {
    vec![
        format!("deb {MIRROR} {suite} main"),
        format!("deb {MIRROR} {suite}-updates main"),
        format!("deb {SECURITY_MIRROR} {suite}-security main"),
    ]
}

/// The packages apt's failure output names as what it cannot resolve: those it cannot find
/// ("Unable to locate package X"), those with no candidate ("Package 'X' has no
/// installation candidate") and those under "have unmet dependencies" (with the reason).
pub fn unresolved(apt_output: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !found.contains(&s) {
            found.push(s);
        }
    };
    for l in apt_output.lines() {
        let l = l.trim();
        if let Some(p) = l.strip_prefix("E: Unable to locate package ") {
            add(format!("{} (no such package)", p.trim()));
        } else if let Some(rest) = l.strip_prefix("E: Package '") {
            if let Some((p, why)) = rest.split_once('\'') {
                if why.contains("no installation candidate") {
                    add(format!("{p} (no installation candidate)"));
                }
            }
        }
    }
    // The unmet dependency lines: " pkg : Depends: x but it is not installable".
    let reasons: Vec<&str> = apt_output
        .lines()
        .skip_while(|l| !l.contains("have unmet dependencies"))
        .skip(1)
        .take_while(|l| !l.starts_with("E:"))
        .collect();
    for name in blockers(apt_output) {
        let why = reasons
            .iter()
            .find_map(|l| {
                let (n, why) = l.split_once(" : ")?;
                (n.trim().split(':').next() == Some(name.as_str())).then(|| why.trim())
            })
            .unwrap_or("unmet dependencies");
        add(format!("{name} ({why})"));
    }
    found
}

/// The number of packages apt's simulated install would install (its `Inst` lines).
pub fn installs(apt_output: &str) -> usize {
    apt_output
        .lines()
        .filter(|l| l.starts_with("Inst "))
        .count()
}

/// Resolves the list against one release: the number of packages apt would install.
fn resolve(sh: &Shell, release: &Release, wanted: &[&str]) -> Result<usize> {
    let suite = release.suite;
    let include = format!("--include={}", wanted.join(","));
    let srcs = sources(suite);
    // --verbose shows apt's output (its Inst lines on success, its errors on failure).
    // As `cargo xtask deps` installs: without recommends.
    let norecommends = "--aptopt=Apt::Install-Recommends \"false\"";
    let out = cmd!(
        sh,
        "mmdebstrap --verbose --variant=apt --simulate {norecommends} {include} {suite} /dev/null {srcs...}"
    )
    .quiet()
    .ignore_status()
    .output()
    .with_context(|| format!("running mmdebstrap --simulate for {suite}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        return Ok(installs(&said));
    }
    let names = unresolved(&said);
    let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("E: ")).collect();
    if names.is_empty() {
        bail!(
            "Debian {} ({suite}): mmdebstrap --simulate failed ({}) before apt named a \
             package:\n{}",
            release.number,
            out.status,
            errors.join("\n")
        );
    }
    bail!(
        "Debian {} ({suite}): apt cannot resolve ci/host-packages.txt: {}",
        release.number,
        names.join("; ")
    )
}

/// Resolves `ci/host-packages.txt` against every release in `RELEASES`; fails naming each
/// release whose list does not resolve (all of them are tried).
pub fn run(sh: &Shell) -> Result<()> {
    let list = sh
        .read_file("ci/host-packages.txt")
        .context("reading ci/host-packages.txt")?;
    let wanted = packages(&list);
    let mut failed: Vec<String> = Vec::new();
    for release in RELEASES {
        let start = Instant::now();
        match resolve(sh, release, &wanted) {
            Ok(n) => println!(
                "xtask: Debian {} ({}): ci/host-packages.txt ({} packages) resolves; apt would \
                 install {n} packages ({:.1} s)",
                release.number,
                release.suite,
                wanted.len(),
                start.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("xtask: {e:#}");
                failed.push(format!("{e:#}"));
            }
        }
    }
    if !failed.is_empty() {
        bail!("host package list:\n{}", failed.join("\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_package_is_named() {
        let said = "I: simulate installing remaining packages inside the chroot...
Reading package lists...
Building dependency tree...
E: Unable to locate package frobnicate-nonexistent
E: setup failed: E: apt-get --yes -oAPT::Get::Simulate=true install cpio frobnicate-nonexistent zstd failed
E: mmdebstrap failed to run
";
        assert_eq!(
            unresolved(said),
            ["frobnicate-nonexistent (no such package)"]
        );
    }

    #[test]
    fn a_package_without_candidate_is_named() {
        let said = "Package insserv is not available, but is referred to by another package.
E: Package 'insserv' has no installation candidate
";
        assert_eq!(unresolved(said), ["insserv (no installation candidate)"]);
    }

    #[test]
    fn unmet_dependencies_are_named_with_their_reason() {
        let said = "The following packages have unmet dependencies:
 systemd-sysv : Conflicts: sysvinit-core but 3.14-4 is to be installed
 sysvinit-core : Depends: initscripts but it is not installable
                 Conflicts: systemd-sysv but 257.13-1~deb13u1 is to be installed
E: Unable to correct problems, you have held broken packages.
E: setup failed: E: apt-get --yes -oAPT::Get::Simulate=true install systemd-sysv sysvinit-core failed
";
        assert_eq!(
            unresolved(said),
            [
                "systemd-sysv (Conflicts: sysvinit-core but 3.14-4 is to be installed)",
                "sysvinit-core (Depends: initscripts but it is not installable)"
            ]
        );
        assert!(unresolved("I: success in 4.3 seconds").is_empty());
    }

    #[test]
    fn installs_are_counted_and_sources_cover_updates_and_security() {
        let said = "Inst zstd (1.5.7+dfsg-1 Debian:13.8/stable [amd64])\nConf zstd\n\
                    Inst cpio (2.15 Debian:13.8/stable [amd64])\n";
        assert_eq!(installs(said), 2);
        let s = sources("trixie");
        assert_eq!(s[0], "deb http://deb.debian.org/debian trixie main");
        assert!(s[1].ends_with(" trixie-updates main"));
        assert!(s[2].starts_with("deb http://deb.debian.org/debian-security trixie-security"));
    }
}
