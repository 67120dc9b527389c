//! `srbuild diff A.img B.img`: what differs between two images, path by path: added,
//! removed and changed entries (content, mode, type, link target, device), with the size
//! delta of each and the total. Both images are streamed; each regular file's body is
//! hashed (SHA-256) as it goes by, so memory holds one record per path, never a body.
//! Exit status as diff(1): 0 same, 1 different, 2 trouble.

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use srbuild_archive::{escape_name, for_each_entry_with_body, HardlinkKey};
use srbuild_builder::manifest::sha256_of;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  srbuild diff old.img new.img\n  srbuild diff old.img new.img --json > changes.json\n\nExit status: 0 when the images hold the same entries, 1 when they differ, 2 on trouble (an unreadable or corrupt image, a usage error). Modification times and inode numbers are not compared. Where an image holds a path twice (concatenated segments), the later entry counts, as when the kernel unpacks it."
)]
pub struct DiffArgs {
    /// The old image
    a: PathBuf,
    /// The new image
    b: PathBuf,
    /// Print the differences as JSON on stdout
    #[arg(long)]
    json: bool,
}

/// One entry of an image, as compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Record {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Octal permission bits, e.g. `0644`.
    mode: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
}

#[derive(Debug, Serialize)]
struct Added {
    path: String,
    #[serde(flatten)]
    record: Record,
}

#[derive(Debug, Serialize)]
struct Changed {
    path: String,
    /// What differs: `type`, `mode`, `content`, `target`, `device`.
    what: Vec<&'static str>,
    a: Record,
    b: Record,
    size_delta: i64,
}

#[derive(Debug, Serialize)]
struct Total {
    added: usize,
    removed: usize,
    changed: usize,
    /// Sum of the entries' sizes (uncompressed content).
    a_bytes: u64,
    b_bytes: u64,
    size_delta: i64,
    /// The image files as they are on disk (compressed).
    a_file_bytes: u64,
    b_file_bytes: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    a: String,
    b: String,
    same: bool,
    added: Vec<Added>,
    removed: Vec<Added>,
    changed: Vec<Changed>,
    total: Total,
}

/// Compares the images; `Ok(true)` when they hold the same entries.
pub fn run(a: DiffArgs) -> Result<bool> {
    let old = read_image(&a.a)?;
    let new = read_image(&a.b)?;
    let report = compare(&a.a, &a.b, &old, &new)?;
    let mut out = std::io::stdout().lock();
    let text = if a.json {
        let mut s = serde_json::to_string_pretty(&report).context("cannot render the diff")?;
        s.push('\n');
        s
    } else {
        human(&report)
    };
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e).context("cannot print the diff on stdout"),
    }
    Ok(report.same)
}

/// Every entry of the image at `path` by archive path, bodies hashed while streaming.
fn read_image(path: &Path) -> Result<BTreeMap<String, Record>> {
    let mut records: BTreeMap<String, Record> = BTreeMap::new();
    // Hardlinked members: newc stores the body on one of them; the others get its hash.
    let mut member_of: BTreeMap<String, HardlinkKey> = BTreeMap::new();
    let mut bodies: HashMap<HardlinkKey, (String, u64)> = HashMap::new();
    for_each_entry_with_body(path, |v, body| {
        let e = &v.entry;
        let kind = match e.mode & 0o170000 {
            0o100000 => "file",
            0o040000 => "dir",
            0o120000 => "symlink",
            0o020000 => "chardev",
            0o060000 => "blockdev",
            0o010000 => "fifo",
            0o140000 => "socket",
            _ => "unknown",
        };
        let mut r = Record {
            kind,
            mode: format!("{:04o}", e.mode & 0o7777),
            size: e.size,
            sha256: None,
            target: e.link_target.clone(),
            device: matches!(kind, "chardev" | "blockdev")
                .then(|| format!("{}:{}", e.rdev.0, e.rdev.1)),
        };
        if kind == "file" {
            let (sum, n) =
                sha256_of(body).map_err(|source| srbuild_archive::ArchiveError::ReadImage {
                    path: path.to_path_buf(),
                    source,
                })?;
            r.sha256 = Some(sum.clone());
            r.size = n;
            match v.hardlink {
                Some(k) => {
                    if n > 0 || !bodies.contains_key(&k) {
                        bodies.insert(k, (sum, n));
                    }
                    member_of.insert(e.path.clone(), k);
                }
                None => {
                    member_of.remove(&e.path);
                }
            }
        } else {
            member_of.remove(&e.path);
        }
        records.insert(e.path.clone(), r);
        Ok(())
    })
    .map_err(anyhow::Error::from)?;
    for (p, k) in member_of {
        if let (Some(r), Some((sum, n))) = (records.get_mut(&p), bodies.get(&k)) {
            r.sha256 = Some(sum.clone());
            r.size = *n;
        }
    }
    // The root entry "." (GNU cpio writes one) is not a path of the image.
    records.remove(".");
    Ok(records)
}

fn delta(a: u64, b: u64) -> i64 {
    (b as i128 - a as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn compare(
    pa: &Path,
    pb: &Path,
    old: &BTreeMap<String, Record>,
    new: &BTreeMap<String, Record>,
) -> Result<Report> {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (p, r) in old {
        match new.get(p) {
            None => removed.push(Added {
                path: p.clone(),
                record: r.clone(),
            }),
            Some(n) if n != r => {
                let mut what = Vec::new();
                if n.kind != r.kind {
                    what.push("type");
                }
                if n.mode != r.mode {
                    what.push("mode");
                }
                if n.sha256 != r.sha256 && n.kind == r.kind {
                    what.push("content");
                }
                if n.target != r.target && n.kind == r.kind {
                    what.push("target");
                }
                if n.device != r.device && n.kind == r.kind {
                    what.push("device");
                }
                changed.push(Changed {
                    path: p.clone(),
                    what,
                    size_delta: delta(r.size, n.size),
                    a: r.clone(),
                    b: n.clone(),
                });
            }
            Some(_) => {}
        }
    }
    for (p, r) in new {
        if !old.contains_key(p) {
            added.push(Added {
                path: p.clone(),
                record: r.clone(),
            });
        }
    }
    let a_bytes: u64 = old.values().map(|r| r.size).sum();
    let b_bytes: u64 = new.values().map(|r| r.size).sum();
    let file_len = |p: &Path| -> Result<u64> {
        Ok(std::fs::metadata(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .len())
    };
    let total = Total {
        added: added.len(),
        removed: removed.len(),
        changed: changed.len(),
        a_bytes,
        b_bytes,
        size_delta: delta(a_bytes, b_bytes),
        a_file_bytes: file_len(pa)?,
        b_file_bytes: file_len(pb)?,
    };
    Ok(Report {
        a: pa.display().to_string(),
        b: pb.display().to_string(),
        same: added.is_empty() && removed.is_empty() && changed.is_empty(),
        added,
        removed,
        changed,
        total,
    })
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

fn describe(r: &Record) -> String {
    let mut s = format!("{} {}", r.kind, r.mode);
    match (&r.target, &r.device) {
        (Some(t), _) => s.push_str(&format!(" -> {}", escape_name(t))),
        (None, Some(d)) => s.push_str(&format!(" {d}")),
        (None, None) if r.kind == "file" => s.push_str(&format!(", {} bytes", r.size)),
        (None, None) => {}
    }
    s
}

/// The human report: `+ path`, `- path`, `~ path` lines with their size deltas, then the
/// total.
fn human(r: &Report) -> String {
    let mut out = String::new();
    let mut lines: Vec<(String, String)> = Vec::new();
    for a in &r.added {
        lines.push((
            a.path.clone(),
            format!(
                "+ {} ({}) {}",
                escape_name(&a.path),
                describe(&a.record),
                signed(delta(0, a.record.size))
            ),
        ));
    }
    for a in &r.removed {
        lines.push((
            a.path.clone(),
            format!(
                "- {} ({}) {}",
                escape_name(&a.path),
                describe(&a.record),
                signed(delta(a.record.size, 0))
            ),
        ));
    }
    for c in &r.changed {
        let mut what = Vec::new();
        for w in &c.what {
            what.push(match *w {
                "type" => format!("type {} -> {}", c.a.kind, c.b.kind),
                "mode" => format!("mode {} -> {}", c.a.mode, c.b.mode),
                "target" => format!(
                    "target {} -> {}",
                    escape_name(c.a.target.as_deref().unwrap_or("")),
                    escape_name(c.b.target.as_deref().unwrap_or(""))
                ),
                "device" => format!(
                    "device {} -> {}",
                    c.a.device.as_deref().unwrap_or(""),
                    c.b.device.as_deref().unwrap_or("")
                ),
                other => other.to_string(),
            });
        }
        lines.push((
            c.path.clone(),
            format!(
                "~ {}: {} {}",
                escape_name(&c.path),
                what.join(", "),
                signed(c.size_delta)
            ),
        ));
    }
    lines.sort();
    for (_, l) in lines {
        out.push_str(&l);
        out.push('\n');
    }
    let t = &r.total;
    out.push_str(&format!(
        "total: {} added, {} removed, {} changed; content {} -> {} bytes ({}); image files {} -> {} bytes ({})\n",
        t.added,
        t.removed,
        t.changed,
        t.a_bytes,
        t.b_bytes,
        signed(t.size_delta),
        t.a_file_bytes,
        t.b_file_bytes,
        signed(delta(t.a_file_bytes, t.b_file_bytes)),
    ));
    out
}
