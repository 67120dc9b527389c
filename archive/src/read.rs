//! Hardened reading of images: splitting a file into segments (raw cpio or
//! compressed streams, separated by zero padding), a bounds-checked newc
//! header parser, and the listing functions built on them.

use std::path::Path;

use crate::decompress::{decode, detect, DecodeError, Format};
use crate::entry::{ListedEntry, S_IFLNK, S_IFMT};
use crate::error::ArchiveError;
use crate::output::read_whole;

/// Cap on the total decompressed size of one image.
pub const MAX_DECOMPRESSED: u64 = 4 << 30;
/// Largest accepted `c_namesize` (including the NUL).
const MAX_NAMESIZE: usize = 4096;
const HEADER_LEN: usize = 110;
const TRAILER: &[u8] = b"TRAILER!!!";

/// One parsed cpio member, borrowing its name and body from the input.
pub(crate) struct RawEntry<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) ino: u32,
    pub(crate) mode: u32,
    pub(crate) nlink: u32,
    pub(crate) dev: (u32, u32),
    pub(crate) rdev: (u32, u32),
    pub(crate) data: &'a [u8],
    /// Segment of the image the member came from.
    pub(crate) segment: usize,
    /// Running index of the cpio archive (hardlinks only pair up within one).
    pub(crate) archive: usize,
}

impl RawEntry<'_> {
    pub(crate) fn listed(&self) -> ListedEntry {
        ListedEntry {
            path: String::from_utf8_lossy(self.name).into_owned(),
            mode: self.mode,
            size: self.data.len() as u64,
            link_target: (self.mode & S_IFMT == S_IFLNK)
                .then(|| String::from_utf8_lossy(self.data).into_owned()),
            nlink: self.nlink,
            rdev: self.rdev,
            segment: self.segment,
        }
    }
}

/// Where in the image a buffer being parsed lives, for error messages.
struct Place<'a> {
    image: &'a str,
    segment: usize,
    /// Offset of the buffer start within the file (raw segments) or within
    /// the decompressed data (compressed segments).
    base: u64,
    compressed: bool,
}

impl Place<'_> {
    fn corrupt(&self, offset: usize, message: impl Into<String>) -> ArchiveError {
        ArchiveError::Corrupt {
            image: self.image.to_string(),
            location: if self.compressed {
                format!("the decompressed data of segment {}", self.segment)
            } else {
                format!("the image (segment {})", self.segment)
            },
            offset: self.base + offset as u64,
            message: message.into(),
        }
    }

    fn truncated(&self, offset: usize, what: &str) -> ArchiveError {
        self.corrupt(offset, format!("{what} is truncated"))
    }
}

fn align4(n: usize) -> usize {
    n.div_ceil(4).saturating_mul(4)
}

fn hex_field(h: &[u8], index: usize) -> Option<u32> {
    let start = 6 + index * 8;
    let field = h.get(start..start + 8)?;
    let mut v: u32 = 0;
    for &b in field {
        let d = (b as char).to_digit(16)?;
        v = (v << 4) | d;
    }
    Some(v)
}

/// Parses one cpio archive at the start of `buf`, up to and including its
/// trailer, calling `visit` for each member. Returns the bytes consumed.
fn parse_archive(
    buf: &[u8],
    place: &Place<'_>,
    archive: usize,
    visit: &mut dyn FnMut(&RawEntry<'_>) -> Result<(), ArchiveError>,
) -> Result<usize, ArchiveError> {
    const FIELDS: [&str; 13] = [
        "ino",
        "mode",
        "uid",
        "gid",
        "nlink",
        "mtime",
        "filesize",
        "devmajor",
        "devminor",
        "rdevmajor",
        "rdevminor",
        "namesize",
        "check",
    ];
    let mut p = 0usize;
    loop {
        let Some(h) = buf.get(p..p + HEADER_LEN) else {
            let what = if p >= buf.len() {
                "archive (no TRAILER!!! record)"
            } else {
                "cpio header"
            };
            return Err(place.truncated(p, what));
        };
        if &h[..6] != b"070701" && &h[..6] != b"070702" {
            return Err(place.corrupt(
                p,
                format!(
                    "bad cpio magic {:?} (expected 070701 or 070702)",
                    String::from_utf8_lossy(&h[..6])
                ),
            ));
        }
        let mut f = [0u32; 13];
        for (i, slot) in f.iter_mut().enumerate() {
            *slot = hex_field(h, i).ok_or_else(|| {
                place.corrupt(
                    p + 6 + i * 8,
                    format!("non-hexadecimal {} field in cpio header", FIELDS[i]),
                )
            })?;
        }
        let [ino, mode, _uid, _gid, nlink, _mtime, filesize, devmaj, devmin, rdevmaj, rdevmin, namesize, _check] =
            f;
        let namesize = namesize as usize;
        if namesize == 0 || namesize > MAX_NAMESIZE {
            return Err(place.corrupt(
                p,
                format!("invalid name size {namesize} (must be 1..={MAX_NAMESIZE})"),
            ));
        }
        let name_start = p + HEADER_LEN;
        let name_end = name_start + namesize;
        let Some(name_nul) = buf.get(name_start..name_end) else {
            return Err(place.truncated(p, "entry name"));
        };
        let name = &name_nul[..namesize - 1];
        if name_nul[namesize - 1] != 0 {
            return Err(place.corrupt(p, "entry name is not NUL-terminated"));
        }
        if name.contains(&0) {
            return Err(place.corrupt(p, "entry name contains a NUL byte"));
        }
        let data_start = align4(name_end);
        if data_start > buf.len() {
            return Err(place.truncated(p, "entry name padding"));
        }
        let size = filesize as usize;
        if size > buf.len() - data_start {
            return Err(place.corrupt(
                p,
                format!(
                    "file size {size} of {:?} is larger than the remaining {} bytes (truncated)",
                    String::from_utf8_lossy(name),
                    buf.len() - data_start
                ),
            ));
        }
        let data_end = data_start + size;
        let next = align4(data_end);
        if next > buf.len() {
            return Err(place.truncated(data_end, "entry data padding"));
        }
        if name == TRAILER {
            return Ok(next);
        }
        if name.is_empty() {
            return Err(place.corrupt(p, "entry has an empty name"));
        }
        visit(&RawEntry {
            name,
            ino,
            mode,
            nlink,
            dev: (devmaj, devmin),
            rdev: (rdevmaj, rdevmin),
            data: &buf[data_start..data_end],
            segment: place.segment,
            archive,
        })?;
        p = next;
    }
}

/// Walks every member of every segment of `data`, in order.
pub(crate) fn walk_image(
    data: &[u8],
    image: &str,
    limit: u64,
    visit: &mut dyn FnMut(&RawEntry<'_>) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let mut pos = 0usize;
    let mut segment = 0usize;
    let mut archive = 0usize;
    let mut budget = limit;
    while pos < data.len() {
        if data[pos] == 0 {
            pos += 1;
            continue;
        }
        let rest = &data[pos..];
        let format = detect(rest);
        let place = Place {
            image,
            segment,
            base: pos as u64,
            compressed: false,
        };
        match format {
            Format::Cpio => {
                pos += parse_archive(rest, &place, archive, visit)?;
                archive += 1;
            }
            Format::Unsupported(name) => {
                return Err(ArchiveError::Unsupported {
                    image: image.to_string(),
                    segment,
                    offset: pos as u64,
                    format: name,
                });
            }
            Format::Unknown => {
                let head: Vec<String> = rest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                return Err(place.corrupt(
                    0,
                    format!(
                        "unrecognised data (bytes {}): not a cpio archive nor a zstd, gzip, xz or lz4 stream",
                        head.join(" ")
                    ),
                ));
            }
            Format::Gzip | Format::Zstd | Format::Xz | Format::Lz4 => {
                let decoded = decode(format, rest, budget).map_err(|e| match e {
                    DecodeError::TooLarge => ArchiveError::TooLarge {
                        image: image.to_string(),
                        segment,
                        limit,
                    },
                    DecodeError::Corrupt(msg) => place.corrupt(0, msg),
                })?;
                budget -= decoded.data.len() as u64;
                let inner = Place {
                    image,
                    segment,
                    base: 0,
                    compressed: true,
                };
                let out = &decoded.data;
                let mut p = 0usize;
                let mut archives_here = 0usize;
                while p < out.len() {
                    if out[p] == 0 {
                        p += 1;
                        continue;
                    }
                    let sub = Place {
                        base: p as u64,
                        ..inner
                    };
                    p += parse_archive(&out[p..], &sub, archive, visit)?;
                    archive += 1;
                    archives_here += 1;
                }
                if archives_here == 0 {
                    return Err(place.corrupt(
                        0,
                        "compressed stream holds no cpio archive (empty or truncated)",
                    ));
                }
                if decoded.consumed == 0 {
                    return Err(place.corrupt(0, "compressed stream consumed no input"));
                }
                pos += decoded.consumed;
            }
        }
        segment += 1;
    }
    if segment == 0 {
        return Err(ArchiveError::Corrupt {
            image: image.to_string(),
            location: "the image".into(),
            offset: 0,
            message: if data.is_empty() {
                "the file is empty".into()
            } else {
                "only zero bytes, no cpio archive".into()
            },
        });
    }
    Ok(())
}

/// Lists an in-memory image with a custom decompression cap.
pub(crate) fn list_with_limit(
    data: &[u8],
    image: &str,
    limit: u64,
) -> Result<Vec<ListedEntry>, ArchiveError> {
    let mut out = Vec::new();
    walk_image(data, image, limit, &mut |e| {
        out.push(e.listed());
        Ok(())
    })?;
    Ok(out)
}

/// Lists every member of an in-memory image (all segments).
pub fn list_bytes(data: &[u8]) -> Result<Vec<ListedEntry>, ArchiveError> {
    list_with_limit(data, "<in-memory image>", MAX_DECOMPRESSED)
}

/// Lists every member of the image file at `path` (all segments).
pub fn list_image(path: &Path) -> Result<Vec<ListedEntry>, ArchiveError> {
    let data = read_whole(path)?;
    list_with_limit(&data, &path.display().to_string(), MAX_DECOMPRESSED)
}
