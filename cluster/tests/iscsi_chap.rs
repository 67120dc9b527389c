//! Tests of the description's `[iscsi]` table: the CHAP user is checked, the secret file is
//! read only when asked for and must be private, regular and one word of the allowed bytes,
//! every error names the file, line and key without the secret, and `cluster show` lists
//! the account but never the secret.

mod common;

use srbuild_cluster::{Cluster, ClusterError};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SECRET: &[u8] = b"Lab+Chap/Secret=0123";

fn text(iscsi: &str) -> String {
    format!(
        r#"[cluster]
name = "lab"

[[node]]
name = "node1"
id = 1
macs = ["52:54:00:77:00:11"]
addresses = ["10.77.0.11/24"]

[[node]]
name = "target"
id = 100
macs = ["52:54:00:77:00:fe"]
addresses = ["10.77.0.1/24"]
member = false
{iscsi}"#
    )
}

const TABLE: &str = "[iscsi]\nchap_user = \"lab-root\"\nchap_secret_file = \"chap.secret\"\n";

/// The one problem of a description with this `[iscsi]` text.
fn one_error(iscsi: &str) -> String {
    match Cluster::parse(&text(iscsi), Path::new("site/cluster.toml")) {
        Ok(_) => panic!("accepted {iscsi:?}"),
        Err(ClusterError::Invalid(d)) => {
            assert_eq!(d.len(), 1, "{d:?}");
            d[0].to_string()
        }
        Err(e) => panic!("{e}"),
    }
}

fn secret_file(dir: &Path, content: &[u8], mode: u32) -> std::path::PathBuf {
    let p = dir.join("chap.secret");
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn the_table_is_kept_and_the_path_taken_from_the_description_directory() {
    let c = Cluster::parse(&text(TABLE), Path::new("site/cluster.toml")).unwrap();
    let a = c.iscsi.as_ref().unwrap();
    assert_eq!(a.chap_user, "lab-root");
    assert_eq!(a.chap_secret_file, Path::new("site/chap.secret"));
    assert_eq!(a.chap_secret_file_at.0, text("").lines().count() + 3);
    let c = Cluster::parse(&text(""), Path::new("site/cluster.toml")).unwrap();
    assert_eq!(c.iscsi, None);
    assert_eq!(c.chap_secret().unwrap(), None);
}

#[test]
fn a_bad_user_or_a_missing_key_is_an_error_naming_it() {
    let line = text("").lines().count() + 2;
    for user in ["", "two words", "quote\"d", "a#b", &"u".repeat(65), "é"] {
        let t = TABLE.replace("lab-root", &user.replace('"', "\\\""));
        let e = one_error(&t);
        assert!(
            e.contains(&format!("site/cluster.toml:{line}:")) && e.contains("iscsi.chap_user"),
            "{user:?}: {e}"
        );
    }
    let e = one_error("[iscsi]\nchap_user = \"lab-root\"\n");
    assert!(e.contains("chap_secret_file"), "{e}");
    let e = one_error(&format!("{TABLE}chap_secret = \"inline\"\n"));
    assert!(
        e.contains("unknown field") && e.contains("chap_secret"),
        "{e}"
    );
    let e = one_error("[iscsi]\nchap_user = \"u\"\nchap_secret_file = \"\"\n");
    assert!(e.contains("iscsi.chap_secret_file"), "{e}");
}

#[test]
fn the_secret_file_must_be_private_regular_and_one_word() {
    let dir = tempfile::tempdir().unwrap();
    let desc = dir.path().join("cluster.toml");
    std::fs::write(&desc, text(TABLE)).unwrap();
    let c = Cluster::load(&desc).unwrap();
    let read = || c.chap_secret().map_err(|e| e.to_string());
    let at = format!("cluster.toml:{}:", text("").lines().count() + 3);

    let e = read().unwrap_err();
    assert!(
        e.contains(&at) && e.contains("iscsi.chap_secret_file") && e.contains("cannot open"),
        "{e}"
    );
    for mode in [0o644, 0o640, 0o604, 0o602] {
        secret_file(dir.path(), SECRET, mode);
        let e = read().unwrap_err();
        assert!(
            e.contains(&format!("mode {mode:o}")) && e.contains("chmod 0400"),
            "{e}"
        );
        assert!(!e.contains("Lab+Chap"), "{e}");
    }
    for mode in [0o400, 0o600] {
        let mut with_newline = SECRET.to_vec();
        with_newline.push(b'\n');
        secret_file(dir.path(), &with_newline, mode);
        assert_eq!(read().unwrap(), Some(SECRET.to_vec()));
    }
    secret_file(dir.path(), &[b'k'; 12], 0o400);
    assert_eq!(read().unwrap().unwrap().len(), 12);
    secret_file(dir.path(), &[b'k'; 64], 0o400);
    assert_eq!(read().unwrap().unwrap().len(), 64);
    for bad in [
        &b""[..],
        b"short12345\n",
        &[b'k'; 65],
        b"two words here",
        b"line1-long-enough\nline2\n",
        b"hash#not-allowed",
        b"quote'not-allowed",
        b"dollar$not-allowed",
        b"p\xc3\xa4ss-long-enough",
        b"crlf-long-enough\r\n",
    ] {
        secret_file(dir.path(), bad, 0o400);
        let e = read().unwrap_err();
        assert!(e.contains(&at) && e.contains("CHAP secret"), "{bad:?}: {e}");
        if bad.len() > 4 {
            let shown = String::from_utf8_lossy(&bad[..bad.len().min(8)]).to_string();
            assert!(!e.contains(&shown), "{bad:?} shown in: {e}");
        }
    }
    let good = dir.path().join("real");
    std::fs::write(&good, SECRET).unwrap();
    std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o400)).unwrap();
    std::fs::remove_file(dir.path().join("chap.secret")).unwrap();
    std::os::unix::fs::symlink(&good, dir.path().join("chap.secret")).unwrap();
    assert!(read().unwrap_err().contains("symlink"));
    std::fs::remove_file(dir.path().join("chap.secret")).unwrap();
    std::fs::create_dir(dir.path().join("chap.secret")).unwrap();
    assert!(read().unwrap_err().contains("not a regular file"));
}

#[test]
fn cluster_show_prints_the_account_of_members_but_never_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cluster.toml");
    std::fs::write(&f, text(TABLE)).unwrap();
    secret_file(dir.path(), SECRET, 0o400);
    let out = common::run(&f, &["show", "node1"]).unwrap();
    assert!(
        out.contains("iscsi:       - chap user lab-root secret_file"),
        "{out}"
    );
    assert!(
        out.contains("chap.secret") && !out.contains("Lab+Chap"),
        "{out}"
    );
    let out = common::run(&f, &["show", "target"]).unwrap();
    assert!(
        out.contains("iscsi:       -\n") && !out.contains("chap"),
        "{out}"
    );
}
