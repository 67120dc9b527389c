//! `cargo xtask deps`: installs `ci/host-packages.txt` with apt as one transaction, then
//! checks that every host command the tests, the lab and the benchmarks run is on `PATH`
//! (the table is `srbuild_lab::host_tools::TOOLS`) and that a kernel is installed.
//!
//! apt gets the whole list at once, installed packages included, so it solves for all of
//! it together and can never drop one that the list needs (`--no-remove`). A listed package
//! whose installed version comes from no configured source (a backport installed by the
//! machine image, say) can block that solution; only then is it reinstalled from the
//! release, named on the console.

use anyhow::{bail, Context, Result};
use srbuild_lab::host_tools;
use std::collections::BTreeMap;
use std::path::Path;
use xshell::{cmd, Shell};

/// The packages of `ci/host-packages.txt` (comments and blank lines dropped).
pub fn packages(list: &str) -> Vec<&str> {
    list.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The packages named at the start of the lines under apt's "unmet dependencies" heading.
pub fn blockers(apt_output: &str) -> Vec<String> {
    apt_output
        .lines()
        .skip_while(|l| !l.contains("have unmet dependencies"))
        .skip(1)
        .filter_map(|l| {
            let (name, _) = l.split_once(" : ")?;
            // "libfoo:amd64" is the package "libfoo".
            let name = name.trim().split(':').next().unwrap_or("");
            (!name.is_empty() && !name.contains(' ')).then(|| name.to_string())
        })
        .collect()
}

/// True when `apt-cache policy` shows the installed version with no source but dpkg's
/// status file: nothing apt can reinstall or solve against.
pub fn installed_from_nowhere(policy: &str) -> bool {
    let mut lines = policy
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("***"));
    if lines.next().is_none() {
        return false; // not installed
    }
    // Source lines are indented deeper (8 spaces) than version lines (5, or " *** ").
    let sources: Vec<&str> = lines
        .take_while(|l| l.len() - l.trim_start().len() >= 8)
        .collect();
    !sources.is_empty() && sources.iter().all(|l| l.contains("/var/lib/dpkg/status"))
}

fn codename() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// Installs the host packages, then checks the tools.
pub fn run(sh: &Shell) -> Result<()> {
    let list = sh.read_file("ci/host-packages.txt")?;
    let wanted = packages(&list);
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    println!("xtask: apt-get update, then one apt-get install of ci/host-packages.txt");
    cmd!(sh, "apt-get update -q")
        .run()
        .context("apt-get update")?;
    let base = [
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "--no-remove",
    ];
    // Solve the whole list; where apt cannot, reinstall from the release the listed packages
    // that block it and that no source has in their installed version (and say so).
    let mut pinned: BTreeMap<String, String> = BTreeMap::new();
    let args = loop {
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        if !pinned.is_empty() {
            args.push("--allow-downgrades".into());
        }
        args.extend(
            wanted
                .iter()
                .map(|p| pinned.get(*p).cloned().unwrap_or_else(|| p.to_string())),
        );
        let a = &args;
        let sim = cmd!(sh, "apt-get {a...} -s")
            .quiet()
            .ignore_status()
            .output()?;
        if sim.status.success() {
            break args;
        }
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&sim.stdout),
            String::from_utf8_lossy(&sim.stderr)
        );
        let release = codename().context("no VERSION_CODENAME in /etc/os-release")?;
        let mut more = false;
        for p in blockers(&said) {
            let listed = wanted.contains(&p.as_str());
            if !listed || pinned.contains_key(&p) {
                continue;
            }
            let policy = cmd!(sh, "apt-cache policy {p}").quiet().read()?;
            if installed_from_nowhere(&policy) {
                println!(
                    "xtask: {p} is installed in a version that no apt source has, and it \
                     blocks the list; taking {p}/{release}"
                );
                pinned.insert(p.clone(), format!("{p}/{release}"));
                more = true;
            }
        }
        if !more {
            bail!(
                "apt cannot install ci/host-packages.txt as one without removing a package:\n{}",
                said.trim()
            );
        }
    };
    cmd!(sh, "apt-get {args...}")
        .run()
        .context("apt-get install of ci/host-packages.txt (no package may be removed)")?;
    check_tools()
}

/// Fails at once, naming each missing command and its package.
pub fn check_tools() -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Err(missing) = host_tools::check(
        host_tools::TOOLS,
        &path,
        Path::new("/boot"),
        Path::new("/lib/modules"),
    ) {
        bail!("host tools missing after installing ci/host-packages.txt:\n{missing}");
    }
    println!(
        "xtask: all {} host tools on PATH; kernels: {}",
        host_tools::TOOLS.len(),
        host_tools::kernels(Path::new("/boot"), Path::new("/lib/modules")).join(" ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = "qemu-utils:
  Installed: 1:10.0.2+ds-2+deb13u1~bpo12+1
  Candidate: 1:10.0.2+ds-2+deb13u1~bpo12+1
  Version table:
 *** 1:10.0.2+ds-2+deb13u1~bpo12+1 100
        100 /var/lib/dpkg/status
     1:7.2+dfsg-7+deb12u18+b3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
";

    const FROM_ARCHIVE: &str = "zstd:
  Installed: 1.5.4+dfsg2-5
  Candidate: 1.5.4+dfsg2-5
  Version table:
 *** 1.5.4+dfsg2-5 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
";

    const NOT_INSTALLED: &str = "corosync:
  Installed: (none)
  Candidate: 3.1.7-1
  Version table:
     3.1.7-1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
";

    #[test]
    fn a_version_known_only_to_dpkg_is_found() {
        assert!(installed_from_nowhere(LOCAL));
        assert!(!installed_from_nowhere(FROM_ARCHIVE));
        assert!(!installed_from_nowhere(NOT_INSTALLED));
        assert!(!installed_from_nowhere(""));
    }

    #[test]
    fn blockers_are_read_from_apt_s_unmet_dependencies() {
        let said = "qemu-utils is already the newest version (1:10.0.2).
Some packages could not be installed. This may mean that you have
The following information may help to resolve the situation:

The following packages have unmet dependencies:
 qemu-utils : Breaks: qemu-system-common (< 1:8.0+dfsg-5~) but 1:7.2 is to be installed
 corosync:amd64 : Depends: libknet1 but it is not going to be installed
E: Unable to correct problems, you have held broken packages.
";
        assert_eq!(blockers(said), ["qemu-utils", "corosync"]);
        assert!(blockers("E: Unable to locate package frob").is_empty());
    }

    #[test]
    fn the_package_list_drops_comments() {
        let l = packages("# head\nzstd\n\n  cpio  # archive tests\n");
        assert_eq!(l, ["zstd", "cpio"]);
    }
}
