//! `srbuild diff`: added, removed and changed entries (content, mode, type, link target)
//! with size deltas and the total, as text and as JSON, and diff(1)'s exit status.

mod common;
use common::*;
use srbuild_archive::{write_image, Compression, Entry, EntryKind};
use std::path::{Path, PathBuf};

fn bytes(path: &str, mode: u32, body: &[u8]) -> Entry {
    Entry {
        path: path.into(),
        mode,
        kind: EntryKind::Bytes(body.to_vec()),
        hardlink_group: None,
    }
}

fn entry(path: &str, mode: u32, kind: EntryKind) -> Entry {
    Entry {
        path: path.into(),
        mode,
        kind,
        hardlink_group: None,
    }
}

fn image(dir: &Path, name: &str, entries: Vec<Entry>, c: Compression) -> PathBuf {
    let p = dir.join(name);
    write_image(&p, &entries, c, 0).unwrap();
    p
}

/// Two images: `a` changes content, `b` mode, `l` its target, `t` its type; `r` goes,
/// `n` comes, `same` and the hardlinked pair `h1`/`h2` stay.
fn pair(dir: &Path) -> (PathBuf, PathBuf) {
    let src = dir.join("shared");
    std::fs::write(&src, b"linked body").unwrap();
    std::fs::hard_link(&src, dir.join("shared2")).unwrap();
    let linked = |p: &str| Entry {
        path: p.into(),
        mode: 0o644,
        kind: EntryKind::File {
            source: src.clone(),
        },
        hardlink_group: Some(0),
    };
    let a = image(
        dir,
        "a.img",
        vec![
            bytes("a", 0o644, b"old"),
            bytes("b", 0o644, b"same"),
            entry("d", 0o755, EntryKind::Dir),
            linked("d/h1"),
            linked("d/h2"),
            entry("l", 0o777, EntryKind::Symlink("a".into())),
            bytes("r", 0o600, b"gone soon"),
            bytes("same", 0o644, b"unchanged"),
            bytes("t", 0o644, b"file first"),
        ],
        Compression::Zstd,
    );
    let b = image(
        dir,
        "b.img",
        vec![
            bytes("a", 0o644, b"newer"),
            bytes("b", 0o600, b"same"),
            entry("d", 0o755, EntryKind::Dir),
            linked("d/h1"),
            linked("d/h2"),
            entry("l", 0o777, EntryKind::Symlink("b".into())),
            bytes("n", 0o755, b"new one"),
            bytes("same", 0o644, b"unchanged"),
            entry("t", 0o755, EntryKind::Dir),
        ],
        Compression::Gzip,
    );
    (a, b)
}

#[test]
fn differences_are_listed_with_their_size_deltas_and_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = pair(d.path());
    let o = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "~ a: content +2",
            "~ b: mode 0644 -> 0600 0",
            "~ l: target a -> b 0",
            "+ n (file 0755, 7 bytes) +7",
            "- r (file 0600, 9 bytes) -9",
            "~ t: type file -> dir, mode 0644 -> 0755 -10",
        ],
        "{out}"
    );
    let total = lines.last().unwrap();
    assert!(
        total.starts_with(
            "total: 1 added, 1 removed, 4 changed; content 58 -> 48 bytes (-10); image files "
        ),
        "{out}"
    );
    assert!(!out.contains("h1") && !out.contains("same"), "{out}");
}

#[test]
fn json_gives_the_same_and_identical_images_exit_0() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = pair(d.path());
    let o = run(&["diff", "--json", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["same"], false);
    assert_eq!(j["added"][0]["path"], "n");
    assert_eq!(j["added"][0]["type"], "file");
    assert_eq!(j["added"][0]["size"], 7);
    assert_eq!(j["added"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(j["removed"][0]["path"], "r");
    let changed = j["changed"].as_array().unwrap();
    let a_rec = changed.iter().find(|c| c["path"] == "a").unwrap();
    assert_eq!(a_rec["what"], serde_json::json!(["content"]));
    assert_eq!(a_rec["size_delta"], 2);
    let l_rec = changed.iter().find(|c| c["path"] == "l").unwrap();
    assert_eq!(l_rec["what"], serde_json::json!(["target"]));
    assert_eq!(l_rec["b"]["target"], "b");
    // Hardlinked paths count once each, with the body their group shares.
    assert_eq!(j["total"]["size_delta"], -10);
    assert_eq!(j["total"]["a_bytes"], 58);
    assert_eq!(j["total"]["changed"], 4);

    // The same entries in another compression: no difference.
    let c = image(
        d.path(),
        "c.img",
        vec![
            bytes("x", 0o644, b"body"),
            entry("d", 0o755, EntryKind::Dir),
        ],
        Compression::Xz,
    );
    let e = image(
        d.path(),
        "e.img",
        vec![
            bytes("x", 0o644, b"body"),
            entry("d", 0o755, EntryKind::Dir),
        ],
        Compression::None,
    );
    let o = run(&["diff", c.to_str().unwrap(), e.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("total: 0 added, 0 removed, 0 changed"));
    let o = run(&["diff", "--json", c.to_str().unwrap(), e.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["same"], true);
}

#[test]
fn trouble_exits_2_naming_the_image() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = pair(d.path());
    let missing = d.path().join("missing.img");
    let o = run(&["diff", a.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.img"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    // A truncated image is corrupt, not "different".
    let data = std::fs::read(&a).unwrap();
    let cut = d.path().join("cut.img");
    std::fs::write(&cut, &data[..data.len() / 2]).unwrap();
    let o = run(&["diff", a.to_str().unwrap(), cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("cut.img"), "{}", stderr(&o));
    // A usage error is 2 as well (clap).
    assert_eq!(run(&["diff", a.to_str().unwrap()]).status.code(), Some(2));
}
