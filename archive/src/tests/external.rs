//! Compatibility with external tools: GNU cpio and the zstd/gzip/xz/lz4 CLIs.

use std::path::Path;
use std::process::{Command, Stdio};

use super::*;
use crate::{list_image, write_cpio, write_image, Compression};

#[test]
fn gnu_cpio_lists_the_same_names() {
    let cpio_bin = Path::new("/usr/bin/cpio");
    if !cpio_bin.exists() {
        println!("SKIP gnu_cpio_lists_the_same_names: /usr/bin/cpio is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = host_file(tmp.path(), 5000);
    let img = tmp.path().join("raw.cpio");
    write_image(&img, &sample(&src), Compression::None, 7).unwrap();
    let out = Command::new(cpio_bin)
        .args(["-t", "--quiet", "-F"])
        .arg(&img)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cpio -t failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gnu: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let ours: Vec<String> = list_image(&img)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(gnu, ours);
}

#[test]
fn external_decompressors_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let src = host_file(tmp.path(), 200_000);
    let entries = sample(&src);
    let mut raw = Vec::new();
    write_cpio(&entries, 99, &mut raw).unwrap();
    let tools = [
        (Compression::Zstd, "/usr/bin/zstd", vec!["-d", "-c"]),
        (Compression::Gzip, "/usr/bin/gzip", vec!["-d", "-c"]),
        (Compression::Xz, "/usr/bin/xz", vec!["-d", "-c"]),
        (Compression::Lz4, "/usr/bin/lz4", vec!["-d", "-c"]),
    ];
    for (c, tool, args) in tools {
        if !Path::new(tool).exists() {
            println!("SKIP {c}: {tool} is not installed");
            continue;
        }
        let img = tmp.path().join(format!("img.{c}"));
        write_image(&img, &entries, c, 99).unwrap();
        let out = Command::new(tool)
            .args(&args)
            .stdin(std::fs::File::open(&img).unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == raw, "{tool} decompressed to different bytes");
    }
    // xz must use the CRC32 check the kernel supports.
    if Path::new("/usr/bin/xz").exists() {
        let img = tmp.path().join("img.xz");
        let out = Command::new("/usr/bin/xz")
            .args(["--robot", "--list"])
            .arg(&img)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("CRC32"), "xz --list: {text}");
    }
}

#[test]
fn reads_images_made_by_external_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = Vec::new();
    write_cpio(&[dir("etc"), bytes("etc/motd", b"hi\n")], 0, &mut raw).unwrap();
    let raw_path = tmp.path().join("raw");
    std::fs::write(&raw_path, &raw).unwrap();
    let tools = [
        ("/usr/bin/zstd", vec!["-q", "-c", "-19"]),
        ("/usr/bin/gzip", vec!["-c", "-9"]),
        ("/usr/bin/xz", vec!["-c", "--check=crc32"]),
        ("/usr/bin/lz4", vec!["-q", "-c", "-l"]),
    ];
    for (tool, args) in tools {
        if !Path::new(tool).exists() {
            println!("SKIP {tool}: not installed");
            continue;
        }
        let out = Command::new(tool)
            .args(&args)
            .stdin(std::fs::File::open(&raw_path).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool}");
        let mut image = out.stdout;
        // Followed by another raw archive, as early microcode images do.
        image.extend_from_slice(&raw);
        let names: Vec<String> = crate::list_bytes(&image)
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
            .into_iter()
            .map(|e| format!("{}:{}", e.segment, e.path))
            .collect();
        assert_eq!(
            names,
            ["0:etc", "0:etc/motd", "1:etc", "1:etc/motd"],
            "{tool}"
        );
    }
}

#[test]
fn large_image_is_deterministic_and_multi_block() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 MiB: several zstd jobs and two legacy lz4 blocks.
    let mut state: u32 = 7;
    let data: Vec<u8> = (0..12 << 20)
        .map(|i: u32| {
            if i.is_multiple_of(64) {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            }
            (state >> 24) as u8 ^ (i % 7) as u8
        })
        .collect();
    let entries = vec![dir("big"), bytes("big/blob", &data)];
    let mut raw = Vec::new();
    write_cpio(&entries, 1, &mut raw).unwrap();
    for c in [Compression::Zstd, Compression::Lz4] {
        let a = tmp.path().join(format!("a.{c}"));
        let b = tmp.path().join(format!("b.{c}"));
        write_image(&a, &entries, c, 1).unwrap();
        write_image(&b, &entries, c, 1).unwrap();
        let bytes_a = std::fs::read(&a).unwrap();
        assert!(
            bytes_a == std::fs::read(&b).unwrap(),
            "{c} output not deterministic"
        );
        let listed = list_image(&a).unwrap();
        assert_eq!(listed[1].size, 12 << 20);
        let tool = format!("/usr/bin/{c}");
        if Path::new(&tool).exists() {
            let out = Command::new(&tool)
                .args(["-d", "-c"])
                .stdin(std::fs::File::open(&a).unwrap())
                .output()
                .unwrap();
            assert!(out.status.success(), "{tool}");
            assert!(out.stdout == raw, "{tool} decompressed to different bytes");
        }
    }
}
