//! `srbuild cluster netboot --http-base` (issue 23): the whole output tree of a small
//! cluster against its snapshot (`golden/netboot-http.txt`; `SRBUILD_BLESS=1` rewrites
//! it), what the scripts fetch from where, dnsmasq's syntax check, and refusals before
//! anything is written.

mod common;

use common::run;
use srbuild_cluster::netboot::{write_netboot, NetbootOptions};
use srbuild_cluster::Cluster;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SAMPLE: &str = include_str!("common_sample.toml");
const GOLDEN: &str = "tests/golden/netboot-http.txt";

fn setup(base: &str) -> (tempfile::TempDir, Cluster, NetbootOptions) {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("bzImage");
    let initrd = dir.path().join("my-initrd.cpio.gz");
    std::fs::write(&kernel, b"KERNEL").unwrap();
    std::fs::write(&initrd, b"INITRD").unwrap();
    // srbuild writes its images 0600: the served copy must be world-readable anyway.
    std::fs::set_permissions(&initrd, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = Cluster::parse(SAMPLE, Path::new("cluster.toml")).unwrap();
    let opts = NetbootOptions {
        outdir: dir.path().join("netboot"),
        kernel,
        initrd,
        append: Some("root=nfs:10.77.0.1:/srv/root ro".into()),
        tftp_root: None,
        http_base: Some(base.into()),
    };
    (dir, c, opts)
}

/// Every file under `root` (sorted), with its mode and its text; `root`'s absolute path
/// reads `OUT`.
fn render_tree(root: &Path) -> String {
    let mut files: Vec<_> = walk(root);
    files.sort();
    let abs = std::path::absolute(root).unwrap();
    let mut s = String::new();
    for rel in files {
        let p = root.join(&rel);
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            s.push_str(&format!("{}/\n", rel.display()));
            continue;
        }
        assert!(
            m.is_file(),
            "{} is neither a file nor a directory",
            p.display()
        );
        let text = String::from_utf8(std::fs::read(&p).unwrap()).unwrap();
        s.push_str(&format!(
            "{} {:o}\n",
            rel.display(),
            m.permissions().mode() & 0o7777
        ));
        for l in text.replace(&abs.display().to_string(), "OUT").lines() {
            s.push_str(&format!("  | {l}\n"));
        }
    }
    s
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    out
}

#[test]
fn the_output_tree_matches_its_snapshot() {
    let (_d, c, opts) = setup("http://10.77.0.1/");
    let files = write_netboot(&c, &opts).unwrap();
    let got = render_tree(&opts.outdir);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("SRBUILD_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        got, want,
        "the netboot --http-base tree differs from {GOLDEN} (rerun with SRBUILD_BLESS=1 if \
         intended)"
    );
    // Every file it says it wrote is in the tree, and nothing for PXELINUX.
    for f in &files {
        assert!(f.is_file(), "{}", f.display());
    }
    assert_eq!(files.len(), 6, "{files:?}");
    assert!(!got.contains("pxelinux"), "{got}");
}

#[test]
fn tftp_serves_only_the_first_stage_and_http_the_rest() {
    let (_d, c, opts) = setup("http://boot.example.org:8080/nb/");
    write_netboot(&c, &opts).unwrap();
    let out = &opts.outdir;
    let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();
    let names = |p: &str| {
        let mut v: Vec<String> = std::fs::read_dir(out.join(p))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("tftp"), ["boot.ipxe"]);
    assert_eq!(names("http"), ["initrd.img", "ipxe", "vmlinuz"]);
    assert_eq!(names("http/ipxe"), ["node1.ipxe", "node2.ipxe"]);
    assert!(read("tftp/boot.ipxe")
        .contains("\nchain http://boot.example.org:8080/nb/ipxe/${hostname}.ipxe || shell\n"));
    let ipxe = read("http/ipxe/node1.ipxe");
    assert!(ipxe.contains("\nkernel http://boot.example.org:8080/nb/vmlinuz initrd=initrd.img root=nfs:10.77.0.1:/srv/root ro srbuild.node=node1 console=ttyS0\ninitrd http://boot.example.org:8080/nb/initrd.img\nboot\n"), "{ipxe}");
    let conf = read("dnsmasq.conf");
    let tftp = std::path::absolute(out.join("tftp")).unwrap();
    assert!(
        conf.lines()
            .any(|l| l == format!("tftp-root={}", tftp.display())),
        "{conf}"
    );
    assert!(conf.contains("\ndhcp-boot=tag:ipxe,boot.ipxe\n"), "{conf}");
    assert!(!conf.contains("pxelinux"), "{conf}");
    assert_eq!(read("http/initrd.img"), "INITRD");
    assert_eq!(read("http/vmlinuz"), "KERNEL");
}

#[test]
fn dnsmasq_accepts_the_http_mode_snippet() {
    let dnsmasq = Path::new("/usr/sbin/dnsmasq");
    if !dnsmasq.exists() {
        println!("skipped: /usr/sbin/dnsmasq not installed (apt-get install -y dnsmasq-base)");
        return;
    }
    let (_d, c, opts) = setup("http://10.77.0.1");
    write_netboot(&c, &opts).unwrap();
    let out = std::process::Command::new(dnsmasq)
        .arg("--test")
        .arg(format!(
            "--conf-file={}",
            opts.outdir.join("dnsmasq.conf").display()
        ))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("syntax check OK"),
        "{text}"
    );
}

#[test]
fn a_bad_base_is_refused_through_the_cli_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let cluster = d.path().join("cluster.toml");
    std::fs::write(&cluster, SAMPLE).unwrap();
    std::fs::write(d.path().join("vmlinuz"), "K").unwrap();
    common::write_initramfs(&d.path().join("initrd"), "init", b"#!/bin/sh\n");
    let out = d.path().join("nb");
    let (k, i) = (d.path().join("vmlinuz"), d.path().join("initrd"));
    let args = |base: &'static str| {
        vec![
            "netboot".to_string(),
            out.display().to_string(),
            "--kernel".into(),
            k.display().to_string(),
            "--initrd".into(),
            i.display().to_string(),
            "--http-base".into(),
            base.into(),
        ]
    };
    for (base, why) in [
        ("https://10.77.0.1", "https:// is not taken"),
        ("http://u:p@10.77.0.1", "credentials"),
        ("http://10.77.0.1/x\nshell", "'\\n'"),
    ] {
        let a = args(base);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let e = run(&cluster, &a).unwrap_err().to_string();
        assert!(e.contains("--http-base") && e.contains(why), "{e}");
        assert!(!out.exists(), "nothing written for {base:?}");
    }
    let a = args("http://10.77.0.1/");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let text = run(&cluster, &a).unwrap();
    assert!(
        text.contains("wrote 6 files")
            && text.contains("at http://10.77.0.1/ over HTTP")
            && text.contains("tftp/boot.ipxe"),
        "{text}"
    );
}
