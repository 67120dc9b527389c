//! `srbuild diff A.img B.img`: what differs between the trees two images leave in rootfs
//! when the kernel unpacks them (`srbuild_archive::unpacked`: every spelling of a path is the
//! file the kernel writes, a later entry wins), path by path: added, removed and changed
//! entries (type, mode, owner, group, content, link target, device), with the size delta of
//! each and the total. Exit status as diff(1): 0 same, 1 different, 2 trouble.
//!
//! **Memory bound:** both images are streamed and each body hashed as it goes by; what is
//! kept is the two unpacked trees, about 150 bytes plus the path's and the link target's
//! length per member of each image, over a fixed 5 MiB (decoders, buffers). The report is
//! written while the two sorted trees are walked side by side, never collected: two images
//! of 100,000 entries each take 34 MiB of RSS (87 MiB before this bound; `tests/diff.rs`
//! checks 64 MiB).
//!
//! Secrets (`srbuild_archive::secret`, and every hardlink of one) are compared like any
//! file, but no output shows their hash: they are marked `"secret": true`.

use anyhow::{Context, Result};
use clap::Args;
use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use srbuild_archive::escape_name;
use srbuild_archive::unpacked::{unpack_tree, Inode, Tree};
use std::cmp::Ordering;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  srbuild diff old.img new.img\n  srbuild diff old.img new.img --json > changes.json\n\nExit status: 0 when the images unpack to the same tree, 1 when they differ, 2 on trouble (an unreadable or corrupt image, a usage error).\n\nThe trees compared are those the kernel leaves in rootfs: every spelling of a path (`./etc/passwd`, `/etc//passwd`, `lib/x` through a link `lib -> usr/lib`) is the file it names, and where an image writes a path twice the later entry wins. Compared: type, mode, owner, group, content (SHA-256), link target, device numbers. Not compared: modification times, inode numbers. The root is shown as `.`. A secret (the corosync authkey) is compared, but its hash is never shown."
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

/// One image's unpacked tree and which of its inodes hold secrets.
struct Side {
    tree: Tree,
    secret: HashSet<u32>,
    file_bytes: u64,
}

fn read_side(path: &Path) -> Result<Side> {
    let tree = unpack_tree(path)?;
    let secret = tree
        .iter()
        .filter(|(p, _)| srbuild_archive::secret::is_secret(&String::from_utf8_lossy(p)))
        .filter_map(|(p, _)| tree.index(p))
        .collect();
    let file_bytes = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    Ok(Side {
        tree,
        secret,
        file_bytes,
    })
}

fn kind(n: &Inode) -> &'static str {
    match n.file_type() {
        0o100000 => "file",
        0o040000 => "dir",
        0o120000 => "symlink",
        0o020000 => "chardev",
        0o060000 => "blockdev",
        0o010000 => "fifo",
        0o140000 => "socket",
        _ => "unknown",
    }
}

fn shown_path(p: &[u8]) -> String {
    if p.is_empty() {
        ".".into()
    } else {
        String::from_utf8_lossy(p).into_owned()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One entry as shown.
#[derive(Debug, Serialize)]
struct Record {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Octal permission bits, e.g. `0644`.
    mode: String,
    uid: u32,
    gid: u32,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    secret: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
}

fn record(n: &Inode, secret: bool) -> Record {
    let kind = kind(n);
    Record {
        kind,
        mode: format!("{:04o}", n.mode & 0o7777),
        uid: n.uid,
        gid: n.gid,
        size: n.size,
        sha256: (kind == "file" && !secret).then(|| hex(&n.sha256)),
        secret,
        target: n
            .target
            .as_deref()
            .map(|t| String::from_utf8_lossy(t).into_owned()),
        device: matches!(kind, "chardev" | "blockdev")
            .then(|| format!("{}:{}", n.rdev.0, n.rdev.1)),
    }
}

/// What differs between two inodes at one path, in report order.
fn what_differs(a: &Inode, b: &Inode) -> Vec<&'static str> {
    let mut what = Vec::new();
    let same_type = a.file_type() == b.file_type();
    if !same_type {
        what.push("type");
    }
    if a.mode & 0o7777 != b.mode & 0o7777 {
        what.push("mode");
    }
    if a.uid != b.uid {
        what.push("uid");
    }
    if a.gid != b.gid {
        what.push("gid");
    }
    if same_type && (a.sha256 != b.sha256 || a.size != b.size) && a.file_type() == 0o100000 {
        what.push("content");
    }
    if same_type && a.target != b.target {
        what.push("target");
    }
    if same_type && a.rdev != b.rdev {
        what.push("device");
    }
    what
}

/// One difference, borrowed from the trees.
enum Change<'t> {
    Added(&'t [u8], Record),
    Removed(&'t [u8], Record),
    Changed(&'t [u8], Vec<&'static str>, Record, Record),
}

/// The differences in path order: a merge of the two sorted trees.
fn changes<'t>(a: &'t Side, b: &'t Side) -> impl Iterator<Item = Change<'t>> + 't {
    let mut ia = a.tree.iter().peekable();
    let mut ib = b.tree.iter().peekable();
    let secret = |s: &Side, p: &[u8]| s.tree.index(p).is_some_and(|i| s.secret.contains(&i));
    std::iter::from_fn(move || loop {
        let next = match (ia.peek(), ib.peek()) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => pa.cmp(pb),
        };
        match next {
            Ordering::Less => {
                let (p, n) = ia.next()?;
                return Some(Change::Removed(p, record(n, secret(a, p))));
            }
            Ordering::Greater => {
                let (p, n) = ib.next()?;
                return Some(Change::Added(p, record(n, secret(b, p))));
            }
            Ordering::Equal => {
                let ((p, na), (_, nb)) = (ia.next()?, ib.next()?);
                let what = what_differs(na, nb);
                if !what.is_empty() {
                    return Some(Change::Changed(
                        p,
                        what,
                        record(na, secret(a, p)),
                        record(nb, secret(b, p)),
                    ));
                }
            }
        }
    })
}

fn delta(a: u64, b: u64) -> i64 {
    (b as i128 - a as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[derive(Debug, Default, Serialize)]
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

fn total(a: &Side, b: &Side) -> Total {
    let mut t = Total {
        a_bytes: a.tree.iter().map(|(_, n)| n.size).sum(),
        b_bytes: b.tree.iter().map(|(_, n)| n.size).sum(),
        a_file_bytes: a.file_bytes,
        b_file_bytes: b.file_bytes,
        ..Total::default()
    };
    t.size_delta = delta(t.a_bytes, t.b_bytes);
    for c in changes(a, b) {
        match c {
            Change::Added(..) => t.added += 1,
            Change::Removed(..) => t.removed += 1,
            Change::Changed(..) => t.changed += 1,
        }
    }
    t
}

/// The JSON report, serialized while the trees are walked (three walks, one per list).
struct Report<'t> {
    a: &'t Path,
    b: &'t Path,
    sa: &'t Side,
    sb: &'t Side,
    total: Total,
}

#[derive(Serialize)]
struct Listed {
    path: String,
    #[serde(flatten)]
    record: Record,
}

#[derive(Serialize)]
struct Changed {
    path: String,
    /// What differs: `type`, `mode`, `uid`, `gid`, `content`, `target`, `device`.
    what: Vec<&'static str>,
    a: Record,
    b: Record,
    size_delta: i64,
}

/// A JSON list written item by item from a fresh walk.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

impl Serialize for Report<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (sa, sb) = (self.sa, self.sb);
        let t = &self.total;
        let mut st = s.serialize_struct("Report", 7)?;
        st.serialize_field("a", &self.a.display().to_string())?;
        st.serialize_field("b", &self.b.display().to_string())?;
        st.serialize_field("same", &(t.added + t.removed + t.changed == 0))?;
        st.serialize_field(
            "added",
            &Seq(|| {
                changes(sa, sb).filter_map(|c| match c {
                    Change::Added(p, r) => Some(Listed {
                        path: shown_path(p),
                        record: r,
                    }),
                    _ => None,
                })
            }),
        )?;
        st.serialize_field(
            "removed",
            &Seq(|| {
                changes(sa, sb).filter_map(|c| match c {
                    Change::Removed(p, r) => Some(Listed {
                        path: shown_path(p),
                        record: r,
                    }),
                    _ => None,
                })
            }),
        )?;
        st.serialize_field(
            "changed",
            &Seq(|| {
                changes(sa, sb).filter_map(|c| match c {
                    Change::Changed(p, what, ra, rb) => Some(Changed {
                        path: shown_path(p),
                        what,
                        size_delta: delta(ra.size, rb.size),
                        a: ra,
                        b: rb,
                    }),
                    _ => None,
                })
            }),
        )?;
        st.serialize_field("total", t)?;
        st.end()
    }
}

/// Compares the images; `Ok(true)` when they unpack to the same tree.
pub fn run(a: DiffArgs) -> Result<bool> {
    let sa = read_side(&a.a)?;
    let sb = read_side(&a.b)?;
    let total = total(&sa, &sb);
    let same = total.added + total.removed + total.changed == 0;
    let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let written = if a.json {
        let report = Report {
            a: &a.a,
            b: &a.b,
            sa: &sa,
            sb: &sb,
            total,
        };
        let mut out = out;
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
            .and_then(|_| out.flush())
    } else {
        human(out, &sa, &sb, &total)
    };
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e).context("cannot print the diff on stdout"),
    }
    Ok(same)
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

fn describe(r: &Record) -> String {
    let mut s = format!("{} {} {}:{}", r.kind, r.mode, r.uid, r.gid);
    match (&r.target, &r.device) {
        (Some(t), _) => s.push_str(&format!(" -> {}", escape_name(t))),
        (None, Some(d)) => s.push_str(&format!(" {d}")),
        (None, None) if r.kind == "file" => s.push_str(&format!(", {} bytes", r.size)),
        (None, None) => {}
    }
    if r.secret {
        s.push_str(", secret");
    }
    s
}

/// The human report: `+ path`, `- path`, `~ path` lines in path order with their size
/// deltas, then the total.
fn human(mut out: impl Write, a: &Side, b: &Side, t: &Total) -> std::io::Result<()> {
    for c in changes(a, b) {
        match c {
            Change::Added(p, r) => writeln!(
                out,
                "+ {} ({}) {}",
                escape_name(&shown_path(p)),
                describe(&r),
                signed(delta(0, r.size))
            )?,
            Change::Removed(p, r) => writeln!(
                out,
                "- {} ({}) {}",
                escape_name(&shown_path(p)),
                describe(&r),
                signed(delta(r.size, 0))
            )?,
            Change::Changed(p, what, ra, rb) => {
                let shown: Vec<String> = what
                    .iter()
                    .map(|w| match *w {
                        "type" => format!("type {} -> {}", ra.kind, rb.kind),
                        "mode" => format!("mode {} -> {}", ra.mode, rb.mode),
                        "uid" => format!("uid {} -> {}", ra.uid, rb.uid),
                        "gid" => format!("gid {} -> {}", ra.gid, rb.gid),
                        "target" => format!(
                            "target {} -> {}",
                            escape_name(ra.target.as_deref().unwrap_or("")),
                            escape_name(rb.target.as_deref().unwrap_or(""))
                        ),
                        "device" => format!(
                            "device {} -> {}",
                            ra.device.as_deref().unwrap_or(""),
                            rb.device.as_deref().unwrap_or("")
                        ),
                        "content" if ra.secret || rb.secret => "content (secret)".into(),
                        other => other.to_string(),
                    })
                    .collect();
                writeln!(
                    out,
                    "~ {}: {} {}",
                    escape_name(&shown_path(p)),
                    shown.join(", "),
                    signed(delta(ra.size, rb.size))
                )?
            }
        }
    }
    writeln!(
        out,
        "total: {} added, {} removed, {} changed; content {} -> {} bytes ({}); image files {} -> {} bytes ({})",
        t.added,
        t.removed,
        t.changed,
        t.a_bytes,
        t.b_bytes,
        signed(t.size_delta),
        t.a_file_bytes,
        t.b_file_bytes,
        signed(delta(t.a_file_bytes, t.b_file_bytes)),
    )?;
    out.flush()
}
