//! Compression of the cpio stream: the [`Compression`] choice and the
//! encoders (zstd through [`crate::zstd_mt`], gzip, xz with CRC32, legacy lz4
//! framing, none) that wrap an output writer.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use crate::error::ArchiveError;
use crate::zstd_mt::ZstdMt;

/// Magic number of the legacy lz4 format (`lz4 -l`), little-endian on disk.
pub(crate) const LZ4_LEGACY_MAGIC: u32 = 0x184C_2102;
/// Uncompressed size of one legacy lz4 block.
pub(crate) const LZ4_LEGACY_BLOCK: usize = 8 << 20;

/// The zstd level of images (zstd's own default).
pub const ZSTD_LEVEL: i32 = 3;
/// zstd's worker threads for images. The output does not depend on it (zstd's
/// multithreaded output is the same for any number of workers), only the time does.
pub const ZSTD_WORKERS: u32 = 2;

/// Compression applied to the cpio archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// zstd, level 3, two worker threads.
    #[default]
    Zstd,
    /// gzip, level 6.
    Gzip,
    /// xz with CRC32 check (what the kernel's decoder supports).
    Xz,
    /// lz4 legacy format (`lz4 -l`), as the kernel requires.
    Lz4,
    /// Raw cpio.
    None,
}

impl Compression {
    /// All variants, in their canonical order.
    pub const ALL: [Compression; 5] = [
        Compression::Zstd,
        Compression::Gzip,
        Compression::Xz,
        Compression::Lz4,
        Compression::None,
    ];

    fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
            Compression::None => "none",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown compression name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression {0:?}; use one of zstd, gzip, xz, lz4, none")]
pub struct ParseCompressionError(pub String);

impl FromStr for Compression {
    type Err = ParseCompressionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseCompressionError(s.to_string()))
    }
}

/// Runs `body` with a writer that compresses into `out`, then finishes the
/// compressed stream. Errors from `out` are reported as output errors with
/// the placeholder path `"<output>"` (the caller substitutes the real one).
pub(crate) fn compress_into<W: Write, T>(
    compression: Compression,
    out: W,
    body: impl FnOnce(&mut dyn Write) -> Result<T, ArchiveError>,
) -> Result<T, ArchiveError> {
    let fail = |e: io::Error| ArchiveError::output("<output>", e);
    match compression {
        Compression::None => {
            let mut out = out;
            body(&mut out)
        }
        Compression::Zstd => {
            let mut enc = ZstdMt::new(out, ZSTD_LEVEL, ZSTD_WORKERS).map_err(fail)?;
            let value = body(&mut enc)?;
            enc.finish().map_err(fail)?;
            Ok(value)
        }
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(6));
            let value = body(&mut enc)?;
            enc.finish().map_err(fail)?;
            Ok(value)
        }
        Compression::Xz => {
            let stream = xz2::stream::Stream::new_easy_encoder(6, xz2::stream::Check::Crc32)
                .map_err(|e| fail(io::Error::other(e)))?;
            let mut enc = xz2::write::XzEncoder::new_stream(out, stream);
            let value = body(&mut enc)?;
            enc.finish().map_err(fail)?;
            Ok(value)
        }
        Compression::Lz4 => {
            let mut enc = Lz4LegacyWriter::new(out).map_err(fail)?;
            let value = body(&mut enc)?;
            enc.finish().map_err(fail)?;
            Ok(value)
        }
    }
}

/// Writer producing the legacy lz4 format: the magic, then blocks of
/// `[u32 LE compressed length][lz4 block]`, each holding up to 8 MiB of input.
pub(crate) struct Lz4LegacyWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Lz4LegacyWriter<W> {
    pub(crate) fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(&LZ4_LEGACY_MAGIC.to_le_bytes())?;
        Ok(Self {
            inner,
            pending: Vec::new(),
        })
    }

    fn emit_block(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let block = lz4_flex::block::compress(&self.pending);
        let len = u32::try_from(block.len())
            .map_err(|_| io::Error::other("lz4 block larger than 4 GiB"))?;
        self.inner.write_all(&len.to_le_bytes())?;
        self.inner.write_all(&block)?;
        self.pending.clear();
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.emit_block()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Lz4LegacyWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = LZ4_LEGACY_BLOCK - self.pending.len();
        let n = room.min(buf.len());
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == LZ4_LEGACY_BLOCK {
            self.emit_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Blocks are only emitted when full (or at finish) so that the output
        // does not depend on how the caller chunks its writes.
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Compression::ALL {
            assert_eq!(c.to_string().parse::<Compression>(), Ok(c));
        }
        assert_eq!("ZSTD".parse::<Compression>(), Ok(Compression::Zstd));
        assert!("bzip2".parse::<Compression>().is_err());
        assert_eq!(Compression::default(), Compression::Zstd);
    }

    #[test]
    fn lz4_legacy_framing() {
        let data: Vec<u8> = (0..(LZ4_LEGACY_BLOCK + 1000))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut w = Lz4LegacyWriter::new(Vec::new()).unwrap();
        w.write_all(&data).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(&out[..4], &[0x02, 0x21, 0x4c, 0x18]);
        // Two blocks: decode them by hand.
        let mut pos = 4;
        let mut decoded = Vec::new();
        while pos < out.len() {
            let len = u32::from_le_bytes(out[pos..pos + 4].try_into().unwrap()) as usize;
            pos += 4;
            decoded.extend(
                lz4_flex::block::decompress(&out[pos..pos + len], LZ4_LEGACY_BLOCK).unwrap(),
            );
            pos += len;
        }
        assert_eq!(decoded, data);
    }
}
