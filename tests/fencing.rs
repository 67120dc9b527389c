//! dlm fencing from the cluster description, through `srbuild image` on this host's
//! packages: a profile that runs dlm with fencing on needs a fence device for every member
//! (a build error naming the node and what to do), fencing goes off only explicitly (the
//! profile's `fencing = false`, or `srbuild.fencing=0` among the image's arguments), the
//! password files are checked and go in as secrets (0400, never hashed), and the agent and
//! `ipmitool` are in the image.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// `sample_cluster` in `dir`, with node n2's `[node.fence]` table removed.
fn without_n2_fence(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(sample_cluster(dir)).unwrap();
    let cut = text.rfind("[node.fence]").unwrap();
    let p = dir.join("no-fence.toml");
    std::fs::write(&p, &text[..cut]).unwrap();
    p
}

/// `srbuild image --profile PROFILE --cluster CLUSTER EXTRA…` into `dir`.
fn image(dir: &Path, profile: &str, cluster: &Path, extra: &[&str]) -> std::process::Output {
    assert!(
        have_kernel(),
        "no kernel under /lib/modules: install linux-image-amd64"
    );
    let out = dir.join("f.img");
    let mut args = vec![
        "image",
        "--profile",
        profile,
        "--cluster",
        cluster.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_member_without_a_fence_device_is_a_build_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let c = without_n2_fence(d.path());
    let o = image(d.path(), "gfs2", &c, &[]);
    assert!(!o.status.success(), "built without n2's fence device");
    let e = stderr(&o);
    let line = std::fs::read_to_string(&c)
        .unwrap()
        .lines()
        .position(|l| l == "name = \"n2\"")
        .unwrap()
        + 1;
    for want in [
        format!("no-fence.toml:{line}:"),
        "node 'n2' has no fence device ([node.fence])".into(),
        "module cluster-stack runs dlm with fencing on".into(),
        "fencing = false".into(),
        "--kernel-arg srbuild.fencing=0".into(),
    ] {
        assert!(e.contains(&want), "{want}: {e}");
    }
    assert!(!d.path().join("f.img").exists());
}

#[test]
fn fencing_goes_off_only_explicitly() {
    let d = tempfile::tempdir().unwrap();
    let c = without_n2_fence(d.path());
    // srbuild.fencing=0 among the image's arguments (the last word wins).
    let o = image(d.path(), "gfs2", &c, &["--kernel-arg", "srbuild.fencing=0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = image(
        d.path(),
        "gfs2",
        &c,
        &[
            "--kernel-arg",
            "srbuild.fencing=0",
            "--kernel-arg",
            "srbuild.fencing=1",
        ],
    );
    assert!(
        !o.status.success(),
        "the later srbuild.fencing=1 was ignored"
    );
    assert!(
        stderr(&o).contains("node 'n2' has no fence device"),
        "{}",
        stderr(&o)
    );
    // A value other than 0 or 1.
    let o = image(
        d.path(),
        "gfs2",
        &c,
        &["--kernel-arg", "srbuild.fencing=no"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("srbuild.fencing takes 0 (off) or 1 (on)"),
        "{}",
        stderr(&o)
    );
    // A profile that says so, and one inheriting it that turns it on again.
    let off = d.path().join("gfs2-nofence.toml");
    std::fs::write(&off, "inherits = \"gfs2\"\nfencing = false\n").unwrap();
    let o = image(d.path(), off.to_str().unwrap(), &c, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let x = d.path().join("x");
    let o = run(&[
        "extract",
        d.path().join("f.img").to_str().unwrap(),
        x.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let args = std::fs::read_to_string(x.join("usr/lib/srbuild/hooks/cmdline/20-cluster-stack.sh"))
        .unwrap();
    assert!(args.contains("SR_FENCING=${SR_FENCING-0}"), "{args}");
    assert!(
        args.contains("sr_fail \"srbuild.fencing=1, but not every member"),
        "{args}"
    );
    let on = d.path().join("gfs2-on-again.toml");
    std::fs::write(
        &on,
        format!("inherits = \"{}\"\nfencing = true\n", off.display()),
    )
    .unwrap();
    let o = image(d.path(), on.to_str().unwrap(), &c, &[]);
    assert!(
        !o.status.success(),
        "fencing = true did not turn it on again"
    );
    // A profile without dlm needs no fence device: ocfs2 fences by itself.
    let o = image(d.path(), "ocfs2", &c, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_password_file_others_can_read_fails_the_build_naming_node_and_key() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let c = sample_cluster(d.path());
    let pw = d.path().join("bmc-n2.password");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = image(d.path(), "gfs2", &c, &[]);
    assert!(
        !o.status.success(),
        "built with a world-readable password file"
    );
    let e = stderr(&o);
    let line = std::fs::read_to_string(&c)
        .unwrap()
        .lines()
        .position(|l| l.contains("bmc-n2.password"))
        .unwrap()
        + 1;
    for want in [
        format!("sample-cluster.toml:{line}:"),
        "node 'n2': fence.password_file".into(),
        "mode 644".into(),
        "chmod 0400".into(),
    ] {
        assert!(e.contains(&want), "{want}: {e}");
    }
    assert!(!e.contains("pw-n2"), "the password was shown: {e}");
}

#[test]
fn fence_devices_need_the_agent_module() {
    let d = tempfile::tempdir().unwrap();
    let c = sample_cluster(d.path());
    let p = d.path().join("bare-gfs2.toml");
    std::fs::write(&p, "inherits = \"base\"\nmodules = [\"gfs2\"]\n").unwrap();
    let o = image(d.path(), p.to_str().unwrap(), &c, &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("module fence-ipmi") && e.contains("node 'n1'"),
        "{e}"
    );
}

#[test]
fn the_gfs2_image_carries_the_agent_ipmitool_and_the_passwords_as_secrets() {
    let d = tempfile::tempdir().unwrap();
    let c = sample_cluster(d.path());
    let out = d.path().join("f.img");
    let o = srbuild()
        .args(["image", "--profile", "gfs2", "--json", "--cluster"])
        .arg(&c)
        .arg("-o")
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout(&o);
    let m: serde_json::Value = serde_json::from_str(&j).unwrap();
    let files = m["files"].as_array().unwrap();
    let rec = |p: &str| {
        files
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("{p} not in the image"))
            .clone()
    };
    for n in ["n1", "n2"] {
        let f = rec(&format!("etc/srbuild/fence/{n}.password"));
        assert_eq!(f["secret"], true, "{f}");
        assert_eq!(f["mode"], "0400", "{f}");
        assert!(f.get("sha256").is_none(), "{f}");
        // Its content, without the newline.
        assert_eq!(f["size"], format!("pw-{n}").len(), "{f}");
    }
    assert_eq!(rec("usr/sbin/fence_srbuild_ipmi")["mode"], "0755");
    assert!(files.iter().any(|f| f["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("bin/ipmitool"))));
    // Listed by srbuild ls like any file.
    let o = run(&["ls", out.to_str().unwrap()]);
    assert!(stdout(&o).contains("etc/srbuild/fence/n1.password"));
    // dlm.conf's lines, as the cluster hook renders them.
    let x = d.path().join("x");
    let o = run(&["extract", out.to_str().unwrap(), x.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(x.join("etc/srbuild/fence/n2.password")).unwrap(),
        b"pw-n2"
    );
    let hook = std::fs::read_to_string(x.join("usr/lib/srbuild/hooks/cluster/40-cluster-stack.sh"))
        .unwrap();
    assert!(
        hook.contains("'bmc-n2' '/usr/sbin/fence_srbuild_ipmi' '10.9.0.202' '623' '3' \\\n\t\t\t'admin' '/etc/srbuild/fence/n2.password'"),
        "{hook}"
    );
    assert!(!hook.contains("pw-n"), "a password reached the hook");
    // The block that writes dlm.conf, run by busybox sh as the node runs it.
    let start = hook
        .find("\t{\n\t\tprintf 'enable_fencing=1")
        .expect("dlm.conf block");
    let end = hook[start..]
        .find("\t} >\"$SR_SVC/etc/dlm/dlm.conf\"\n")
        .unwrap()
        + start;
    let svc = d.path().join("svc");
    std::fs::create_dir_all(svc.join("etc/dlm")).unwrap();
    let block = format!("{}\t}} >\"$SR_SVC/etc/dlm/dlm.conf\"\n", &hook[start..end]);
    let o = std::process::Command::new("/bin/busybox")
        .args(["sh", "-euc", &block])
        .env("SR_SVC", &svc)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(svc.join("etc/dlm/dlm.conf")).unwrap(),
        "enable_fencing=1\n\n\
         device bmc-n1 /usr/sbin/fence_srbuild_ipmi ip=10.9.0.201 ipport=623 cipher=3 username=admin password_file=/etc/srbuild/fence/n1.password\n\
         connect bmc-n1 node=1\n\n\
         device bmc-n2 /usr/sbin/fence_srbuild_ipmi ip=10.9.0.202 ipport=623 cipher=3 username=admin password_file=/etc/srbuild/fence/n2.password\n\
         connect bmc-n2 node=2\n"
    );
}
