//! The unpacked-tree model (`unpacked.rs`) against what `init/initramfs.c` does: every
//! spelling of a path lands on one file and the later entry wins; links in parents are
//! followed; replacing, hardlinks and the entries the kernel skips.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::unpacked::{unpack_tree, Tree};

/// A hand-made newc member: (name, mode, uid, gid, nlink, ino, body).
type M<'a> = (&'a str, u32, u32, u32, u32, u32, &'a [u8]);

fn cpio(members: &[M]) -> Vec<u8> {
    let mut out = Vec::new();
    let trailer: M = ("TRAILER!!!", 0, 0, 0, 1, 0, b"");
    for (name, mode, uid, gid, nlink, ino, body) in members.iter().chain([&trailer]) {
        let namesize = name.len() + 1;
        write!(
            out,
            "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
            0, body.len(), 0, 0, 0, 0, 0
        )
        .unwrap();
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(body);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    out
}

fn tree(archives: &[&[M]]) -> Tree {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("x.img");
    let data: Vec<u8> = archives.iter().flat_map(|a| cpio(a)).collect();
    std::fs::write(&p, data).unwrap();
    unpack_tree(&p).unwrap()
}

fn content(t: &Tree, path: &str) -> Option<[u8; 32]> {
    t.get(path.as_bytes()).map(|n| n.sha256)
}

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

const DIR: u32 = 0o040755;
const REG: u32 = 0o100644;
const LNK: u32 = 0o120777;

#[test]
fn every_spelling_lands_on_one_file_and_the_later_entry_wins() {
    let spellings = [
        "etc/passwd",
        "./etc/passwd",
        "/etc/passwd",
        "//etc//passwd",
        "etc/./passwd",
        "../etc/passwd",
        "etc/../etc/passwd",
        "x/../etc/passwd",
        "rel/passwd",
        "abs/passwd",
        "twice/passwd",
    ];
    for s in spellings {
        let base: [M; 6] = [
            ("etc", DIR, 0, 0, 1, 1, b""),
            ("x", DIR, 0, 0, 1, 2, b""),
            ("rel", LNK, 0, 0, 1, 3, b"etc"),
            ("abs", LNK, 0, 0, 1, 4, b"/x/../etc/"),
            ("twice", LNK, 0, 0, 1, 5, b"rel"),
            ("etc/passwd", REG, 0, 0, 1, 6, b"first"),
        ];
        let mut m = base.to_vec();
        m.push((s, REG, 0, 0, 1, 7, b"second"));
        let t = tree(&[&m]);
        assert_eq!(content(&t, "etc/passwd"), Some(sha(b"second")), "{s}");
        // In the other order the first spelling wins.
        let mut m = base[..5].to_vec();
        m.push((s, REG, 0, 0, 1, 7, b"second"));
        m.push(("etc/passwd", REG, 0, 0, 1, 6, b"first"));
        let t = tree(&[&m]);
        assert_eq!(content(&t, "etc/passwd"), Some(sha(b"first")), "{s}");
        let paths: Vec<String> = t
            .iter()
            .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
            .collect();
        let want = [
            "",
            "abs",
            "dev",
            "dev/console",
            "etc",
            "etc/passwd",
            "rel",
            "root",
            "twice",
            "x",
        ];
        assert_eq!(paths, want, "{s}");
    }
}

#[test]
fn what_the_kernel_refuses_is_not_in_the_tree() {
    let t = tree(&[&[
        ("missing/parent", REG, 0, 0, 1, 1, b"x"),
        ("f", REG, 0, 0, 1, 2, b"file"),
        ("f/under-a-file", REG, 0, 0, 1, 3, b"x"),
        ("dir-with-body", DIR, 0, 0, 1, 4, b"body"),
        ("loop", LNK, 0, 0, 1, 5, b"loop"),
        ("loop/x", REG, 0, 0, 1, 6, b"x"),
        ("file-slash/", REG, 0, 0, 1, 7, b"x"),
    ]]);
    for p in [
        "missing/parent",
        "missing",
        "f/under-a-file",
        "dir-with-body",
        "loop/x",
        "file-slash",
    ] {
        assert!(t.get(p.as_bytes()).is_none(), "{p}");
    }
    assert_eq!(content(&t, "f"), Some(sha(b"file")));
    // The kernel's default initramfs is there.
    assert_eq!(t.get(b"dev/console").unwrap().rdev, (5, 1));
}

#[test]
fn replacing_follows_clean_path() {
    let t = tree(&[&[
        ("full", DIR, 0, 0, 1, 1, b""),
        ("full/x", REG, 0, 0, 1, 2, b"x"),
        // Sorts between `full` and `full/x`: the emptiness check must look past it.
        ("full.conf", REG, 0, 0, 1, 8, b"c"),
        ("empty", DIR, 0, 0, 1, 3, b""),
        // A non-empty directory stays; a file cannot replace it.
        ("full", REG, 0, 0, 1, 4, b"no"),
        // An empty one goes.
        ("empty", REG, 0, 0, 1, 5, b"yes"),
        // A directory again: the existing one takes the new owner and mode.
        ("full", 0o040700, 7, 8, 1, 6, b""),
        // A symlink replaces a file.
        ("full/x", LNK, 0, 0, 1, 7, b"target"),
    ]]);
    let full = t.get(b"full").unwrap();
    assert_eq!((full.mode, full.uid, full.gid), (0o040700, 7, 8));
    assert_eq!(content(&t, "full.conf"), Some(sha(b"c")));
    assert_eq!(content(&t, "empty"), Some(sha(b"yes")));
    assert_eq!(
        t.get(b"full/x").unwrap().target.as_deref(),
        Some(&b"target"[..])
    );
}

#[test]
fn hardlinks_share_one_body_and_a_later_write_reaches_all() {
    let t = tree(&[
        &[
            ("h1", REG, 0, 0, 2, 9, b""),
            ("h2", REG, 0, 0, 2, 9, b"shared"),
        ],
        // A later archive truncates h1 in place: h2 is the same file.
        &[("h1", 0o104755, 0, 0, 1, 1, b"new")],
    ]);
    assert_eq!(t.index(b"h1"), t.index(b"h2"));
    assert_eq!(content(&t, "h2"), Some(sha(b"new")));
    assert_eq!(t.get(b"h2").unwrap().mode, 0o104755);
    // Within one archive only: the same ino in the next archive is another file.
    let t = tree(&[
        &[("a", REG, 0, 0, 2, 9, b"one")],
        &[("b", REG, 0, 0, 2, 9, b"two")],
    ]);
    assert_ne!(t.index(b"a"), t.index(b"b"));
}
