//! Crate tests: round trips, external-tool compatibility, hostile inputs,
//! safe extraction and atomic output.

mod atomic;
mod external;
mod hostile;
mod roundtrip;
mod safety;
mod stream;
mod unpacked;

use std::path::Path;

use crate::{Entry, EntryKind};

pub(crate) fn dir(path: &str) -> Entry {
    Entry {
        path: path.into(),
        mode: 0o755,
        kind: EntryKind::Dir,
        hardlink_group: None,
    }
}

pub(crate) fn bytes(path: &str, data: &[u8]) -> Entry {
    Entry {
        path: path.into(),
        mode: 0o644,
        kind: EntryKind::Bytes(data.to_vec()),
        hardlink_group: None,
    }
}

pub(crate) fn symlink(path: &str, target: &str) -> Entry {
    Entry {
        path: path.into(),
        mode: 0o777,
        kind: EntryKind::Symlink(target.into()),
        hardlink_group: None,
    }
}

/// A small but varied entry list (dirs, files, symlink, device, hardlinks).
pub(crate) fn sample(host_file: &Path) -> Vec<Entry> {
    let mut busybox = bytes("usr/bin/busybox", &[0x7f, b'E', b'L', b'F', 1, 2, 3]);
    busybox.mode = 0o755;
    let mut sh = bytes("usr/bin/sh", &[0x7f, b'E', b'L', b'F', 1, 2, 3]);
    sh.mode = 0o755;
    busybox.hardlink_group = Some(1);
    sh.hardlink_group = Some(1);
    vec![
        dir("dev"),
        Entry {
            path: "dev/console".into(),
            mode: 0o600,
            kind: EntryKind::CharDev { major: 5, minor: 1 },
            hardlink_group: None,
        },
        bytes("init", b"#!/bin/sh\nexec /usr/bin/sh\n"),
        symlink("lib64", "usr/lib64"),
        dir("usr"),
        dir("usr/bin"),
        busybox,
        sh,
        Entry {
            path: "usr/share.txt".into(),
            mode: 0o644,
            kind: EntryKind::File {
                source: host_file.to_path_buf(),
            },
            hardlink_group: None,
        },
    ]
}

/// Names of the files in `dir`.
pub(crate) fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Writes a host file with predictable content and returns its path.
pub(crate) fn host_file(dir: &Path, len: usize) -> std::path::PathBuf {
    let p = dir.join("host-source.bin");
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(&p, data).unwrap();
    p
}
