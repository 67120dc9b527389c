//! Hostile and malformed images must produce errors, never panics.

use super::*;
use crate::read::list_with_limit;
use crate::{list_bytes, list_image, write_cpio, write_image, ArchiveError, Compression};

fn small_raw() -> Vec<u8> {
    let mut raw = Vec::new();
    write_cpio(
        &[
            dir("etc"),
            bytes("etc/hostname", b"node1\n"),
            symlink("bin", "usr/bin"),
        ],
        3,
        &mut raw,
    )
    .unwrap();
    raw
}

fn image(c: Compression) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let entries = vec![
        dir("etc"),
        bytes("etc/hostname", b"node1\n"),
        symlink("bin", "usr/bin"),
    ];
    let p = tmp.path().join("img");
    write_image(&p, &entries, c, 3).unwrap();
    std::fs::read(p).unwrap()
}

/// A raw newc header with the given fields; `name` is written NUL-terminated.
fn header(mode: u32, filesize: u32, namesize: u32, name: &[u8]) -> Vec<u8> {
    let mut h = b"070701".to_vec();
    for v in [1, mode, 0, 0, 1, 0, filesize, 0, 0, 0, 0, namesize, 0] {
        h.extend_from_slice(format!("{v:08x}").as_bytes());
    }
    h.extend_from_slice(name);
    h.push(0);
    while !h.len().is_multiple_of(4) {
        h.push(0);
    }
    h
}

#[test]
fn every_prefix_of_every_format_is_an_error() {
    for c in Compression::ALL {
        let full = image(c);
        assert!(list_bytes(&full).is_ok(), "{c}");
        for len in 0..full.len() {
            let r = std::panic::catch_unwind(|| list_bytes(&full[..len]));
            match r {
                Ok(Err(_)) => {}
                Ok(Ok(v)) => panic!("{c}: prefix of {len}/{} bytes accepted: {v:?}", full.len()),
                Err(_) => panic!("{c}: prefix of {len} bytes panicked"),
            }
        }
    }
}

#[test]
fn truncation_message_names_offset_and_segment() {
    let raw = small_raw();
    let err = list_bytes(&raw[..raw.len() - 20]).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("segment 0"), "{err}");
    assert!(err.contains("at byte"), "{err}");
}

#[test]
fn garbage_and_unsupported_formats() {
    let err = list_bytes(b"this is not an initramfs at all").unwrap_err();
    assert!(err.to_string().contains("unrecognised data"), "{err}");
    let err = list_bytes(b"BZh91AY&SY....").unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Unsupported {
                format: "bzip2",
                ..
            }
        ),
        "{err}"
    );
    let err = list_bytes(&[0x5d, 0, 0, 0x80, 0]).unwrap_err();
    assert!(err.to_string().contains("lzma"), "{err}");
    assert!(list_bytes(&[]).is_err());
    assert!(list_bytes(&[0; 64]).is_err());
    // Garbage after a valid archive is reported with its offset.
    let mut raw = small_raw();
    let at = raw.len();
    raw.extend_from_slice(b"\x01\x02garbage");
    let err = list_bytes(&raw).unwrap_err();
    match err {
        ArchiveError::Corrupt { offset, .. } => assert_eq!(offset, at as u64),
        other => panic!("unexpected {other}"),
    }
    // Corrupt compressed data.
    let mut z = image(Compression::Zstd);
    let mid = z.len() / 2;
    z[mid] ^= 0xff;
    z[mid + 1] ^= 0x55;
    assert!(list_bytes(&z).is_err());
}

#[test]
fn bad_magic_reports_offset() {
    let mut raw = small_raw();
    // Second header starts right after the first ("etc": 110 + 4 -> 116 bytes).
    raw[116..122].copy_from_slice(b"070707");
    let err = list_bytes(&raw).unwrap_err();
    match &err {
        ArchiveError::Corrupt {
            offset, message, ..
        } => {
            assert_eq!(*offset, 116);
            assert!(message.contains("bad cpio magic"), "{message}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn crc_magic_is_accepted() {
    let mut raw = small_raw();
    raw[5] = b'2';
    assert_eq!(list_bytes(&raw).unwrap()[0].path, "etc");
}

#[test]
fn malformed_headers() {
    let trailer = header(0, 0, 11, b"TRAILER!!!");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("huge namesize", header(0o100644, 0, 0x7fff_ffff, b"x")),
        ("zero namesize", header(0o100644, 0, 0, b"")),
        ("namesize 4097", header(0o100644, 0, 4097, b"x")),
        ("huge filesize", header(0o100644, 0xffff_ffff, 2, b"x")),
        ("NUL inside name", header(0o100644, 0, 4, b"a\0b")),
        ("name not terminated", header(0o100644, 0, 1, b"x")),
        ("no trailer", header(0o100644, 0, 2, b"x")),
        ("short header", b"070701000000".to_vec()),
    ];
    for (what, mut data) in cases {
        if what != "no trailer" && what != "short header" {
            data.extend_from_slice(&trailer);
        }
        let r = list_bytes(&data);
        assert!(r.is_err(), "{what}: accepted {r:?}");
    }
    let mut nonhex = header(0o100644, 0, 2, b"x");
    nonhex[20] = b'g';
    nonhex.extend_from_slice(&trailer);
    let err = list_bytes(&nonhex).unwrap_err().to_string();
    assert!(err.contains("non-hexadecimal"), "{err}");
    // Sanity: the same construction with sane values is accepted.
    let mut ok = header(0o100644, 0, 2, b"x");
    ok.extend_from_slice(&trailer);
    assert_eq!(list_bytes(&ok).unwrap()[0].path, "x");
}

#[test]
fn random_corruption_never_panics() {
    // Deterministic xorshift so failures are reproducible.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for c in Compression::ALL {
        let base = image(c);
        for _ in 0..300 {
            let mut data = base.clone();
            for _ in 0..(1 + next() % 4) {
                let i = (next() as usize) % data.len();
                data[i] = next() as u8;
            }
            let r = std::panic::catch_unwind(|| list_bytes(&data));
            assert!(r.is_ok(), "{c}: panic on corrupted input");
        }
    }
}

#[test]
fn decompression_bomb_is_capped() {
    let mut raw = Vec::new();
    write_cpio(&[bytes("zeros", &vec![0u8; 4 << 20])], 0, &mut raw).unwrap();
    let z = zstd::encode_all(raw.as_slice(), 19).unwrap();
    assert!(z.len() < 4096);
    let err = list_with_limit(&z, "bomb", 1 << 20).unwrap_err();
    assert!(matches!(err, ArchiveError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("decompression bomb"));
    // The cap is a budget across segments.
    let mut two = z.clone();
    two.extend_from_slice(&z);
    assert!(list_with_limit(&two, "bomb", (raw.len() as u64) * 2).is_ok());
    assert!(list_with_limit(&two, "bomb", (raw.len() as u64) * 2 - 1).is_err());
}

#[test]
fn missing_image_file_is_a_clear_error() {
    let err = list_image(std::path::Path::new("/nonexistent/initrd.img")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/initrd.img"), "{err}");
}
