//! Images are byte-identical to the ones recorded in `tests/golden/image-hashes.txt` (by
//! `tests/golden/record-image-hashes.sh`, run with a trusted binary): every built-in
//! profile, alone and with a cluster description, and the options that reach the boot
//! contract (`tests/golden/image-hashes-builds.txt`).
//!
//! An image depends on the host's packages, so the file also records what the builds read
//! from the host: the kernel version, a digest of the content of every file under
//! `/lib/modules/KVER` and the SHA-256 of every other host file the images hold. Contents,
//! not mtimes: a fresh machine that installs the same package versions (as CI does) has the
//! same inputs, although dpkg and depmod gave its files new mtimes, so the hashes are
//! compared there. Only when an input's content differs (another kernel, a package update)
//! does the test print that it compared nothing, and why, and pass: the recording says
//! nothing about images built from other inputs. A change of the images by design is
//! recorded again with the script, and the commit says why.

mod common;
use common::*;
use sha2::{Digest, Sha256};
use std::path::Path;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

struct Recording {
    kver: String,
    /// (directory, digest of its `path size mtime` lines)
    tree: (String, String),
    /// (build name, SHA-256 of its image)
    images: Vec<(String, String)>,
    /// (path, SHA-256 of its content)
    inputs: Vec<(String, String)>,
}

fn parse(text: &str) -> Recording {
    let mut r = Recording {
        kver: String::new(),
        tree: Default::default(),
        images: Vec::new(),
        inputs: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let w: Vec<&str> = line.splitn(3, ' ').collect();
        match w[..] {
            ["kver", k] => r.kver = k.to_string(),
            ["tree", dir, sum] => r.tree = (dir.to_string(), sum.to_string()),
            ["image", name, sum] => r.images.push((name.to_string(), sum.to_string())),
            ["input", sum, path] => r.inputs.push((path.to_string(), sum.to_string())),
            _ => panic!("image-hashes.txt: unexpected line {line:?}"),
        }
    }
    assert!(
        !r.images.is_empty() && !r.kver.is_empty(),
        "empty recording"
    );
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `SHA256  path` line of every file under `dir`, as `find -type f -exec sha256sum`.
fn tree_lines(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(m) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if m.is_dir() {
            tree_lines(&e.path(), out);
        } else if m.is_file() {
            out.push(format!(
                "{}  {}\n",
                file_sha256(&e.path()),
                e.path().display()
            ));
        }
    }
}

/// The SHA-256 of the file at `path` in hex, or the error that stopped reading it.
fn file_sha256(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => hex(&Sha256::digest(bytes)),
        Err(e) => format!("unreadable ({e})"),
    }
}

fn tree_digest(dir: &str) -> String {
    let mut lines = Vec::new();
    tree_lines(Path::new(dir), &mut lines);
    lines.sort();
    hex(&Sha256::digest(lines.concat().as_bytes()))
}

/// Why the host differs from the recording, or `None` when the images must match.
fn host_differs(r: &Recording) -> Option<String> {
    if !have_kernel() {
        return Some("no kernel under /lib/modules".into());
    }
    if kver() != r.kver {
        return Some(format!("kernel {} here, {} recorded", kver(), r.kver));
    }
    if tree_digest(&r.tree.0) != r.tree.1 {
        return Some(format!("a file under {} changed", r.tree.0));
    }
    for (path, sum) in &r.inputs {
        match std::fs::read(path) {
            Ok(bytes) => {
                let here = hex(&Sha256::digest(bytes));
                if here != *sum {
                    return Some(format!("{path}: SHA-256 {here} here, {sum} recorded"));
                }
            }
            Err(e) => return Some(format!("{path}: {e}")),
        }
    }
    None
}

#[test]
fn every_image_is_byte_identical_to_the_recorded_one_when_the_host_is_the_same() {
    let text = std::fs::read_to_string(format!("{GOLDEN}/image-hashes.txt")).unwrap();
    let recording = parse(&text);
    if let Some(why) = host_differs(&recording) {
        println!(
            "image_hashes: compared nothing: the host's inputs differ from the recording \
             ({why}); record again with tests/golden/record-image-hashes.sh and a trusted binary"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let o = std::process::Command::new("sh")
        .arg(format!("{GOLDEN}/image-hashes-inputs.sh"))
        .arg(work.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let builds = std::fs::read_to_string(format!("{GOLDEN}/image-hashes-builds.txt")).unwrap();
    let mut compared = 0;
    let mut differ = Vec::new();
    for line in builds
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (name, profile, args) = (w[0], w[1], &w[2..]);
        let out = work.path().join(format!("{name}.img"));
        let o = srbuild()
            .args(["image", "--profile", profile, "-o", out.to_str().unwrap()])
            .args(args)
            .current_dir(work.path())
            .env("SOURCE_DATE_EPOCH", "0")
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let got = hex(&Sha256::digest(std::fs::read(&out).unwrap()));
        let want = recording
            .images
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
            .unwrap_or_else(|| panic!("{name} is not recorded; record again"));
        if got != want {
            differ.push(format!(
                "{name} ({profile} {}): {got}, recorded {want}",
                args.join(" ")
            ));
        }
        compared += 1;
    }
    assert_eq!(
        compared,
        recording.images.len(),
        "builds and recording disagree"
    );
    assert!(
        differ.is_empty(),
        "{} of {compared} images differ from the recording:\n{}",
        differ.len(),
        differ.join("\n")
    );
    println!("image_hashes: {compared} images byte-identical to the recording");
}

#[test]
fn another_host_is_told_apart_from_the_recording() {
    let text = std::fs::read_to_string(format!("{GOLDEN}/image-hashes.txt")).unwrap();
    let mut r = parse(&text);
    r.kver = "0.0.0-other".into();
    assert!(host_differs(&r).is_some());
    let mut r = parse(&text);
    r.inputs
        .push(("/nonexistent/lib.so".into(), "0".repeat(64)));
    let why = host_differs(&r).unwrap();
    // On the recording's own host the added input is the one difference; on any other
    // (another kernel, reinstalled modules) an earlier difference may be named first.
    let here = host_differs(&parse(&text));
    assert!(
        why.contains("/nonexistent/lib.so") || here.as_deref() == Some(why.as_str()),
        "{why} (this host against the recording: {here:?})"
    );
}
