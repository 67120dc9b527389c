//! The command line as `/init` reads it, with the image's own library and hooks run by
//! busybox sh against a fake command line (as on a node): every number goes through one
//! validator (a bad one is a `FAILED stage=cmdline` line naming the argument, never an
//! arithmetic error of the shell, which would end PID 1), nothing on it is globbed, and a
//! value such as `-n` is a value. Also: the hooks' file names carry their priority.

mod common;
use common::*;
use std::path::Path;

/// The rescue shell, as a test stops it: prints the rd.shell setting it would obey.
const RESCUE: &str = "sr_rescue() { echo \"rescue rd.shell=$SR_SHELL\"; exit 3; }\n";

/// Runs `script` under busybox sh in `cwd` with the image's library sourced, the /init
/// defaults set and the stage cmdline; `X` is the extracted image, `CMDLINE` a file
/// holding `cmdline`. Returns (exit code, stdout, stderr).
fn run_sh(x: &Path, cwd: &Path, cmdline: &str, script: &str) -> (i32, String, String) {
    let file = cwd.join("cmdline");
    std::fs::write(&file, format!("{cmdline}\n")).unwrap();
    let prelude = format!(
        ". \"$X/usr/lib/srbuild/lib/core.sh\"\n. \"$X/usr/lib/srbuild/lib/cmdline.sh\"\n\
         . \"$X/usr/lib/srbuild/lib/net.sh\"\n{RESCUE}\
         SR_STAGE=cmdline SR_SHELL=1 SR_MOUNT_TIMEOUT=180 SR_ROOTMODE=net SR_HYBRID='' \
         SR_RAMSIZE='' SR_ROOT=''\n"
    );
    let o = std::process::Command::new("/bin/busybox")
        .args(["sh", "-c", &format!("{prelude}{script}")])
        .current_dir(cwd)
        .env("X", x)
        .env("CMDLINE", &file)
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// A scratch directory holding files whose names a glob of `*` would turn into
/// arguments.
fn globby() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for name in [
        "root=evil",
        "srbuild.quorum_timeout=1",
        "srbuild.hybrid=evil",
        "255",
    ] {
        std::fs::write(d.path().join(name), "").unwrap();
    }
    d
}

#[test]
fn mount_timeout_goes_through_the_one_number_validator() {
    let (_d, x) = extracted("nfs");
    let cwd = globby();
    let parse = "sr_cmdline_parse \"$CMDLINE\"\necho \"timeout=$SR_MOUNT_TIMEOUT\"\n\
                 echo \"deadline ok $((SR_MOUNT_TIMEOUT + 1))\"\n";
    for (value, want) in [
        ("08", "8"),
        ("0", "0"),
        ("000120", "120"),
        ("999999999999", "999999999999"),
    ] {
        let (rc, out, err) = run_sh(
            &x,
            cwd.path(),
            &format!("srbuild.mount_timeout={value}"),
            parse,
        );
        assert_eq!(rc, 0, "{value}: {out}{err}");
        assert!(out.contains(&format!("timeout={want}\n")), "{value}: {out}");
        assert!(out.contains("deadline ok"), "{value}: {out}");
    }
    for value in [
        "1/0",
        "SR_MOUNT_TIMEOUT",
        "99999999999999999999",
        "",
        "-1",
        "0x10",
    ] {
        // rd.shell=0 after the bad value is still obeyed: the check runs after the line.
        let (rc, out, err) = run_sh(
            &x,
            cwd.path(),
            &format!("srbuild.mount_timeout={value} rd.shell=0"),
            parse,
        );
        assert_eq!(rc, 3, "{value:?}: {out}{err}");
        assert!(err.is_empty(), "{value:?}: a shell error: {err}");
        let first = out.lines().next().unwrap_or("");
        assert!(
            first.starts_with(&format!(
                "srbuild: FAILED stage=cmdline: srbuild.mount_timeout={}",
                value
            )),
            "{value:?}: {out}"
        );
        assert!(out.contains("rescue rd.shell=0"), "{value:?}: {out}");
    }
}

#[test]
fn quorum_timeout_is_checked_at_stage_cmdline_by_the_cluster_stack_hook() {
    let (_d, x) = extracted("gfs2");
    let cwd = globby();
    let hook = x.join("usr/lib/srbuild/hooks/cmdline/20-cluster-stack.sh");
    assert!(hook.is_file(), "no {}", hook.display());
    // The hook reads /proc/cmdline itself: point it at the fake one.
    let text = std::fs::read_to_string(&hook)
        .unwrap()
        .replace("/proc/cmdline", "\"$CMDLINE\"");
    std::fs::write(cwd.path().join("hook.sh"), text).unwrap();
    let script = ". ./hook.sh\necho \"quorum=$SR_QUORUM_TIMEOUT\"\n";
    for (cmdline, want) in [
        ("srbuild.quorum_timeout=08", "8"),
        ("quiet", "120"),
        ("*", "120"),
    ] {
        let (rc, out, err) = run_sh(&x, cwd.path(), cmdline, script);
        assert_eq!(rc, 0, "{cmdline}: {out}{err}");
        assert!(
            out.contains(&format!("quorum={want}\n")),
            "{cmdline}: {out}"
        );
    }
    for value in ["1/0", "SR_QUORUM_TIMEOUT", "99999999999999999999", ""] {
        let (rc, out, err) = run_sh(
            &x,
            cwd.path(),
            &format!("srbuild.quorum_timeout={value}"),
            script,
        );
        assert_eq!(rc, 3, "{value:?}: {out}{err}");
        assert!(err.is_empty(), "{value:?}: {err}");
        assert!(
            out.starts_with(&format!(
                "srbuild: FAILED stage=cmdline: srbuild.quorum_timeout={value} "
            )),
            "{value:?}: {out}"
        );
    }
}

#[test]
fn nothing_on_the_command_line_is_globbed() {
    let (_d, x) = extracted("nfs");
    let cwd = globby();
    let (rc, out, err) = run_sh(
        &x,
        cwd.path(),
        "root=nfs:good:/r *",
        "sr_cmdline_parse \"$CMDLINE\"\necho \"root=$SR_ROOT\"\n\
         sr_each_arg echo \"$CMDLINE\"\necho \"prefix=$(sr_mask2prefix '*')\"\n",
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("root=nfs:good:/r\n"), "{out}");
    assert!(out.contains("\n*\n"), "the argument * stays *: {out}");
    assert!(!out.contains("evil"), "{out}");
    assert!(
        out.contains("prefix=0\n"),
        "a netmask * is not the file 255: {out}"
    );
}

/// Runs the root-mode module's cmdline hook of the nfs image with `cmdline`.
fn root_mode(cmdline: &str) -> (i32, String, String) {
    let (_d, x) = extracted("nfs");
    let cwd = globby();
    run_sh(
        &x,
        cwd.path(),
        cmdline,
        "sr_cmdline_parse \"$CMDLINE\"\n. \"$X/usr/lib/srbuild/hooks/cmdline/20-root-mode.sh\"\n\
         echo \"ok mode=$SR_ROOTMODE hybrid=[$SR_HYBRID_LIST] kb=$(sr_ramsize_kb \"${SR_RAMSIZE:-1M}\")\"\n",
    )
}

/// `sr_hybrid_dir` (root-mode's cmdline hook; the ram copy and the http root use it): a
/// hybrid path is good only when every part of it is a real directory under the root, and
/// the first part that is not is named.
#[test]
fn a_hybrid_path_must_be_real_directories_all_the_way() {
    let (_d, x) = extracted("nfs");
    let cwd = globby();
    let r = cwd.path().join("root");
    std::fs::create_dir_all(r.join("usr/lib")).unwrap();
    std::fs::create_dir_all(r.join("real/local")).unwrap();
    std::os::unix::fs::symlink("real", r.join("opt")).unwrap();
    std::os::unix::fs::symlink("/", r.join("abs")).unwrap();
    std::fs::write(r.join("file"), "").unwrap();
    let (rc, out, err) = run_sh(
        &x,
        cwd.path(),
        "srbuild.rootmode=hybrid srbuild.hybrid=/usr",
        "sr_cmdline_parse \"$CMDLINE\"\n. \"$X/usr/lib/srbuild/hooks/cmdline/20-root-mode.sh\"\n\
         for p in /usr /usr/lib /opt/local /abs/usr /file /usr/nope /nope/deeper; do\n\
         if sr_hybrid_dir \"$PWD/root\" \"$p\"; then echo \"$p ok\"; else echo \"$p no at=$SR_HYBRID_AT\"; fi\n\
         done\n",
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(
        out,
        "/usr ok\n/usr/lib ok\n/opt/local no at=/opt\n/abs/usr no at=/abs\n/file no at=/file\n\
         /usr/nope no at=/usr/nope\n/nope/deeper no at=/nope\n"
    );
}

#[test]
fn root_mode_arguments_fail_at_stage_cmdline_with_a_value_that_looks_like_an_option() {
    let (rc, out, _) = root_mode("srbuild.rootmode=hybrid srbuild.hybrid=-n");
    assert_eq!(rc, 3, "{out}");
    assert!(
        out.starts_with(
            "srbuild: FAILED stage=cmdline: srbuild.hybrid: '-n' must be an absolute path"
        ),
        "{out}"
    );
    let (rc, out, _) = root_mode("srbuild.rootmode=hybrid srbuild.hybrid=/usr,-e");
    assert_eq!(rc, 3, "{out}");
    assert!(out.contains("'-e' must be an absolute path"), "{out}");
    let (rc, out, _) = root_mode("srbuild.rootmode=hybrid srbuild.hybrid=/usr,/usr/lib");
    assert_eq!(rc, 3, "{out}");
    assert!(out.contains("overlaps"), "{out}");
    let (rc, out, err) = root_mode("srbuild.rootmode=hybrid srbuild.hybrid=* srbuild.ramsize=08M");
    assert_eq!(rc, 3, "{out}{err}");
    assert!(
        out.contains("'*' must be an absolute path"),
        "not globbed: {out}"
    );
    let (rc, out, err) =
        root_mode("srbuild.rootmode=hybrid srbuild.hybrid=/usr,/var srbuild.ramsize=08M");
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("ok mode=hybrid hybrid=[/usr /var] kb=8192\n"),
        "{out}"
    );
    for size in ["1/0M", "99999999999999999999G", "M", "0M", "101%", "-1M"] {
        let (rc, out, err) = root_mode(&format!("srbuild.rootmode=ram srbuild.ramsize={size}"));
        assert_eq!(rc, 3, "{size}: {out}{err}");
        assert!(err.is_empty(), "{size}: {err}");
        assert!(
            out.starts_with(&format!(
                "srbuild: FAILED stage=cmdline: srbuild.ramsize={size}:"
            )),
            "{size}: {out}"
        );
    }
}

#[test]
fn fencing_is_checked_at_stage_cmdline_and_off_warns() {
    let (_d, x) = extracted("gfs2");
    let cwd = globby();
    let text = std::fs::read_to_string(x.join("usr/lib/srbuild/hooks/cmdline/20-cluster-stack.sh"))
        .unwrap()
        .replace("/proc/cmdline", "\"$CMDLINE\"");
    std::fs::write(cwd.path().join("hook.sh"), text).unwrap();
    let switch = x.join("usr/lib/srbuild/hooks/switch/95-cluster-stack.sh");
    let script = format!(
        "sr_cmdline_parse \"$CMDLINE\"\n. ./hook.sh\necho \"fencing=$SR_FENCING\"\n. {}\n",
        switch.display()
    );
    // The image's members all have fence devices: on unless the command line says 0.
    for (cmdline, want, warns) in [
        ("quiet", "1", false),
        ("srbuild.fencing=1", "1", false),
        ("srbuild.fencing=0", "0", true),
        ("srbuild.fencing=0 *", "0", true),
    ] {
        let (rc, out, err) = run_sh(&x, cwd.path(), cmdline, &script);
        assert_eq!(rc, 0, "{cmdline}: {out}{err}");
        assert!(
            out.contains(&format!("fencing={want}\n")),
            "{cmdline}: {out}"
        );
        let warning =
            "srbuild: WARNING: dlm fencing is OFF (srbuild.fencing=0 on the kernel command line or in the image's defaults)";
        assert_eq!(out.contains(warning), warns, "{cmdline}: {out}");
    }
    for value in ["2", "yes", "", "1;reboot", "-1"] {
        let (rc, out, err) = run_sh(&x, cwd.path(), &format!("srbuild.fencing={value}"), &script);
        assert_eq!(rc, 3, "{value:?}: {out}{err}");
        assert!(
            out.contains(&format!(
                "srbuild: FAILED stage=cmdline: srbuild.fencing={value}: use 0 (off) or 1 (on)"
            )),
            "{value:?}: {out}"
        );
    }
}

#[test]
fn hook_files_are_named_by_their_priority() {
    let (_d, x) = extracted("gfs2");
    let hooks = x.join("usr/lib/srbuild/hooks");
    for f in [
        "cmdline/20-cluster-stack.sh",
        "cmdline/20-root-mode.sh",
        "cluster/40-cluster-stack.sh",
        "mount-root/50-block-root.sh",
        "mount-root/90-root-mode.sh",
        "switch/90-systemd-root.sh",
        "switch/95-cluster-stack.sh",
    ] {
        assert!(hooks.join(f).is_file(), "no hook {f}");
    }
}
