//! Hostile inputs, end to end through the `srbuild` binary: broken or malicious profiles,
//! modules, cluster descriptions, command-line values, sysroots and images. Each must be
//! refused with exit code 1 and an error that names the file, line or option (one line,
//! no panic), and leave no output behind (no image, no `.srbuild-tmp-*`, no edited file,
//! nothing outside an extraction directory).
//!
//! Text inputs live in `tests/hostile/` (copied to a private directory first, because a
//! profile directory others can write to is refused for a reason of its own); sysroots,
//! links, FIFOs and images are made at test time.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `tests/hostile/` in the source tree.
fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// Runs `cmd`, killing it after `secs` seconds (a FIFO or a huge size must not hang it).
fn run_within(mut cmd: Command, secs: u64) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start srbuild");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out.expect("wait for srbuild"),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("{cmd:?} did not finish within {secs} s");
        }
    }
}

fn srbuild_with(args: &[&str]) -> Command {
    let mut c = srbuild();
    c.args(args);
    c
}

/// Runs srbuild and checks that it refused: exit 1, no panic, an error whose lines are
/// all srbuild's own (`srbuild: …`, `  caused by: …`, or a `/path:line:` diagnostic, so
/// no value from the input started a line of its own), mentioning every needle.
fn refused(args: &[&str], needles: &[&str]) -> String {
    refused_cmd(srbuild_with(args), &format!("{args:?}"), needles)
}

fn refused_cmd(cmd: Command, what: &str, needles: &[&str]) -> String {
    let o = run_within(cmd, 60);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{what}: exit {:?}: {err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.starts_with("srbuild: error: "), "{what}: {err}");
    for line in err.lines() {
        assert!(
            line.starts_with("srbuild: ")
                || line.starts_with("  caused by: ")
                || line.starts_with('/'),
            "{what}: a line of the error is not srbuild's own: {line:?} in\n{err}"
        );
    }
    for n in needles {
        assert!(
            err.contains(n),
            "{what}: the error should mention {n:?}: {err}"
        );
    }
    err
}

/// Nothing in `dir`: no image, no temporary file.
fn nothing_left(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        dir.display()
    );
}

/// A private copy of `tests/hostile/`, an empty output directory and a fake sysroot (an
/// empty kernel 9.9.9; the `empty` profile builds from it).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&data(), dir.path());
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let kernel = dir.path().join("sysroot/lib/modules/9.9.9");
        std::fs::create_dir_all(&kernel).unwrap();
        std::fs::write(kernel.join("modules.dep"), "").unwrap();
        Scratch { dir }
    }
    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).to_str().unwrap().to_string()
    }
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    fn img(&self) -> String {
        self.path("out/x.img")
    }
    fn sysroot(&self) -> PathBuf {
        self.dir.path().join("sysroot")
    }
    /// `srbuild image --profile P --sysroot <fake> -o out/x.img EXTRA…` must be refused.
    fn image_refused(&self, profile: &str, extra: &[&str], needles: &[&str]) -> String {
        let (img, sysroot) = (self.img(), self.path("sysroot"));
        let mut args = vec![
            "image",
            "--profile",
            profile,
            "--sysroot",
            &sysroot,
            "-o",
            &img,
        ];
        args.extend_from_slice(extra);
        let err = refused(&args, needles);
        nothing_left(&self.out());
        err
    }
}

/// Copies `from` to `to` with modes 0755/0644, whatever the checkout's umask gave them (a
/// profile that others may write is refused, and that is not what these cases test).
fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

#[test]
fn the_empty_profile_builds_from_the_fake_sysroot() {
    // The control for every image case below: what fails there is the hostile input.
    let s = Scratch::new();
    let o = run(&[
        "image",
        "--profile",
        &s.path("profiles/empty.toml"),
        "--sysroot",
        &s.path("sysroot"),
        "-o",
        &s.img(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn hostile_profiles_and_modules_are_refused() {
    let s = Scratch::new();
    // (profile file, what the error must say)
    let cases: &[(&str, &[&str])] = &[
        ("syntax.toml", &["syntax.toml:2:"]),
        ("unknown-key.toml", &["unknown-key.toml:2:1", "modulez"]),
        (
            "kernel-arg-newline.toml",
            &["kernel-arg-newline.toml", "'\\n'"],
        ),
        ("kernel-arg-nul.toml", &["kernel-arg-nul.toml", "'\\0'"]),
        (
            "missing-file.toml",
            &[
                "/no/such/srbuild-hostile-file",
                "remove it from `files` in",
                "profiles have no optional_files",
            ],
        ),
        (
            "module-missing-file.toml",
            &[
                "/no/such/srbuild-hostile-module-file",
                "move it from `files` to `optional_files` in module missing-file",
            ],
        ),
        (
            "dotdot-hook.toml",
            &["dotdot-hook/module.toml", "inside the module's directory"],
        ),
        (
            "bad-stage.toml",
            &["bad-stage/module.toml", "unknown stage '$(reboot)'"],
        ),
        (
            "module-path.toml",
            &["unknown module '../../../../etc'", "module-path.toml:2:"],
        ),
        (
            "inherits-path.toml",
            &["inherits-path.toml:2:", "inherits unknown profile"],
        ),
        ("loop-a.toml", &["loop-a -> loop-b -> loop-a"]),
    ];
    for (file, needles) in cases {
        s.image_refused(&s.path(&format!("profiles/{file}")), &[], needles);
    }
}

#[test]
fn a_hostile_profile_file_name_is_refused_without_running_it() {
    let s = Scratch::new();
    let evil = s.path("profiles/evil$(touch PWNED)`touch PWNED`.toml");
    std::fs::copy(s.path("profiles/empty.toml"), &evil).unwrap();
    s.image_refused(&evil, &[], &["profile name", "not a usable name"]);
    assert!(!s.dir.path().join("PWNED").exists() && !Path::new("PWNED").exists());
}

#[test]
fn hostile_command_line_values_are_refused() {
    let s = Scratch::new();
    let empty = s.path("profiles/empty.toml");
    s.image_refused(
        &empty,
        &["--kver", "../../.."],
        &["--kver", "not a usable name"],
    );
    s.image_refused(
        &empty,
        &["--kernel-arg", "quiet\nreboot -f"],
        &["--kernel-arg", "'\\n'"],
    );
    // iPXE would expand a setting in the node's script.
    s.image_refused(
        &empty,
        &["--kernel-arg", "root=${root-path}"],
        &["--kernel-arg", "iPXE would expand"],
    );
    // --sysroot: a file, a path below a file, a missing directory, a device.
    let file = s.path("profiles/empty.toml");
    for (sysroot, says) in [
        (file.clone(), "is a file, not a directory"),
        (format!("{file}/below"), "does not exist"),
        (s.path("no-such-sysroot"), "does not exist"),
        ("/dev/null".to_string(), "is a special file"),
    ] {
        let err = refused(
            &[
                "image",
                "--profile",
                "nfs",
                "--sysroot",
                &sysroot,
                "-o",
                &s.img(),
            ],
            &["--sysroot", &sysroot, says],
        );
        assert!(!err.contains("no kernel found"), "{err}");
        nothing_left(&s.out());
    }
}

#[test]
fn hostile_cluster_descriptions_are_refused_by_every_command() {
    let s = Scratch::new();
    // (file, what the error must say besides the file and line)
    let cases: &[(&str, &str)] = &[
        ("syntax.toml", "syntax.toml:4:"),
        ("subst-node-name.toml", "invalid node name 'n$(reboot)'"),
        ("broadcast-mac.toml", "broadcast-mac.toml:7:9"),
        ("kernel-arg-newline.toml", "contains '\\n'"),
        ("role-newline.toml", "invalid role \"nfs-server\\nreboot\""),
        ("address-injection.toml", "malformed address"),
        ("cluster-name-quote.toml", "invalid cluster name"),
        ("duplicate-mac.toml", "duplicate MAC 52:54:00:00:00:01"),
        ("unknown-failover-node.toml", "unknown node 'ghost'"),
        ("crypto-without-key.toml", "authkey"),
        ("huge-id.toml", "huge-id.toml:6:"),
        ("unknown-key.toml", "unknown field `shell`"),
        (
            "fence-user-injection.toml",
            "node 'n1': fence.user: \"admin$(reboot)\"",
        ),
        (
            "fence-cipher-0.toml",
            "fence-cipher-0.toml:18:10: node 'n1': fence.cipher",
        ),
        (
            "fence-address-newline.toml",
            "fence.address: \"10.0.0.201\\nreboot\"",
        ),
        (
            "fence-shared-bmc.toml",
            "also the fence device of node 'n1'",
        ),
        ("fence-agent-unknown.toml", "known agents: ipmilan"),
    ];
    let empty = s.path("profiles/empty.toml");
    let (k, i) = (s.path("profiles/empty.toml"), s.path("profiles/empty.toml"));
    for (file, says) in cases {
        let f = s.path(&format!("cluster/{file}"));
        let before = std::fs::read(&f).unwrap();
        refused(&["cluster", "--cluster", &f, "list"], &[&f, says]);
        s.image_refused(&empty, &["--cluster", &f], &[&f, says]);
        let nb = s.path("netboot");
        refused(
            &[
                "cluster",
                "--cluster",
                &f,
                "netboot",
                &nb,
                "--kernel",
                &k,
                "--initrd",
                &i,
            ],
            &[&f, says],
        );
        assert!(!Path::new(&nb).exists(), "netboot wrote {nb} for {file}");
        assert_eq!(std::fs::read(&f).unwrap(), before);
    }
}

#[test]
fn hostile_addnode_input_leaves_the_file_unchanged() {
    let s = Scratch::new();
    let f = s.path("out/cluster.toml");
    std::fs::write(
        &f,
        "[cluster]\nname = \"lab\"\n\n[[network]]\nname = \"lan\"\ncidr = \"10.0.0.0/24\"\n\n\
         [[node]]\nname = \"n1\"\nid = 1\nmacs = [\"52:54:00:00:00:01\"]\naddresses = [\"10.0.0.1/24\"]\n",
    )
    .unwrap();
    let before = std::fs::read(&f).unwrap();
    let ok_mac = "52:54:00:00:00:02";
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["n$(reboot)\nx", "--mac", ok_mac],
            &["the node name 'n$(reboot)\\nx'"],
        ),
        (
            &["n2", "--mac", "ff:ff:ff:ff:ff:ff"],
            &["--mac", "broadcast"],
        ),
        (
            &["n2", "--mac", "52:54:00:00:00:01"],
            &["--mac", "duplicate MAC"],
        ),
        (
            &["n2", "--mac", ok_mac, "--kernel-arg", "a\nreboot"],
            &["--kernel-arg", "'\\n'"],
        ),
        (
            &["n2", "--mac", ok_mac, "--ip", "10.0.0.2/24;reboot"],
            &["--ip", "malformed"],
        ),
        (
            &["n2", "--mac", ok_mac, "--ip", "10.9.9.9/24"],
            &["--ip", "outside every declared network"],
        ),
        (
            &["n2", "--mac", ok_mac, "--role", "x\ny"],
            &["--role 'x\\ny'"],
        ),
        (
            &["n2", "--mac", ok_mac, "--id", "1"],
            &["--id", "duplicate node id 1"],
        ),
    ];
    for (args, needles) in cases {
        let mut argv = vec!["cluster", "--cluster", &f, "addnode"];
        argv.extend_from_slice(args);
        let err = refused(&argv, needles);
        assert!(err.contains("not changed"), "{err}");
        // The edited text exists nowhere: no line of it may be cited.
        let cited = err
            .match_indices(&format!("{f}:"))
            .any(|(at, m)| err[at + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!cited, "{err}");
        assert_eq!(std::fs::read(&f).unwrap(), before, "{args:?}");
    }
    let names: Vec<_> = std::fs::read_dir(s.out())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["cluster.toml"], "no temporary file is left");
    let nb = s.path("netboot");
    refused(
        &[
            "cluster",
            "--cluster",
            &f,
            "netboot",
            &nb,
            "--kernel",
            &f,
            "--initrd",
            &f,
            "--append",
            "a\nb",
        ],
        &["--append", "'\\n'"],
    );
    assert!(!Path::new(&nb).exists());
}

/// Puts a module "ext4" into the fake sysroot's modules.dep whose file is made by `make`.
fn with_module(s: &Scratch, make: impl FnOnce(&Path)) -> String {
    let dir = s.sysroot().join("lib/modules/9.9.9");
    std::fs::create_dir_all(dir.join("kernel/fs")).unwrap();
    std::fs::write(dir.join("modules.dep"), "kernel/fs/ext4.ko:\n").unwrap();
    make(&dir.join("kernel/fs/ext4.ko"));
    let p = s.path("profiles/ext4.toml");
    std::fs::write(&p, "kernel_modules = [\"ext4\"]\n").unwrap();
    p
}

#[test]
fn hostile_sysroots_never_reach_the_host() {
    use std::os::unix::fs::symlink;
    // A module that is a link out of the sysroot: absolute, or climbing with `..`.
    for how in ["absolute", "relative"] {
        let s = Scratch::new();
        let secret = s.dir.path().join("host-secret");
        std::fs::write(&secret, "HOST-SECRET").unwrap();
        let p = with_module(&s, |at| {
            if how == "absolute" {
                symlink(&secret, at).unwrap();
            } else {
                symlink("../../../../../../host-secret", at).unwrap();
            }
        });
        s.image_refused(&p, &[], &["ext4.ko", "a link out of it"]);
    }
    // A FIFO as a module must not block the build.
    let s = Scratch::new();
    let p = with_module(&s, |at| {
        let c = std::ffi::CString::new(at.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    });
    s.image_refused(&p, &[], &["ext4.ko"]);
    // A malformed module index names its file and line.
    let s = Scratch::new();
    let dep = s.sysroot().join("lib/modules/9.9.9/modules.dep");
    let p = with_module(&s, |_| {});
    std::fs::write(&dep, "no colon on this line\n").unwrap();
    s.image_refused(&p, &[], &["modules.dep:1", "malformed"]);
    // lib/modules linking to the host's: the host's kernels are never chosen.
    let s = Scratch::new();
    std::fs::remove_dir_all(s.sysroot().join("lib/modules")).unwrap();
    symlink("/lib/modules", s.sysroot().join("lib/modules")).unwrap();
    s.image_refused(&s.path("profiles/empty.toml"), &[], &["no kernel found"]);
    // A kernel directory whose name is shell code.
    let s = Scratch::new();
    let lm = s.sysroot().join("lib/modules");
    std::fs::rename(lm.join("9.9.9"), lm.join("9.9$(reboot)")).unwrap();
    s.image_refused(
        &s.path("profiles/empty.toml"),
        &[],
        &["kernel directory", "not a usable name"],
    );
    // A binary that is a link loop, and one that is a broken ELF file.
    let s = Scratch::new();
    let bin = s.sysroot().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    symlink("loop2", bin.join("loop1")).unwrap();
    symlink("loop1", bin.join("loop2")).unwrap();
    std::fs::write(bin.join("bad"), b"\x7fELF\x02\x01\x01\0garbage").unwrap();
    let p = s.path("profiles/bins.toml");
    std::fs::write(&p, "binaries = [\"loop1\"]\n").unwrap();
    s.image_refused(&p, &[], &["loop1", "loop"]);
    std::fs::write(&p, "binaries = [\"/usr/bin/bad\"]\n").unwrap();
    s.image_refused(&p, &[], &["usr/bin/bad", "not a valid ELF file"]);
    // File globs expand inside the sysroot: a link to a host directory, or `..` past the
    // root, names the sysroot's own (missing) files, so a required file is an error.
    let s = Scratch::new();
    let host_dir = s.dir.path().join("host-dir");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("x.conf"), "HOST").unwrap();
    std::fs::create_dir_all(s.sysroot().join("etc")).unwrap();
    symlink(&host_dir, s.sysroot().join("etc/d")).unwrap();
    let p = s.path("profiles/files.toml");
    std::fs::write(&p, "files = [\"/etc/d/*.conf\"]\n").unwrap();
    s.image_refused(&p, &[], &["/etc/d/*.conf", "does not exist in the sysroot"]);
    let climb = format!("/etc/../../../../../..{}/x.conf", host_dir.display());
    std::fs::write(&p, format!("files = [{climb:?}]\n")).unwrap();
    s.image_refused(&p, &[], &["x.conf", "does not exist in the sysroot"]);
}

/// A cpio "newc" archive built entry by entry, with full control of every field.
#[derive(Default)]
struct Cpio(Vec<u8>);

impl Cpio {
    fn raw(mut self, name: &[u8], mode: u32, data: &[u8], claimed_size: usize) -> Self {
        let ino = self.0.len() as u32 + 1;
        let mut n = name.to_vec();
        n.push(0);
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            claimed_size as u32,
            0,
            0,
            0,
            0,
            n.len() as u32,
            0,
        ];
        self.0.extend_from_slice(b"070701");
        for f in fields {
            self.0.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.0.extend_from_slice(&n);
        self.pad();
        self.0.extend_from_slice(data);
        self.pad();
        self
    }
    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.raw(name.as_bytes(), 0o100644, data, data.len())
    }
    fn symlink(self, name: &str, target: &str) -> Self {
        self.raw(name.as_bytes(), 0o120777, target.as_bytes(), target.len())
    }
    fn finish(self) -> Vec<u8> {
        self.raw(b"TRAILER!!!", 0, b"", 0).0
    }
}

/// `bytes` compressed by the zstd command, or `None` when it is not installed.
fn zstd(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("zstd")
        .args(["-q", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut input = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().ok()?;
    writer.join().unwrap().unwrap();
    out.status.success().then_some(out.stdout)
}

fn many_files() -> Vec<u8> {
    (0..40)
        .fold(Cpio::default(), |c, i| {
            c.file(&format!("f{i:02}"), &[b'z'; 300])
        })
        .finish()
}

#[test]
fn hostile_images_are_refused_by_ls_and_extract() {
    let d = tempfile::tempdir().unwrap();
    let plain = many_files();
    let mut images = vec![
        ("cut.cpio", plain[..plain.len() / 2].to_vec()),
        // A header that claims 4 GiB of data in a 200-byte file.
        (
            "huge-size.cpio",
            Cpio::default()
                .raw(b"big", 0o100644, b"", u32::MAX as usize)
                .finish(),
        ),
        (
            "junk.img",
            b"070701 and then nothing a cpio header could be".to_vec(),
        ),
    ];
    match zstd(&plain) {
        Some(z) => images.push(("cut.zst", z[..z.len() / 2].to_vec())),
        None => eprintln!("zstd is not installed: the truncated zstd case is skipped"),
    }
    for (name, bytes) in images {
        let img = d.path().join(name);
        std::fs::write(&img, bytes).unwrap();
        let img = img.to_str().unwrap();
        refused(&["ls", img], &[name]);
        let x = d.path().join(format!("x-{name}"));
        refused(&["extract", img, x.to_str().unwrap()], &[name]);
    }
}

#[test]
fn extract_keeps_every_entry_inside_its_directory() {
    let d = tempfile::tempdir().unwrap();
    let outside = d.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let target = outside.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot.cpio",
            Cpio::default()
                .file("a/../../../outside/escaped", b"x")
                .finish(),
            "'..'",
        ),
        (
            "link-then-file.cpio",
            Cpio::default()
                .symlink("link", &target)
                .file("link/escaped", b"x")
                .finish(),
            "link/escaped",
        ),
        (
            "relative-link-then-file.cpio",
            Cpio::default()
                .symlink("up", "../outside")
                .file("up/escaped", b"x")
                .finish(),
            "up/escaped",
        ),
    ];
    for (name, bytes, says) in cases {
        let img = d.path().join(name);
        std::fs::write(&img, bytes).unwrap();
        let x = d.path().join(format!("x-{name}"));
        refused(
            &["extract", img.to_str().unwrap(), x.to_str().unwrap()],
            &[name, says],
        );
        nothing_left(&outside);
    }
    // An absolute name lands inside the directory, never at that host path.
    let host_path = format!("/tmp/srbuild-hostile-{}", std::process::id());
    let img = d.path().join("absolute.cpio");
    std::fs::write(&img, Cpio::default().file(&host_path, b"x").finish()).unwrap();
    let x = d.path().join("x-absolute");
    let o = run(&["extract", img.to_str().unwrap(), x.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!Path::new(&host_path).exists(), "extract wrote {host_path}");
    assert!(x.join(host_path.trim_start_matches('/')).is_file());
}

#[test]
fn ls_escapes_names_like_ls_b() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("names.cpio");
    let bytes = Cpio::default()
        .file("bad\nname\x1b[31mred", b"x")
        .symlink("link\tx", "target\r\x07")
        .finish();
    std::fs::write(&img, bytes).unwrap();
    let o = run(&["ls", img.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("bad\\nname\\033[31mred"), "{out}");
    assert!(out.contains("link\\tx -> target\\r\\a"), "{out}");
    assert!(
        !out.contains('\x1b') && !out.contains('\r') && !out.contains('\x07'),
        "{out:?}"
    );
}

#[test]
fn ls_reads_a_zstd_image_split_across_two_frames() {
    let plain = many_files();
    let (a, b) = plain.split_at(plain.len() / 2 + 7);
    let (Some(mut z), Some(z2)) = (zstd(a), zstd(b)) else {
        eprintln!("zstd is not installed: skipped");
        return;
    };
    z.extend_from_slice(&z2);
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("two-frames.zst");
    std::fs::write(&img, z).unwrap();
    let o = run(&["ls", img.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let names: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().nth(4).unwrap_or("").to_string())
        .collect();
    let want: Vec<String> = (0..40).map(|i| format!("f{i:02}")).collect();
    assert_eq!(names, want);
}

#[test]
fn control_characters_in_input_are_escaped_in_every_error() {
    let s = Scratch::new();
    let f = s.path("cluster/newline-node-name.toml");
    refused(
        &["cluster", "--cluster", &f, "list"],
        &[&f, "invalid node name"],
    );
    let ok = s.path("out/ok.toml");
    std::fs::write(&ok, "[cluster]\nname = \"lab\"\n").unwrap();
    refused(
        &["cluster", "--cluster", &ok, "removenode", "x\ny"],
        &["unknown node"],
    );
    std::fs::remove_file(&ok).unwrap();
    let p = s.path("profiles/module-newline.toml");
    std::fs::write(&p, "modules = [\"x\\ny\"]\n").unwrap();
    s.image_refused(&p, &[], &["unknown module"]);
}
