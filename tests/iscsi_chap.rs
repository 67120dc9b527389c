//! The description's `[iscsi]` CHAP account through `srbuild image` on this host's
//! packages: images of profiles that log in to or serve iSCSI targets carry the secret as
//! a secret (0400, listed as one in `--json`, never hashed, in no hook), other images do
//! not carry it, and an unusable secret file fails the build naming the file, line and key
//! without its content.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SECRET: &str = "Chap+Test/Secret=42";

/// `sample_cluster` with `[iscsi]`, and its secret file (mode `mode`).
fn chap_cluster(dir: &Path, mode: u32) -> PathBuf {
    let text = std::fs::read_to_string(sample_cluster(dir)).unwrap();
    let p = dir.join("chap-cluster.toml");
    std::fs::write(
        &p,
        format!("{text}\n[iscsi]\nchap_user = \"site-root\"\nchap_secret_file = \"chap.secret\"\n"),
    )
    .unwrap();
    let s = dir.join("chap.secret");
    let _ = std::fs::remove_file(&s);
    std::fs::write(&s, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// `srbuild image --json` of `profile` with `cluster`; the manifest's files.
fn files_of(dir: &Path, profile: &str, cluster: &Path) -> (PathBuf, Vec<serde_json::Value>) {
    assert!(
        have_kernel(),
        "no kernel under /lib/modules: install linux-image-amd64"
    );
    let out = dir.join(format!("{profile}.img"));
    let o = srbuild()
        .args(["image", "--profile", profile, "--json", "--cluster"])
        .arg(cluster)
        .arg("-o")
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    (out, m["files"].as_array().unwrap().clone())
}

const SECRET_PATH: &str = "etc/srbuild/iscsi-chap.secret";

#[test]
fn initiator_and_target_images_carry_the_secret_as_a_secret_and_no_hook_holds_it() {
    let d = tempfile::tempdir().unwrap();
    let c = chap_cluster(d.path(), 0o400);
    for (profile, hook, user_line) in [
        (
            "gfs2-iscsi",
            "usr/lib/srbuild/hooks/mount-root/30-iscsi.sh",
            "SR_ISCSI_CHAP_USER='site-root'",
        ),
        (
            "lab-iscsi-target",
            "usr/lib/srbuild/hooks/cluster/50-iscsi-target.sh",
            "sr_tgt_user='site-root'",
        ),
    ] {
        let (img, files) = files_of(d.path(), profile, &c);
        let f = files
            .iter()
            .find(|f| f["path"] == SECRET_PATH)
            .unwrap_or_else(|| panic!("{profile}: no {SECRET_PATH}"));
        assert_eq!(f["secret"], true, "{f}");
        assert_eq!(f["mode"], "0400", "{f}");
        assert!(f.get("sha256").is_none(), "{f}");
        assert_eq!(f["size"], SECRET.len(), "{f}");
        let x = d.path().join(format!("x-{profile}"));
        let o = run(&["extract", img.to_str().unwrap(), x.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            std::fs::read(x.join(SECRET_PATH)).unwrap(),
            SECRET.as_bytes()
        );
        let h = std::fs::read_to_string(x.join(hook)).unwrap();
        assert!(h.contains(user_line), "{profile}: {h}");
        // The secret is in its file only: no hook, no /init, no copy of the description.
        let o = std::process::Command::new("grep")
            .args(["-rlF", SECRET])
            .arg(&x)
            .output()
            .unwrap();
        assert_eq!(
            stdout(&o).trim(),
            x.join(SECRET_PATH).to_str().unwrap(),
            "{profile}"
        );
    }
}

#[test]
fn images_that_do_not_speak_iscsi_do_not_carry_the_secret() {
    let d = tempfile::tempdir().unwrap();
    let c = chap_cluster(d.path(), 0o400);
    let (_, files) = files_of(d.path(), "gfs2", &c);
    assert!(!files.iter().any(|f| f["path"] == SECRET_PATH));
}

#[test]
fn an_unusable_secret_file_fails_the_build_naming_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let c = chap_cluster(d.path(), 0o644);
    let out = d.path().join("f.img");
    let o = run(&[
        "image",
        "--profile",
        "gfs2-iscsi",
        "--cluster",
        c.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success(),
        "built with a world-readable CHAP secret"
    );
    let e = stderr(&o);
    let line = std::fs::read_to_string(&c)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("chap_secret_file"))
        .unwrap()
        + 1;
    for want in [
        format!("chap-cluster.toml:{line}:"),
        "iscsi.chap_secret_file".into(),
        "mode 644".into(),
        "chmod 0400".into(),
    ] {
        assert!(e.contains(&want), "{want}: {e}");
    }
    assert!(!e.contains(SECRET), "the secret was shown: {e}");
    assert!(!out.exists(), "an image was left behind");
}
