//! `cargo xtask dist`: the Debian package `target/dist/srbuild_<version>_<arch>.deb`, staged
//! as a tree and built with `dpkg-deb --build` (no packaging tool to install). It holds the
//! release binary, the profiles and modules under /usr/share/srbuild, the kernel hooks of
//! `packaging/`, the commented /etc/srbuild/srbuild.toml (a conffile, like the Debian
//! hooks), manual pages and bash/zsh/fish completions generated from the clap definitions
//! (`srbuild generate`), and a postrm that removes the build logs on purge.
//!
//! [`run`] is the CI step: build the package, then run the `#[ignore]`d life-cycle test
//! `tests/packaging.rs` (`dpkg -i`, use from outside the tree, man page, bash completion,
//! a real install and purge of a cloud-flavour kernel package that runs the hooks,
//! `dpkg --purge`, nothing left behind).

use anyhow::{bail, Context, Result};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// The package's name, and its binary's.
pub const PACKAGE: &str = "srbuild";

/// Files under /etc that dpkg keeps through upgrades and removes on purge.
const CONFFILES: &[&str] = &[
    "/etc/srbuild/srbuild.toml",
    "/etc/kernel/postinst.d/srbuild",
    "/etc/kernel/postrm.d/srbuild",
];

/// (file in the repository, path in the package, mode)
const SHIPPED: &[(&str, &str, u32)] = &[
    ("packaging/srbuild.toml", "etc/srbuild/srbuild.toml", 0o644),
    (
        "packaging/kernel/postinst.d/srbuild",
        "etc/kernel/postinst.d/srbuild",
        0o755,
    ),
    (
        "packaging/kernel/postrm.d/srbuild",
        "etc/kernel/postrm.d/srbuild",
        0o755,
    ),
    (
        "packaging/kernel/install.d/50-srbuild.install",
        "usr/lib/kernel/install.d/50-srbuild.install",
        0o755,
    ),
];

/// (shell, file clap_complete writes, path in the package)
const COMPLETIONS: &[(&str, &str, &str)] = &[
    (
        "bash",
        "srbuild.bash",
        "usr/share/bash-completion/completions/srbuild",
    ),
    (
        "zsh",
        "_srbuild",
        "usr/share/zsh/vendor-completions/_srbuild",
    ),
    (
        "fish",
        "srbuild.fish",
        "usr/share/fish/vendor_completions.d/srbuild.fish",
    ),
];

/// The maintainer script run after removal: the logs go on purge (dpkg removes the
/// conffiles itself).
const POSTRM: &str = "#!/bin/sh\n\
set -e\n\
if [ \"$1\" = purge ]; then\n\
\trm -rf /var/log/srbuild\n\
\trmdir /etc/srbuild 2>/dev/null || true\n\
fi\n";

/// `cargo xtask dist`: builds the package and returns its path.
pub fn build(sh: &Shell) -> Result<PathBuf> {
    cmd!(sh, "cargo build --release -p srbuild").run()?;
    let root = sh.current_dir();
    let version = env!("CARGO_PKG_VERSION");
    let arch = cmd!(sh, "dpkg --print-architecture")
        .quiet()
        .read()
        .context("dpkg --print-architecture (is this Debian?)")?;
    let out = root.join("target/dist");
    let tree = out.join(format!("{PACKAGE}_{version}_{arch}"));
    if tree.exists() {
        fs::remove_dir_all(&tree).with_context(|| format!("cannot clear {}", tree.display()))?;
    }
    // The binary, stripped as Debian ships binaries.
    let bin = tree.join("usr/bin/srbuild");
    copy(&root.join("target/release/srbuild"), &bin, 0o755)?;
    cmd!(sh, "strip --strip-unneeded {bin}").run()?;
    // The data the binary also carries built in, for admins to read and copy.
    for data in ["profiles", "modules"] {
        copy_tree(&root.join(data), &tree.join("usr/share/srbuild").join(data))?;
    }
    for (from, to, mode) in SHIPPED {
        copy(&root.join(from), &tree.join(to), *mode)?;
    }
    // Manual pages and completions from the clap definitions of the binary just built.
    let gen = out.join("generated");
    if gen.exists() {
        fs::remove_dir_all(&gen)?;
    }
    let man = gen.join("man");
    cmd!(sh, "{bin} generate man {man}").run()?;
    let man1 = tree.join("usr/share/man/man1");
    mkdir(&man1)?;
    for page in sorted_entries(&man)? {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let target = man1.join(format!("{name}.gz"));
        let gz = cmd!(sh, "gzip -9n -c {page}").quiet().output()?.stdout;
        fs::write(&target, gz)?;
        chmod(&target, 0o644)?;
    }
    for (shell, file, to) in COMPLETIONS {
        let dir = gen.join(shell);
        cmd!(sh, "{bin} generate completions {shell} {dir}").run()?;
        copy(&dir.join(file), &tree.join(to), 0o644)?;
    }
    let doc = tree.join("usr/share/doc/srbuild");
    write(
        &doc.join("copyright"),
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: srbuild\n\n\
         Files: *\n\
         License: GPL-2.0-or-later\n \
         On Debian systems, the complete text of the GNU General Public License version 2\n \
         can be found in /usr/share/common-licenses/GPL-2.\n",
        0o644,
    )?;
    // Control files.
    let debian = tree.join("DEBIAN");
    let size_kb = cmd!(sh, "du -sk --exclude=DEBIAN {tree}").quiet().read()?;
    let size_kb = size_kb.split_whitespace().next().unwrap_or("0").to_string();
    write(
        &debian.join("control"),
        &control(version, &arch, &size_kb),
        0o644,
    )?;
    write(
        &debian.join("conffiles"),
        &(CONFFILES.join("\n") + "\n"),
        0o644,
    )?;
    write(&debian.join("postrm"), POSTRM, 0o755)?;
    // Checksums of the files that are not conffiles (dpkg --verify).
    let md5 = {
        let in_tree = Shell::new()?;
        in_tree.change_dir(&tree);
        let files = cmd!(in_tree, "find usr -type f").quiet().read()?;
        let mut list: Vec<&str> = files.lines().collect();
        list.sort();
        cmd!(in_tree, "md5sum {list...}").quiet().read()?
    };
    write(&debian.join("md5sums"), &(md5 + "\n"), 0o644)?;
    // Whatever the umask: directories and executables 0755, other files 0644.
    cmd!(sh, "chmod -R u=rwX,go=rX {tree}").run()?;
    let deb = out.join(format!("{PACKAGE}_{version}_{arch}.deb"));
    cmd!(sh, "dpkg-deb --root-owner-group -Zxz --build {tree} {deb}").run()?;
    println!("xtask: package {}", deb.display());
    Ok(deb)
}

/// The CI step: build the package, then run the package life-cycle test against it
/// (`tests/packaging.rs`, `#[ignore]`d elsewhere; needs root, dpkg and apt with its
/// package lists fetched, as `cargo xtask ci` does before the tests). It installs and
/// purges `linux-image-<abi>-cloud-<arch>` from the archive, a flavour the lab does not
/// boot, checks that the lab's kernel, modules and initrd are unchanged, and purges that
/// kernel and srbuild again even when the test fails.
pub fn run(sh: &Shell) -> Result<()> {
    let deb = build(sh)?;
    let _env = sh.push_env("SRBUILD_DEB", &deb);
    cmd!(
        sh,
        "cargo test --release --test packaging -- --ignored --test-threads=1 --nocapture"
    )
    .run()
    .context("the package life-cycle test (tests/packaging.rs)")?;
    Ok(())
}

fn control(version: &str, arch: &str, size_kb: &str) -> String {
    format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: srbuild developers <srbuild@localhost>\n\
         Installed-Size: {size_kb}\n\
         Depends: libc6 (>= 2.34), libgcc-s1, liblzma5, busybox-static | busybox\n\
         Suggests: systemd\n\
         Section: admin\n\
         Priority: optional\n\
         Description: initramfs builder and QEMU lab for shared-root Linux clusters\n \
         srbuild builds initramfs images for clusters whose nodes boot one root\n \
         filesystem (NFS, GFS2, OCFS2, GlusterFS, ext3). Its kernel hooks\n \
         (/etc/kernel/postinst.d, kernel-install) build /boot/initrd.img-KVER with\n \
         the settings of /etc/srbuild/srbuild.toml when a kernel is installed.\n"
    )
}

fn mkdir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn chmod(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<()> {
    mkdir(to.parent().expect("a file in the tree"))?;
    fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    chmod(to, mode)
}

fn write(to: &Path, text: &str, mode: u32) -> Result<()> {
    mkdir(to.parent().expect("a file in the tree"))?;
    fs::write(to, text).with_context(|| format!("cannot write {}", to.display()))?;
    chmod(to, mode)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    v.sort();
    Ok(v)
}

/// Copies a data tree (regular files and directories only; files 0644).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    mkdir(to)?;
    for entry in sorted_entries(from)? {
        let name = entry.file_name().expect("an entry has a name");
        let meta = fs::symlink_metadata(&entry)?;
        if meta.is_dir() {
            copy_tree(&entry, &to.join(name))?;
        } else if meta.is_file() {
            copy(&entry, &to.join(name), 0o644)?;
        } else {
            bail!(
                "{}: not a regular file or directory; the package ships only those",
                entry.display()
            );
        }
    }
    Ok(())
}
