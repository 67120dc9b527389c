//! What `srbuild cluster netboot` refuses (issue 24): an initrd holding a secret unless
//! `--allow-secrets`, and a comma in the tftp-root (a second dnsmasq field).

mod common;

use common::run;

use srbuild_archive::{write_image, Compression, Entry, EntryKind};
use srbuild_cluster::ClusterError;
use std::path::Path;

const SAMPLE: &str = include_str!("common_sample.toml");

fn dir(path: &str) -> Entry {
    Entry {
        path: path.into(),
        mode: 0o755,
        kind: EntryKind::Dir,
        hardlink_group: None,
    }
}

/// An image with `name` (a secret's spelling) holding 128 key bytes.
fn image_with(path: &Path, name: &str) {
    let entries = [
        dir("etc"),
        dir("etc/srbuild"),
        Entry {
            path: name.into(),
            mode: 0o400,
            kind: EntryKind::Bytes(vec![7; 128]),
            hardlink_group: None,
        },
    ];
    write_image(path, &entries, Compression::Zstd, 0).unwrap();
}

struct Setup {
    d: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cluster.toml"), SAMPLE).unwrap();
        std::fs::write(d.path().join("vmlinuz"), "K").unwrap();
        Setup { d }
    }
    fn p(&self, rel: &str) -> String {
        self.d.path().join(rel).to_str().unwrap().to_string()
    }
    fn netboot(&self, out: &str, initrd: &str, more: &[&str]) -> Result<String, ClusterError> {
        let (k, i) = (self.p("vmlinuz"), self.p(initrd));
        let mut args = vec!["netboot", out, "--kernel", &k, "--initrd", &i];
        args.extend_from_slice(more);
        run(&self.d.path().join("cluster.toml"), &args)
    }
}

#[test]
fn an_initrd_holding_the_authkey_is_refused_unless_allowed() {
    let s = Setup::new();
    for spelling in [
        "etc/srbuild/corosync-authkey",
        "./etc/srbuild/corosync-authkey",
    ] {
        image_with(&s.d.path().join("initrd"), spelling);
        let out = s.p("tftp");
        let e = s.netboot(&out, "initrd", &[]).unwrap_err().to_string();
        assert!(
            e.contains(spelling) && e.contains("--allow-secrets") && e.contains("authkey"),
            "{e}"
        );
        assert!(!Path::new(&out).exists(), "refused before writing anything");
    }
    let text = s
        .netboot(&s.p("tftp"), "initrd", &["--allow-secrets"])
        .unwrap();
    assert!(
        text.contains("warning:") && text.contains("corosync-authkey"),
        "{text}"
    );
    assert!(s.d.path().join("tftp/initrd.img").exists());
    // An image without a secret: no refusal, no warning.
    let plain = s.d.path().join("plain");
    write_image(&plain, &[dir("etc")], Compression::Zstd, 0).unwrap();
    let text = s.netboot(&s.p("tftp2"), "plain", &[]).unwrap();
    assert!(!text.contains("warning"), "{text}");
}

#[test]
fn an_initrd_holding_a_fence_password_is_refused_unless_allowed() {
    let s = Setup::new();
    image_with(
        &s.d.path().join("initrd"),
        "etc/srbuild/fence/node1.password",
    );
    let out = s.p("tftp");
    let e = s.netboot(&out, "initrd", &[]).unwrap_err().to_string();
    assert!(
        e.contains("etc/srbuild/fence/node1.password")
            && e.contains("fence device's password")
            && e.contains("--allow-secrets"),
        "{e}"
    );
    assert!(!Path::new(&out).exists(), "refused before writing anything");
}

#[test]
fn a_comma_in_the_tftp_root_or_the_output_directory_is_refused() {
    let s = Setup::new();
    common::write_initramfs(&s.d.path().join("initrd"), "init", b"I");
    let e = s
        .netboot(&s.p("tftp"), "initrd", &["--tftp-root", "/srv/tftp,eth0"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--tftp-root") && e.contains("comma"), "{e}");
    let e = s
        .netboot(&s.p("tftp,eth1"), "initrd", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("output directory") && e.contains("comma"), "{e}");
    assert!(!s.d.path().join("tftp,eth1").exists());
    assert!(!s.d.path().join("tftp").exists());
}

#[test]
fn an_initrd_that_cannot_be_read_to_look_for_secrets_is_refused_unless_allowed() {
    let s = Setup::new();
    std::fs::write(
        s.d.path().join("initrd"),
        b"BZh91AY&SY not an image srbuild reads",
    )
    .unwrap();
    let out = s.p("tftp");
    let e = s.netboot(&out, "initrd", &[]).unwrap_err().to_string();
    assert!(
        e.contains("could not be read") && e.contains("--allow-secrets"),
        "{e}"
    );
    assert!(!Path::new(&out).exists(), "refused before writing anything");
    let text = s.netboot(&out, "initrd", &["--allow-secrets"]).unwrap();
    assert!(text.contains("warning:"), "{text}");
}
