//! `srbuild diff`: added, removed and changed entries (content, mode, owner, type, link
//! target) with size deltas and the total, as text and as JSON, and diff(1)'s exit status;
//! paths compared as the kernel unpacks them; secrets never hashed in the output
//! (`diff_memory.rs` checks the memory bound).

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
            "+ n (file 0755 0:0, 7 bytes) +7",
            "- r (file 0600 0:0, 9 bytes) -9",
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

fn raw_image(dir: &Path, name: &str, members: &[Raw]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, newc(members)).unwrap();
    p
}

fn diff(a: &Path, b: &Path, json: bool) -> std::process::Output {
    let mut args = vec!["diff"];
    if json {
        args.push("--json");
    }
    args.extend([a.to_str().unwrap(), b.to_str().unwrap()]);
    run(&args)
}

#[test]
fn paths_are_compared_as_the_kernel_unpacks_them() {
    let d = tempfile::tempdir().unwrap();
    // The kernel keeps the later entry: these boot with different password files.
    let a = raw_image(
        d.path(),
        "a.img",
        &[
            raw_dir("etc"),
            raw("etc/passwd", 0o644, b"root:x:0:0"),
            raw("./etc/passwd", 0o644, b"evil::0:0"),
        ],
    );
    let b = raw_image(
        d.path(),
        "b.img",
        &[
            raw_dir("etc"),
            raw("./etc/passwd", 0o644, b"evil::0:0"),
            raw("etc/passwd", 0o644, b"root:x:0:0"),
        ],
    );
    let o = diff(&a, &b, false);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("~ etc/passwd: content +1\n"),
        "{}",
        stdout(&o)
    );
    // Every spelling of etc/passwd is that file: the same body is no difference, another
    // body is one.
    for s in [
        "etc/passwd",
        "./etc/passwd",
        "/etc/passwd",
        "etc//passwd",
        "etc/./passwd",
        "../etc/passwd",
        "etc/../etc/passwd",
        "lib/../etc/passwd",
        "link/passwd",
    ] {
        let with = |name: &str, body: &[u8]| {
            raw_image(
                d.path(),
                name,
                &[
                    raw_dir("etc"),
                    raw_dir("lib"),
                    Raw {
                        name: "link",
                        mode: 0o120777,
                        uid: 0,
                        gid: 0,
                        body: b"/etc",
                    },
                    raw(s, 0o644, body),
                ],
            )
        };
        let plain = raw_image(
            d.path(),
            "plain.img",
            &[
                raw_dir("etc"),
                raw_dir("lib"),
                Raw {
                    name: "link",
                    mode: 0o120777,
                    uid: 0,
                    gid: 0,
                    body: b"/etc",
                },
                raw("etc/passwd", 0o644, b"root:x:0:0"),
            ],
        );
        let o = diff(&plain, &with("same.img", b"root:x:0:0"), false);
        assert_eq!(o.status.code(), Some(0), "{s}: {}", stdout(&o));
        let o = diff(&plain, &with("other.img", b"evil::0:0"), false);
        assert_eq!(o.status.code(), Some(1), "{s}: {}", stdout(&o));
        assert!(
            stdout(&o).starts_with("~ etc/passwd: content"),
            "{s}: {}",
            stdout(&o)
        );
    }
}

#[test]
fn owner_and_group_are_compared() {
    let d = tempfile::tempdir().unwrap();
    let su = |uid, gid| Raw {
        name: "usr/bin/su",
        mode: 0o104755,
        uid,
        gid,
        body: b"\x7fELF",
    };
    let a = raw_image(
        d.path(),
        "a.img",
        &[raw_dir("usr"), raw_dir("usr/bin"), su(0, 0)],
    );
    let b = raw_image(
        d.path(),
        "b.img",
        &[raw_dir("usr"), raw_dir("usr/bin"), su(1000, 50)],
    );
    let o = diff(&a, &b, false);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("~ usr/bin/su: uid 0 -> 1000, gid 0 -> 50 0\n"),
        "{}",
        stdout(&o)
    );
    let j: serde_json::Value = serde_json::from_str(&stdout(&diff(&a, &b, true))).unwrap();
    assert_eq!(j["changed"][0]["what"], serde_json::json!(["uid", "gid"]));
    assert_eq!(j["changed"][0]["b"]["uid"], 1000);
    // ls shows them too.
    let o = run(&["ls", b.to_str().unwrap()]);
    assert!(
        stdout(&o).contains("-rwsr-xr-x  1000    50        4 usr/bin/su\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_secret_is_compared_but_its_hash_never_shown() {
    let d = tempfile::tempdir().unwrap();
    let (key_a, key_b): (&[u8], &[u8]) = (&[7u8; 128], &[9u8; 128]);
    let image = |name: &str, key: &[u8]| {
        raw_image(
            d.path(),
            name,
            &[
                raw_dir("etc"),
                raw_dir("etc/srbuild"),
                raw("etc/srbuild/corosync-authkey", 0o400, key),
            ],
        )
    };
    let (a, b) = (image("a.img", key_a), image("b.img", key_b));
    let hash = |k: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(k)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let o = diff(&a, &b, false);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("~ etc/srbuild/corosync-authkey: content (secret) 0\n"),
        "{}",
        stdout(&o)
    );
    let o = diff(&a, &b, true);
    let text = stdout(&o);
    for k in [key_a, key_b] {
        assert!(!text.contains(&hash(k)), "{text}");
    }
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j["changed"][0]["a"]["secret"], true);
    assert!(j["changed"][0]["a"].get("sha256").is_none(), "{text}");
    // Added: no hash either, under any spelling.
    let none = raw_image(d.path(), "none.img", &[raw_dir("etc")]);
    let o = diff(&none, &a, true);
    assert!(!stdout(&o).contains(&hash(key_a)), "{}", stdout(&o));
    let sneaky = raw_image(
        d.path(),
        "sneaky.img",
        &[
            raw_dir("etc"),
            raw_dir("etc/srbuild"),
            raw("./etc//srbuild/corosync-authkey", 0o400, key_a),
        ],
    );
    let o = diff(&none, &sneaky, true);
    assert!(!stdout(&o).contains(&hash(key_a)), "{}", stdout(&o));
    // ls shows the entry, never a hash of it.
    let o = run(&["ls", a.to_str().unwrap()]);
    assert!(
        stdout(&o).ends_with("-r--------     0     0      128 etc/srbuild/corosync-authkey\n"),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains(&hash(key_a)));
}
