//! Hardened, streaming reading of images: the file is split into segments
//! (raw cpio or compressed streams, separated by zero padding) as it is read,
//! each member's newc header is parsed with bounds checks, and its body is
//! handed to the caller as a bounded reader. Memory stays bounded by one
//! header, one name, one symlink target and the I/O buffers, whatever the
//! image holds: the archive is never loaded whole.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::decompress::{decoder, detect, Format};
use crate::entry::{ListedEntry, S_IFLNK, S_IFMT};
use crate::error::ArchiveError;
use crate::input::Input;

/// Cap on the total decompressed size of one image (a bound on the time a
/// hostile image can take; memory is bounded by streaming).
pub const MAX_DECOMPRESSED: u64 = 64 << 30;
/// Largest accepted `c_namesize` (including the NUL).
const MAX_NAMESIZE: usize = 4096;
/// Largest symlink target, as the kernel's PATH_MAX.
const MAX_LINK: u64 = 4096;
const HEADER_LEN: usize = 110;
const TRAILER: &[u8] = b"TRAILER!!!";
/// Buffer between a decoder and the cpio parser.
const STREAM_BUFFER: usize = 256 * 1024;

/// One parsed cpio member's header, name and (for symlinks) target.
pub(crate) struct Member<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) ino: u32,
    pub(crate) mode: u32,
    pub(crate) nlink: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) dev: (u32, u32),
    pub(crate) rdev: (u32, u32),
    /// Body size from the header.
    pub(crate) size: u64,
    /// Body of a symlink (its target); empty for other types.
    pub(crate) link_target: &'a [u8],
    /// Segment of the image the member came from.
    pub(crate) segment: usize,
    /// Running index of the cpio archive (hardlinks only pair up within one).
    pub(crate) archive: usize,
}

impl Member<'_> {
    pub(crate) fn listed(&self) -> ListedEntry {
        ListedEntry {
            path: String::from_utf8_lossy(self.name).into_owned(),
            mode: self.mode,
            size: self.size,
            link_target: (self.mode & S_IFMT == S_IFLNK)
                .then(|| String::from_utf8_lossy(self.link_target).into_owned()),
            nlink: self.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: self.rdev,
            segment: self.segment,
        }
    }
}

/// What a visitor is called with: the member, and a reader over its body
/// (empty for symlinks, whose body is in [`Member::link_target`]). The
/// visitor may read the body or not; the rest is skipped after it returns.
pub(crate) type Visit<'v> = dyn FnMut(&Member<'_>, &mut dyn Read) -> Result<(), ArchiveError> + 'v;

/// Where the bytes being parsed live, for error messages.
#[derive(Clone, Copy)]
struct Place<'a> {
    image: &'a str,
    segment: usize,
    compressed: bool,
    /// Added to stream offsets in messages: where a raw segment starts in the file.
    base: u64,
}

impl Place<'_> {
    fn corrupt(&self, offset: u64, message: impl Into<String>) -> ArchiveError {
        ArchiveError::Corrupt {
            image: self.image.to_string(),
            location: if self.compressed {
                format!("the decompressed data of segment {}", self.segment)
            } else {
                format!("the image (segment {})", self.segment)
            },
            offset: self.base + offset,
            message: message.into(),
        }
    }

    fn truncated(&self, offset: u64, what: &str) -> ArchiveError {
        self.corrupt(offset, format!("{what} is truncated"))
    }
}

fn align4(n: u64) -> u64 {
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

/// A byte stream being parsed as cpio, with its offset from the start of the
/// segment (raw) or of the decompressed data (compressed). Alignment is
/// relative to that start, which accepts a raw archive appended at any offset.
struct Stream<'p, B> {
    inner: B,
    pos: u64,
    place: Place<'p>,
    image_path: &'p Path,
    /// Decompressed bytes allowed before the image counts as a bomb.
    budget: u64,
    limit: u64,
}

impl<B: BufRead> Stream<'_, B> {
    /// Maps a read error: decoder errors and I/O errors keep their cause, a
    /// short read is a truncation of `what`.
    fn read_err(&self, e: io::Error, at: u64, what: &str) -> ArchiveError {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => self.place.truncated(at, what),
            io::ErrorKind::InvalidData => self.place.corrupt(at, e.to_string()),
            _ => ArchiveError::ReadImage {
                path: self.image_path.to_path_buf(),
                source: e,
            },
        }
    }

    fn take_budget(&mut self, n: u64) -> Result<(), ArchiveError> {
        if !self.place.compressed {
            return Ok(());
        }
        self.budget = self.budget.checked_sub(n).ok_or(ArchiveError::TooLarge {
            image: self.place.image.to_string(),
            segment: self.place.segment,
            limit: self.limit,
        })?;
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], at: u64, what: &str) -> Result<(), ArchiveError> {
        self.take_budget(buf.len() as u64)?;
        self.inner
            .read_exact(buf)
            .map_err(|e| self.read_err(e, at, what))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// Discards `n` bytes.
    fn skip(&mut self, mut n: u64, at: u64, what: &str) -> Result<(), ArchiveError> {
        self.take_budget(n)?;
        while n > 0 {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a.len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_err(e, at, what)),
            };
            if avail == 0 {
                return Err(self.place.truncated(at, what));
            }
            let k = (avail as u64).min(n);
            self.inner.consume(k as usize);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }

    /// Skips zero padding; false at the end of the stream.
    fn skip_zeros(&mut self) -> Result<bool, ArchiveError> {
        loop {
            let at = self.pos;
            let (zeros, whole, empty) = match self.inner.fill_buf() {
                Ok(a) => {
                    let z = a.iter().take_while(|&&b| b == 0).count();
                    (z, z == a.len(), a.is_empty())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_err(e, at, "padding")),
            };
            if empty {
                return Ok(false);
            }
            self.take_budget(zeros as u64)?;
            self.inner.consume(zeros);
            self.pos += zeros as u64;
            if !whole {
                return Ok(true);
            }
        }
    }

    /// Parses one cpio archive, up to and including its trailer.
    fn archive(
        &mut self,
        archive: usize,
        name: &mut Vec<u8>,
        link: &mut Vec<u8>,
        visit: &mut Visit<'_>,
    ) -> Result<(), ArchiveError> {
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
        let mut h = [0u8; HEADER_LEN];
        let mut first = true;
        loop {
            let p = self.pos;
            let what = if first {
                "archive"
            } else {
                "archive (no TRAILER!!! record)"
            };
            if !first && self.inner.fill_buf().map(|b| b.is_empty()).unwrap_or(false) {
                return Err(self.place.truncated(p, what));
            }
            first = false;
            self.read_exact(&mut h, p, "cpio header")?;
            if &h[..6] != b"070701" && &h[..6] != b"070702" {
                return Err(self.place.corrupt(
                    p,
                    format!(
                        "bad cpio magic {:?} (expected 070701 or 070702)",
                        String::from_utf8_lossy(&h[..6])
                    ),
                ));
            }
            let mut f = [0u32; 13];
            for (i, slot) in f.iter_mut().enumerate() {
                *slot = hex_field(&h, i).ok_or_else(|| {
                    self.place.corrupt(
                        p + 6 + i as u64 * 8,
                        format!("non-hexadecimal {} field in cpio header", FIELDS[i]),
                    )
                })?;
            }
            let [ino, mode, uid, gid, nlink, _mtime, filesize, devmaj, devmin, rdevmaj, rdevmin, namesize, _check] =
                f;
            let namesize = namesize as usize;
            if namesize == 0 || namesize > MAX_NAMESIZE {
                return Err(self.place.corrupt(
                    p,
                    format!("invalid name size {namesize} (must be 1..={MAX_NAMESIZE})"),
                ));
            }
            name.resize(namesize, 0);
            self.read_exact(name, p, "entry name")?;
            if name[namesize - 1] != 0 {
                return Err(self.place.corrupt(p, "entry name is not NUL-terminated"));
            }
            name.truncate(namesize - 1);
            if name.contains(&0) {
                return Err(self.place.corrupt(p, "entry name contains a NUL byte"));
            }
            let pad = align4(self.pos) - self.pos;
            self.skip(pad, p, "entry name padding")?;
            let size = u64::from(filesize);
            if name.as_slice() == TRAILER {
                let pad = align4(self.pos + size) - self.pos;
                self.skip(pad, p, "trailer padding")?;
                return Ok(());
            }
            if name.is_empty() {
                return Err(self.place.corrupt(p, "entry has an empty name"));
            }
            let shown = || String::from_utf8_lossy(name).into_owned();
            link.clear();
            let is_link = mode & S_IFMT == S_IFLNK;
            if is_link {
                if size > MAX_LINK {
                    return Err(self.place.corrupt(
                        p,
                        format!(
                            "symlink {:?} has a target of {size} bytes, longer than PATH_MAX ({MAX_LINK})",
                            shown()
                        ),
                    ));
                }
                link.resize(size as usize, 0);
                let what = format!("symlink target of {:?}", shown());
                self.read_exact(link, p, &what)?;
            }
            let body_size = if is_link { 0 } else { size };
            self.take_budget(body_size)?;
            let member = Member {
                name: &name[..],
                ino,
                mode,
                nlink,
                uid,
                gid,
                dev: (devmaj, devmin),
                rdev: (rdevmaj, rdevmin),
                size,
                link_target: &link[..],
                segment: self.place.segment,
                archive,
            };
            let mut body = Body {
                inner: (&mut self.inner).take(body_size),
                failure: None,
            };
            let visited = visit(&member, &mut body);
            let failure = body.failure.take();
            let left = body.inner.limit();
            let read = body_size - left;
            self.pos += read;
            let data_at = self.pos;
            let what = format!("data of {:?}", String::from_utf8_lossy(name));
            if let Some(e) = failure {
                return Err(self.read_err(e, data_at, &what));
            }
            visited?;
            // The budget for the body was taken above.
            self.budget += left;
            self.skip(left, data_at, &what)?;
            let pad = align4(self.pos) - self.pos;
            self.skip(pad, self.pos, "entry data padding")?;
        }
    }
}

/// A member's body: a bounded reader that remembers a read failure, so the
/// parser can report it as a corrupt image rather than as the visitor's error.
struct Body<R> {
    inner: io::Take<R>,
    failure: Option<io::Error>,
}

impl<R: Read> Read for Body<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = out.len() as u64;
        let limit = self.inner.limit();
        match self.inner.read(out) {
            Ok(0) if want > 0 && limit > 0 => {
                let e = io::Error::new(io::ErrorKind::UnexpectedEof, "data ended early");
                self.failure = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                self.failure = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// Walks every member of every segment of the image read from `reader`.
pub(crate) fn walk_reader<R: Read>(
    reader: R,
    image: &str,
    image_path: &Path,
    limit: u64,
    visit: &mut Visit<'_>,
) -> Result<(), ArchiveError> {
    let mut input = Input::new(reader);
    let read_err = |source: io::Error| ArchiveError::ReadImage {
        path: image_path.to_path_buf(),
        source,
    };
    let mut segment = 0usize;
    let mut archive = 0usize;
    let mut budget = limit;
    let (mut name, mut link) = (Vec::new(), Vec::new());
    let mut any_data = false;
    loop {
        let zeros = input.skip_zeros().map_err(read_err)?;
        any_data |= zeros > 0;
        let start = input.position();
        let head = input.peek(6).map_err(read_err)?;
        if head.is_empty() {
            break;
        }
        any_data = true;
        let format = detect(head);
        let raw_place = Place {
            image,
            segment,
            compressed: false,
            base: start,
        };
        match format {
            Format::Cpio => {
                let mut s = Stream {
                    pos: 0,
                    inner: &mut input,
                    place: raw_place,
                    image_path,
                    budget,
                    limit,
                };
                s.archive(archive, &mut name, &mut link, visit)?;
                archive += 1;
            }
            Format::Unsupported(fmt) => {
                return Err(ArchiveError::Unsupported {
                    image: image.to_string(),
                    segment,
                    offset: start,
                    format: fmt,
                });
            }
            Format::Unknown => {
                let shown: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
                return Err(raw_place.corrupt(
                    0,
                    format!(
                        "unrecognised data (bytes {}): not a cpio archive nor a zstd, gzip, xz or lz4 stream",
                        shown.join(" ")
                    ),
                ));
            }
            Format::Gzip | Format::Zstd | Format::Xz | Format::Lz4 => {
                let dec = decoder(format, &mut input)
                    .map_err(|e| raw_place.corrupt(0, format!("cannot start decoder ({e})")))?;
                let mut s = Stream {
                    inner: BufReader::with_capacity(STREAM_BUFFER, dec),
                    pos: 0,
                    place: Place {
                        compressed: true,
                        base: 0,
                        ..raw_place
                    },
                    image_path,
                    budget,
                    limit,
                };
                let mut archives_here = 0usize;
                while s.skip_zeros()? {
                    s.archive(archive, &mut name, &mut link, visit)?;
                    archive += 1;
                    archives_here += 1;
                }
                budget = s.budget;
                drop(s);
                if archives_here == 0 {
                    return Err(raw_place.corrupt(
                        0,
                        "compressed stream holds no cpio archive (empty or truncated)",
                    ));
                }
                if input.position() == start {
                    return Err(raw_place.corrupt(0, "compressed stream consumed no input"));
                }
            }
        }
        segment += 1;
    }
    if segment == 0 {
        return Err(ArchiveError::Corrupt {
            image: image.to_string(),
            location: "the image".into(),
            offset: 0,
            message: if any_data {
                "only zero bytes, no cpio archive".into()
            } else {
                "the file is empty".into()
            },
        });
    }
    Ok(())
}

/// Opens an image file for streaming, refusing what is not a regular file
/// (a device such as /dev/zero would never end).
pub(crate) fn open_image(path: &Path) -> Result<File, ArchiveError> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO with no writer would block; on a regular file the flag
    // changes nothing, and anything else is refused right after.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| ArchiveError::ReadImage {
            path: path.to_path_buf(),
            source,
        })?;
    let meta = file.metadata().map_err(|source| ArchiveError::ReadImage {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(ArchiveError::NotAnImage {
            path: path.to_path_buf(),
        });
    }
    Ok(file)
}

/// Lists an in-memory image with a custom decompression cap.
pub(crate) fn list_with_limit(
    data: &[u8],
    image: &str,
    limit: u64,
) -> Result<Vec<ListedEntry>, ArchiveError> {
    let mut out = Vec::new();
    walk_reader(data, image, Path::new(image), limit, &mut |m, _| {
        out.push(m.listed());
        Ok(())
    })?;
    Ok(out)
}

/// Lists every member of an in-memory image (all segments).
pub fn list_bytes(data: &[u8]) -> Result<Vec<ListedEntry>, ArchiveError> {
    list_with_limit(data, "<in-memory image>", MAX_DECOMPRESSED)
}
