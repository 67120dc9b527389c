//! `srbuild ls` and `extract` stream the image: under a 256 MiB address-space
//! limit they read an image that inflates to 1 GiB, and a two-frame zstd image
//! lists like the single-frame one.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

/// One member of `size` zero bytes plus a small one, as a newc archive
/// streamed through the `zstd` tool (so the test itself never holds 1 GiB).
fn bomb(path: &std::path::Path, size: u64) {
    let mut z = Command::new("zstd")
        .args(["-q", "-T0", "-3", "-f", "-o"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("zstd (package zstd) is needed by this test");
    let mut w = z.stdin.take().unwrap();
    let header = |name: &str, ino: u32, size: u64| {
        format!(
            "070701{ino:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{name}\0",
            0o100644, 0, 0, 1, 0, 0, 0, 0, 0, name.len() + 1, 0
        )
    };
    let mut h = header("big", 1, size).into_bytes();
    h.resize(h.len().div_ceil(4) * 4, 0);
    w.write_all(&h).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..size / (1 << 20) {
        w.write_all(&zeros).unwrap();
    }
    for (name, ino, body) in [("after", 2, &b"x"[..]), ("TRAILER!!!", 0, &b""[..])] {
        let mut h = header(name, ino, body.len() as u64).into_bytes();
        h.resize(h.len().div_ceil(4) * 4, 0);
        h.extend_from_slice(body);
        h.resize(h.len().div_ceil(4) * 4, 0);
        w.write_all(&h).unwrap();
    }
    drop(w);
    assert!(z.wait().unwrap().success());
}

fn limited(args: &[&str]) -> std::process::Output {
    let mut script = String::from("ulimit -v 262144; exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_srbuild"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn ls_and_extract_of_a_1_gib_image_fit_in_256_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("bomb.img");
    bomb(&img, 1 << 30);
    assert!(std::fs::metadata(&img).unwrap().len() < 1 << 20);
    let o = limited(&["ls", img.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(" 1073741824 big"), "{out}");
    assert!(out.lines().last().unwrap().ends_with(" after"), "{out}");
    let dir = tmp.path().join("out");
    let o = limited(&["extract", img.to_str().unwrap(), dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(dir.join("big")).unwrap().len(), 1 << 30);
    assert_eq!(std::fs::read(dir.join("after")).unwrap(), b"x");
}

#[test]
fn ls_of_dev_zero_is_refused_at_once() {
    let o = run(&["ls", "/dev/zero"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("/dev/zero"), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}
