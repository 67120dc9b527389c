//! Bad input to `srbuild image`, `ls` and `extract`: each gets exit code 1 (2 for usage),
//! a message naming the thing and where it came from, and leaves no output behind.

mod common;
use common::*;
use std::path::Path;

fn fails(args: &[&str], needles: &[&str]) -> String {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1 for {args:?}, got {:?}: {err}",
        o.status
    );
    for n in needles {
        assert!(
            err.contains(n),
            "error for {args:?} should mention {n:?}: {err}"
        );
    }
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A temporary directory, an empty output directory in it, and an image path there.
fn scratch() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let img = out.join("x.img");
    (d, out, img)
}

fn no_files_in(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn write(dir: &Path, rel: &str, text: &str) -> String {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&["image"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["image", "--profile", "nfs", "--compress", "bzip9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bzip9"));
    for bad in ["999", "17777", "rw-r--r--"] {
        let o = run(&["image", "--profile", "nfs", "--mode", bad]);
        assert_eq!(o.status.code(), Some(2), "--mode {bad}");
        assert!(stderr(&o).contains("octal file mode"), "{}", stderr(&o));
    }
}

#[test]
fn profile_errors_name_file_and_line() {
    let (d, out, o) = scratch();
    let o = o.to_str().unwrap();
    fails(
        &["image", "--profile", "no-such-profile", "-o", o],
        &["unknown profile 'no-such-profile'", "nfs"],
    );
    write(
        d.path(),
        "modules/cyc-a/module.toml",
        "depends = [\"cyc-b\"]\n",
    );
    write(
        d.path(),
        "modules/cyc-b/module.toml",
        "depends = [\"cyc-a\"]\n",
    );
    // (profile file, its text, what the error must say)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "syntax.toml",
            "inherits = \"base\"\nmodules = [\"nfs\"\n",
            &["syntax.toml:"],
        ),
        (
            "key.toml",
            "inherits = \"base\"\nmodulez = [\"nfs\"]\n",
            &["key.toml:2:1", "modulez"],
        ),
        (
            "mod.toml",
            "inherits = \"base\"\nmodules = [\"nfsx\"]\n",
            &["unknown module 'nfsx'", "mod.toml:2:"],
        ),
        (
            "cyc.toml",
            "modules = [\"cyc-a\"]\n",
            &["cycle", "cyc-a -> cyc-b -> cyc-a"],
        ),
        (
            "bin.toml",
            "inherits = \"base\"\nbinaries = [\"no-such-binary-xyz\"]\n",
            &["no-such-binary-xyz", "bin.toml"],
        ),
        (
            "kmod.toml",
            "inherits = \"base\"\nkernel_modules = [\"no_such_kmod\"]\n",
            &["kernel module 'no_such_kmod'", "kmod.toml"],
        ),
    ];
    for (file, text, needles) in cases {
        let p = write(d.path(), &format!("profiles/{file}"), text);
        fails(&["image", "--profile", &p, "-o", o], needles);
    }
    fails(
        &["image", "--profile", "nfs", "--kver", "0.0.0-none", "-o", o],
        &["kernel 0.0.0-none is not installed", "installed:"],
    );
    no_files_in(&out);
}

/// A minimal sysroot: a fake kernel 9.9.9 with an empty module index.
fn fake_sysroot(d: &Path) -> std::path::PathBuf {
    let root = d.join("sysroot");
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::create_dir_all(root.join("lib/modules/9.9.9")).unwrap();
    std::fs::write(root.join("lib/modules/9.9.9/modules.dep"), "").unwrap();
    root
}

#[test]
fn missing_library_in_a_sysroot_names_who_needs_it() {
    let d = tempfile::tempdir().unwrap();
    let root = fake_sysroot(d.path());
    std::fs::copy("/usr/bin/true", root.join("usr/bin/true")).unwrap();
    let p = write(d.path(), "p.toml", "binaries = [\"/usr/bin/true\"]\n");
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = out.join("x.img");
    fails(
        &[
            "image",
            "--profile",
            &p,
            "--sysroot",
            root.to_str().unwrap(),
            "-o",
            o.to_str().unwrap(),
        ],
        // ld.so comes first, as the kernel loads it before any library.
        &["/lib64/ld-linux-x86-64.so.2", "/usr/bin/true", "PT_INTERP"],
    );
    no_files_in(&out);
    // With the interpreter in place, the first missing library is named with its user.
    std::fs::create_dir_all(root.join("lib64")).unwrap();
    std::fs::copy(
        "/lib64/ld-linux-x86-64.so.2",
        root.join("lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    fails(
        &[
            "image",
            "--profile",
            &p,
            "--sysroot",
            root.to_str().unwrap(),
            "-o",
            o.to_str().unwrap(),
        ],
        &["library", "libc.so.6", "/usr/bin/true", "not found"],
    );
    no_files_in(&out);
}

#[test]
fn a_sysroot_gives_an_image_of_only_its_own_files() {
    let d = tempfile::tempdir().unwrap();
    let root = fake_sysroot(d.path());
    // A "busybox" that is not the host's: the image must carry these bytes.
    std::fs::write(
        root.join("usr/bin/busybox"),
        b"#!/usr/bin/busybox sh\necho sysroot\n",
    )
    .unwrap();
    let img = d.path().join("s.img");
    let p = write(d.path(), "only-base.toml", "modules = [\"base\"]\n");
    let o = run(&[
        "image",
        "--profile",
        &p,
        "--sysroot",
        root.to_str().unwrap(),
        "-o",
        img.to_str().unwrap(),
        "--compress",
        "none",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let x = d.path().join("x");
    assert!(
        run(&["extract", img.to_str().unwrap(), x.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(x.join("usr/bin/busybox")).unwrap(),
        b"#!/usr/bin/busybox sh\necho sysroot\n"
    );
    assert!(
        !x.join("usr/lib/x86_64-linux-gnu/libc.so.6").exists(),
        "host files leaked into a sysroot image"
    );
    assert!(stdout(&o).contains("9.9.9"));
}

#[test]
fn output_errors_leave_nothing_behind() {
    let d = tempfile::tempdir().unwrap();
    // Output path is a directory.
    let dir_out = d.path().join("isdir");
    std::fs::create_dir(&dir_out).unwrap();
    fails(
        &[
            "image",
            "--profile",
            "ext3",
            "-o",
            dir_out.to_str().unwrap(),
        ],
        &["isdir"],
    );
    no_files_in(&dir_out);
    // Output directory does not exist / cannot hold a temp file.
    fails(
        &[
            "image",
            "--profile",
            "ext3",
            "-o",
            "/proc/srbuild-test/x.img",
        ],
        &["/proc/srbuild-test"],
    );
    // A previous image survives a failed build.
    let prev = d.path().join("prev.img");
    std::fs::write(&prev, b"previous").unwrap();
    fails(
        &[
            "image",
            "--profile",
            "ext3",
            "--kver",
            "0.0.0",
            "-o",
            prev.to_str().unwrap(),
        ],
        &["0.0.0"],
    );
    assert_eq!(std::fs::read(&prev).unwrap(), b"previous");
}

#[test]
fn disk_full_is_reported_and_cleaned_up() {
    let d = tempfile::tempdir().unwrap();
    let mnt = d.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=256k",
            "tmpfs",
            mnt.to_str().unwrap(),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    }
    let out = mnt.join("x.img");
    let o = run(&["image", "--profile", "nfs", "-o", out.to_str().unwrap()]);
    let left: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).to_lowercase().contains("disk full"),
        "{}",
        stderr(&o)
    );
    assert!(left.is_empty(), "left behind on the full disk: {left:?}");
}

#[test]
fn truncated_or_corrupt_images_are_refused_by_ls_and_extract() {
    let d = tempfile::tempdir().unwrap();
    let img = build("ext3", d.path(), &[]);
    let bytes = std::fs::read(&img).unwrap();
    let cut = d.path().join("cut.img");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails(&["ls", cut.to_str().unwrap()], &["cut.img"]);
    let x = d.path().join("x");
    fails(
        &["extract", cut.to_str().unwrap(), x.to_str().unwrap()],
        &["cut.img"],
    );
    let junk = d.path().join("junk.img");
    std::fs::write(&junk, b"this is not an initramfs at all").unwrap();
    fails(&["ls", junk.to_str().unwrap()], &["junk.img"]);
    fails(
        &["ls", d.path().join("missing.img").to_str().unwrap()],
        &["missing.img"],
    );
}

#[test]
fn extract_refuses_an_entry_escaping_through_a_symlink() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("evil")).unwrap();
    let outside = d.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // Archive: "evil" -> <outside>, then "evil/pwned" as a file.
    std::os::unix::fs::symlink(&outside, src.join("link")).unwrap();
    std::fs::write(src.join("evil/pwned"), b"x").unwrap();
    let list = "link\nevil/pwned\n";
    let img = d.path().join("evil.cpio");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && printf '{}' | cpio -o -H newc --quiet | sed 's|evil/pwned|link/pwned|' > {}",
            src.display(),
            list,
            img.display()
        ))
        .status()
        .unwrap();
    assert!(o.success());
    let x = d.path().join("x");
    fails(
        &["extract", img.to_str().unwrap(), x.to_str().unwrap()],
        &["link/pwned"],
    );
    assert!(
        !outside.join("pwned").exists(),
        "extract wrote outside its directory"
    );
}

#[test]
fn cluster_profiles_need_a_cluster_description_with_member_addresses() {
    if !have_kernel() {
        return;
    }
    let (d, out, o) = scratch();
    let o = o.to_str().unwrap();
    for (profile, module) in [("gfs2", "cluster-stack"), ("ocfs2", "ocfs2")] {
        fails(
            &["image", "--profile", profile, "-o", o],
            &[module, "needs a cluster description", "--cluster"],
        );
    }
    // node2 is a member (no service role) without an address: corosync cannot bind it.
    let c = write(
        d.path(),
        "cluster.toml",
        "[cluster]\nname = \"c\"\n\n[[node]]\nname = \"node1\"\nid = 1\nmacs = [\"52:54:00:00:00:01\"]\naddresses = [\"10.0.0.1/24\"]\n\n[[node]]\nname = \"node2\"\nid = 2\nmacs = [\"52:54:00:00:00:02\"]\n",
    );
    let err = fails(
        &["image", "--profile", "gfs2", "--cluster", &c, "-o", o],
        &["node 'node2'", "no address", "cluster.toml"],
    );
    assert!(err.contains("addresses"), "{err}");
    // No member at all: corosync.conf would get an empty nodelist.
    let z = write(d.path(), "zero.toml", "[cluster]\nname = \"c\"\n");
    fails(
        &["image", "--profile", "gfs2", "--cluster", &z, "-o", o],
        &["zero.toml", "no member nodes"],
    );
    no_files_in(&out);
}

#[test]
fn the_lab_refuses_what_it_cannot_run_before_booting() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("lab");
    let dir = dir.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--root", "gfs2", "--nodes", "3", "--slots", "2"],
            &["--nodes 3", "2 journals"],
        ),
        (
            &["--root", "ocfs2", "--nodes", "3", "--slots", "2"],
            &["2 node slots"],
        ),
        (
            &["--root", "ext3", "--scenario", "wrong-root-path"],
            &["ext3 root does not support the wrong-root-path scenario"],
        ),
        (
            &["--root", "ocfs2", "--nodes", "3", "--scenario", "lone-node"],
            &["does not support the lone-node scenario"],
        ),
        (&["--root", "nfs", "--nodes", "17"], &["out of range"]),
        (&["--profile", "base"], &["none of the modules", "--root"]),
        (
            &["--root", "nfs", "--opt", "vers=3"],
            &["no option 'vers'", "its options: version"],
        ),
        (
            &["--root", "gfs2", "--opt", "version=3"],
            &["the gfs2 root has no option 'version'"],
        ),
    ];
    for (args, needles) in cases {
        let mut a = vec!["lab", "test", "--dir", dir];
        a.extend_from_slice(args);
        fails(&a, needles);
        // Refused before anything was built or booted.
        assert!(!Path::new(dir).join("artifacts").exists(), "{args:?}");
    }
}

#[test]
fn a_missing_lab_tool_is_named_with_its_package() {
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // Everything the ext3 lab runs except qemu-img.
    for tool in ["mkfs.ext4", "mkfs.ext3"] {
        std::os::unix::fs::symlink(format!("/usr/sbin/{tool}"), bin.join(tool)).unwrap();
    }
    let dir = d.path().join("lab");
    let o = srbuild()
        .args(["lab", "test", "--root", "ext3", "--nodes", "1", "--dir"])
        .arg(&dir)
        .env("PATH", &bin)
        .env("SRBUILD_LAB_QEMU", "/usr/bin/qemu-system-x86_64")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("qemu-img (package qemu-utils) is not installed; run `cargo xtask deps`"),
        "{err}"
    );
    assert!(
        !dir.join("artifacts").exists(),
        "refused before building anything"
    );
}

#[test]
fn a_volfile_naming_a_missing_xlator_names_it_and_its_line() {
    if !have_kernel() {
        return;
    }
    let (d, out, o) = scratch();
    let vol = write(
        d.path(),
        "client.vol",
        "volume a\n    type protocol/client\nend-volume\nvolume b\n    type performance/no-such-cache\n    subvolumes a\nend-volume\n",
    );
    let cluster = common::sample_cluster(d.path());
    fails(
        &[
            "image",
            "--profile",
            "glusterfs",
            "--cluster",
            cluster.to_str().unwrap(),
            "--gluster-volfile",
            &vol,
            "-o",
            o.to_str().unwrap(),
        ],
        &["client.vol:5", "performance/no-such-cache is not installed"],
    );
    fails(
        &[
            "image",
            "--profile",
            "nfs",
            "--gluster-volfile",
            &vol,
            "-o",
            o.to_str().unwrap(),
        ],
        &["glusterfs module"],
    );
    no_files_in(&out);
}

#[test]
fn names_and_arguments_that_would_inject_shell_are_refused() {
    let (d, out, o) = scratch();
    let o = o.to_str().unwrap();
    let p = write(d.path(), "y$(touch PWNED).toml", "inherits = \"base\"\n");
    fails(
        &["image", "--profile", &p, "-o", o],
        &["profile name", "not a usable name"],
    );
    fails(
        &["image", "--profile", "nfs", "--kver", "../../..", "-o", o],
        &["--kver", "not a usable name"],
    );
    fails(
        &[
            "image",
            "--profile",
            "nfs",
            "--kernel-arg",
            "quiet\nrm -rf /",
            "-o",
            o,
        ],
        &["--kernel-arg", "'\\n'"],
    );
    assert!(!d.path().join("PWNED").exists() && !Path::new("PWNED").exists());
    no_files_in(&out);
}

#[test]
fn a_module_link_out_of_the_sysroot_never_reads_the_host() {
    let d = tempfile::tempdir().unwrap();
    let root = fake_sysroot(d.path());
    std::fs::write(root.join("usr/bin/busybox"), b"#!/usr/bin/busybox sh\n").unwrap();
    let secret = d.path().join("host-secret");
    std::fs::write(&secret, "HOST-SECRET-CONTENT").unwrap();
    let m = root.join("lib/modules/9.9.9");
    std::fs::create_dir_all(m.join("kernel/fs/ext4")).unwrap();
    std::fs::write(m.join("modules.dep"), "kernel/fs/ext4/ext4.ko:\n").unwrap();
    std::os::unix::fs::symlink(&secret, m.join("kernel/fs/ext4/ext4.ko")).unwrap();
    let p = write(
        d.path(),
        "p.toml",
        "modules = [\"base\"]\nkernel_modules = [\"ext4\"]\n",
    );
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let img = out.join("x.img");
    fails(
        &[
            "image",
            "--profile",
            &p,
            "--sysroot",
            root.to_str().unwrap(),
            "-o",
            img.to_str().unwrap(),
        ],
        &["ext4.ko", "a link out of it"],
    );
    no_files_in(&out);
}

#[test]
fn a_hook_path_cannot_leave_its_module() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "modules/evil/module.toml",
        "[hooks]\nmount-root = { template = \"../../../../../../../../etc/passwd\", priority = 50 }\n",
    );
    let p = write(d.path(), "profiles/p.toml", "modules = [\"evil\"]\n");
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let img = out.join("x.img");
    fails(
        &["image", "--profile", &p, "-o", img.to_str().unwrap()],
        &["inside the module's directory", "etc/passwd"],
    );
    no_files_in(&out);
}

#[test]
fn module_overrides_are_named_and_refused_when_others_can_write_them() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    // A profile directory whose modules/ has its own "nfs": named in the output.
    write(
        d.path(),
        "modules/nfs/module.toml",
        "description = \"mine\"\n",
    );
    let p = write(
        d.path(),
        "profiles/p.toml",
        "inherits = \"base\"\nmodules = [\"nfs\"]\n",
    );
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let img = out.join("x.img");
    let o = run(&["image", "--profile", &p, "-o", img.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("modules/nfs from") && said.contains("replaces the built-in copy"),
        "{said}"
    );
    // The same, where another user could have planted it: refused, nothing written.
    std::fs::remove_file(&img).unwrap();
    let modules = d.path().join("modules");
    std::fs::set_permissions(&modules, std::fs::Permissions::from_mode(0o777)).unwrap();
    fails(
        &["image", "--profile", &p, "-o", img.to_str().unwrap()],
        &["refusing to use it", "writable by group or others"],
    );
    no_files_in(&out);
    // A profile file others can write is refused too.
    std::fs::set_permissions(&modules, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    fails(
        &["image", "--profile", &p, "-o", img.to_str().unwrap()],
        &["refusing to use it", "p.toml"],
    );
}

#[test]
fn a_source_date_epoch_cpio_cannot_hold_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("x.img");
    for bad in ["abc", "99999999999", "-1"] {
        let o = srbuild()
            .args(["image", "--profile", "nfs", "-o", img.to_str().unwrap()])
            .env("SOURCE_DATE_EPOCH", bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(stderr(&o).contains("SOURCE_DATE_EPOCH"), "{}", stderr(&o));
        assert!(!img.exists());
    }
}

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".srbuild-tmp-"))
        .collect()
}

#[test]
fn a_signal_during_a_build_leaves_no_temporary_file() {
    use std::os::unix::process::ExitStatusExt;
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("x.img");
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // xz on the gfs2 image takes seconds: long enough to be caught writing.
        let mut cmd = srbuild();
        cmd.args(["image", "--profile", "glusterfs", "--compress", "xz", "-o"])
            .arg(&img)
            .args([
                "--cluster",
                common::sample_cluster(d.path()).to_str().unwrap(),
            ])
            .stderr(std::process::Stdio::null());
        // The test may run where these signals are ignored (a background job ignores
        // SIGINT, nohup SIGHUP) and srbuild rightly keeps an ignored signal ignored: the
        // child starts with the default actions, as from a terminal.
        // SAFETY: signal(2) is async-signal-safe, the only call between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(s, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let start = std::time::Instant::now();
        while tmp_files(d.path()).is_empty() && start.elapsed().as_secs() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            !tmp_files(d.path()).is_empty(),
            "never saw the temporary file"
        );
        unsafe { libc::kill(child.id() as i32, sig) };
        let st = child.wait().unwrap();
        assert_eq!(
            st.signal(),
            Some(sig),
            "ends by the signal, as without srbuild"
        );
        assert!(
            tmp_files(d.path()).is_empty(),
            "left: {:?}",
            tmp_files(d.path())
        );
        assert!(!img.exists());
    }
}

#[test]
fn stale_temporary_files_of_dead_builds_are_swept_and_concurrent_builds_both_finish() {
    let d = tempfile::tempdir().unwrap();
    // The pid of a process that has ended: its temporary file is stale.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    let stale = d.path().join(format!(".srbuild-tmp-{pid}-AbCdEf"));
    std::fs::write(&stale, "half an image").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(1200);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // The same dead pid, but written to a minute ago: maybe a build in another pid
    // namespace sharing the directory. Left alone.
    let young = d.path().join(format!(".srbuild-tmp-{pid}-young1"));
    std::fs::write(&young, "still being written elsewhere").unwrap();
    let other = d.path().join(".srbuild-tmp-notapid");
    std::fs::write(&other, "not ours by name").unwrap();
    let img = d.path().join("x.img");
    let build = || {
        srbuild()
            .args(["image", "--profile", "nfs", "-o"])
            .arg(&img)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (build(), build());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    assert!(!stale.exists(), "the dead build's file was swept");
    assert!(other.exists(), "a name that is not ours is left alone");
    assert!(young.exists(), "a recently written file is left alone");
    let mut left = tmp_files(d.path());
    left.sort();
    assert_eq!(
        left,
        [
            format!(".srbuild-tmp-{pid}-young1"),
            ".srbuild-tmp-notapid".into()
        ]
    );
    let o = run(&["ls", img.to_str().unwrap()]);
    assert!(
        o.status.success() && stdout(&o).contains("init"),
        "one complete image"
    );
}

#[test]
fn a_corosync_authkey_others_can_read_is_refused_and_a_private_one_goes_in() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("authkey");
    std::fs::write(&key, [7u8; 256]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let plain = std::fs::read_to_string(common::sample_cluster(d.path())).unwrap();
    let c = write(
        d.path(),
        "crypto.toml",
        &plain.replacen(
            "name = \"t\"\n",
            "name = \"t\"\ncrypto_cipher = \"aes256\"\ncrypto_hash = \"sha256\"\nauthkey = \"authkey\"\n",
            1,
        ),
    );
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let img = out.join("x.img");
    let args = [
        "image",
        "--profile",
        "gfs2",
        "--cluster",
        &c,
        "-o",
        img.to_str().unwrap(),
    ];
    fails(&args, &["authkey", "chmod 0400"]);
    no_files_in(&out);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    // It replaces an image an older srbuild wrote 0644: the key makes it private anyway.
    std::fs::write(&img, "old image").unwrap();
    std::fs::set_permissions(&img, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::metadata(&img).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let x = d.path().join("x");
    assert!(
        run(&["extract", img.to_str().unwrap(), x.to_str().unwrap()])
            .status
            .success()
    );
    let embedded = x.join("etc/srbuild/corosync-authkey");
    assert_eq!(std::fs::read(&embedded).unwrap(), [7u8; 256]);
    assert_eq!(
        std::fs::metadata(&embedded).unwrap().permissions().mode() & 0o777,
        0o400
    );
    let hook = std::fs::read_dir(x.join("usr/lib/srbuild/hooks/cluster"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|t| t.contains("totem {"))
        .unwrap();
    assert!(hook.contains("crypto_cipher: aes256") && hook.contains("crypto_hash: sha256"));
}

#[test]
fn a_mode_letting_others_write_or_with_special_bits_is_refused_naming_the_flag() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("initrd.img");
    for (mode, why) in [("0666", "group or others write"), ("4755", "setuid")] {
        let o = run(&["image", "--mode", mode, "-o", out.to_str().unwrap()]);
        let err = stderr(&o);
        assert!(!o.status.success(), "--mode {mode} was accepted");
        assert!(
            err.contains("--mode") && err.contains(mode) && err.contains(why),
            "{err}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn a_module_input_that_is_no_regular_file_is_refused_before_it_is_read() {
    // /dev/zero would be read until memory ran out; a FIFO would block.
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("g.img");
    for (flag, value) in [
        ("--gluster-volfile", "/dev/zero".to_string()),
        ("--input", "gluster-volfile=/dev/zero".to_string()),
    ] {
        let o = run(&[
            "image",
            "--profile",
            "glusterfs",
            "-o",
            out.to_str().unwrap(),
            flag,
            &value,
        ]);
        let e = stderr(&o);
        assert!(!o.status.success(), "{flag} {value}: {e}");
        assert!(
            e.contains("/dev/zero") && e.contains("not a regular file"),
            "{e}"
        );
        assert!(!out.exists());
    }
    let o = run(&[
        "image",
        "--profile",
        "nfs",
        "--input",
        "iscsi-target=/dev/null",
    ]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("gluster-volfile"), "{e}");
}
