//! Recognition of an image segment's format and streaming decoders for the
//! compressed ones. Each decoder reads from the shared [`Input`] and stops
//! exactly at the end of its stream, so whatever follows (padding, another
//! segment) is still there for the caller. Decoder failures come out as
//! `InvalidData` errors that name the format.

use std::io::{self, BufRead, Read};

use crate::compress::{LZ4_LEGACY_BLOCK, LZ4_LEGACY_MAGIC};
use crate::input::Input;

/// What a segment starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Cpio,
    Gzip,
    Zstd,
    Xz,
    Lz4,
    /// Recognised but unsupported (bzip2, lzma, lzo).
    Unsupported(&'static str),
    Unknown,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether `head` starts a zstd skippable frame (magic 0x184D2A50..=0x184D2A5F).
fn is_zstd_skippable(head: &[u8]) -> bool {
    head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18]
}

pub(crate) fn detect(data: &[u8]) -> Format {
    if data.starts_with(b"070701") || data.starts_with(b"070702") {
        Format::Cpio
    } else if data.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if data.starts_with(&ZSTD_MAGIC) || is_zstd_skippable(data) {
        Format::Zstd
    } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Format::Xz
    } else if data.starts_with(&LZ4_LEGACY_MAGIC.to_le_bytes()) {
        Format::Lz4
    } else if data.starts_with(b"BZh") {
        Format::Unsupported("bzip2")
    } else if data.starts_with(&[0x5d, 0x00, 0x00]) {
        Format::Unsupported("lzma")
    } else if data.starts_with(&[0x89, b'L', b'Z', b'O']) {
        Format::Unsupported("lzo")
    } else if data.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        Format::Unsupported("lz4-frame (use the legacy lz4 format, `lz4 -l`)")
    } else {
        Format::Unknown
    }
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Cpio => "cpio",
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
            Format::Xz => "xz",
            Format::Lz4 => "lz4",
            Format::Unsupported(name) => name,
            Format::Unknown => "unknown",
        }
    }
}

/// A streaming decoder for the compressed segment starting at the current
/// position of `input`. Reading it yields the decompressed bytes; its errors
/// have kind `InvalidData` and say which format failed.
pub(crate) fn decoder<'a, R: Read>(
    format: Format,
    input: &'a mut Input<R>,
) -> io::Result<Labeled<Box<dyn Read + 'a>>> {
    let inner: Box<dyn Read + 'a> = match format {
        Format::Gzip => Box::new(flate2::bufread::GzDecoder::new(input)),
        Format::Zstd => Box::new(ZstdFrames::new(input)?),
        Format::Xz => Box::new(XzStream::new(input)?),
        Format::Lz4 => Box::new(Lz4Legacy::new(input)),
        Format::Cpio | Format::Unsupported(_) | Format::Unknown => {
            return Err(io::Error::other("internal error: not a compressed format"))
        }
    };
    Ok(Labeled {
        inner,
        format: format.name(),
    })
}

/// Tags a decoder's errors with its format.
pub(crate) struct Labeled<D> {
    inner: D,
    format: &'static str,
}

impl<D: Read> Read for Labeled<D> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.inner.read(out).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} stream is corrupt or truncated ({e})", self.format),
            )
        })
    }
}

/// Memory the xz decoder may use (its dictionary), as `xz -9` needs.
pub(crate) const XZ_MEMLIMIT: u64 = 64 << 20;

/// Largest zstd window accepted when reading an image (2^25 = 32 MiB).
pub(crate) const ZSTD_WINDOW_LOG_MAX: u32 = 25;

type ZstdFrame<'a, R> = zstd::stream::read::Decoder<'static, &'a mut Input<R>>;

/// Consecutive zstd frames read as one stream, as the kernel reads them: a
/// frame that ends right before another frame's magic continues the data.
struct ZstdFrames<'a, R: Read> {
    frame: Option<ZstdFrame<'a, R>>,
}

impl<'a, R: Read> ZstdFrames<'a, R> {
    fn new(input: &'a mut Input<R>) -> io::Result<Self> {
        Ok(ZstdFrames {
            frame: Some(Self::frame(input)?),
        })
    }

    fn frame(input: &'a mut Input<R>) -> io::Result<ZstdFrame<'a, R>> {
        let mut d = zstd::stream::read::Decoder::with_buffer(input)?.single_frame();
        // A frame may ask for a window up to 32 MiB (zstd -19 uses 8 MiB); a
        // larger one is refused, which keeps a hostile image's memory bounded.
        d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
        Ok(d)
    }
}

impl<R: Read> Read for ZstdFrames<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(frame) = self.frame.as_mut() else {
                return Ok(0);
            };
            let got = frame.read(out)?;
            if got > 0 {
                return Ok(got);
            }
            let Some(frame) = self.frame.take() else {
                return Ok(0);
            };
            let input = frame.finish();
            let head = input.peek(4)?;
            if head == ZSTD_MAGIC || is_zstd_skippable(head) {
                self.frame = Some(Self::frame(input)?);
            }
        }
    }
}

/// One xz stream, driven through the raw decoder so that it stops at the
/// end of the stream instead of rejecting what follows.
struct XzStream<'a, R: Read> {
    input: &'a mut Input<R>,
    stream: xz2::stream::Stream,
    done: bool,
}

impl<'a, R: Read> XzStream<'a, R> {
    fn new(input: &'a mut Input<R>) -> io::Result<Self> {
        // 64 MiB covers `xz -9` (a 64 MiB dictionary); a stream asking for more is
        // refused, which keeps a hostile image's memory bounded.
        let stream = xz2::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(XzStream {
            input,
            stream,
            done: false,
        })
    }
}

impl<R: Read> Read for XzStream<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use xz2::stream::{Action, Status};
        while !self.done && !out.is_empty() {
            let pending = self.input.fill_buf()?;
            let action = if pending.is_empty() {
                Action::Finish
            } else {
                Action::Run
            };
            let (in_before, out_before) = (self.stream.total_in(), self.stream.total_out());
            let status = self
                .stream
                .process(pending, out, action)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let used = (self.stream.total_in() - in_before) as usize;
            let produced = (self.stream.total_out() - out_before) as usize;
            let was_empty = pending.is_empty();
            self.input.consume(used);
            if status == Status::StreamEnd {
                self.done = true;
            }
            if produced > 0 {
                return Ok(produced);
            }
            if was_empty && used == 0 && !self.done {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "input ended before the end of the stream",
                ));
            }
        }
        Ok(0)
    }
}

/// A legacy lz4 stream. The format has no end marker: the stream ends at the
/// end of input, or where the next word is not a plausible block length (zero
/// padding, or the start of an uncompressed cpio archive).
struct Lz4Legacy<'a, R: Read> {
    input: &'a mut Input<R>,
    block: Vec<u8>,
    start: usize,
    end: usize,
    done: bool,
}

impl<'a, R: Read> Lz4Legacy<'a, R> {
    fn new(input: &'a mut Input<R>) -> Self {
        input.consume(4); // the magic, checked by detect()
        Lz4Legacy {
            input,
            block: vec![0; LZ4_LEGACY_BLOCK],
            start: 0,
            end: 0,
            done: false,
        }
    }

    /// Decodes the next block into `self.block`; false at the end of the stream.
    fn next_block(&mut self) -> io::Result<bool> {
        let max_block = lz4_flex::block::get_maximum_output_size(LZ4_LEGACY_BLOCK);
        loop {
            let at = self.input.position();
            let word = self.input.peek(4)?;
            if word.len() < 4 {
                return Ok(false);
            }
            let len = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            if len == LZ4_LEGACY_MAGIC {
                // A new legacy stream simply continues this one (as in the kernel).
                self.input.consume(4);
                continue;
            }
            let len = len as usize;
            if len == 0 || len > max_block {
                return Ok(false);
            }
            let have = self.input.peek(4 + len)?.len();
            if have < 4 + len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "block at byte {at} is truncated ({len} bytes announced, {} present)",
                        have - 4
                    ),
                ));
            }
            let compressed = &self.input.peek(4 + len)?[4..];
            let n = lz4_flex::block::decompress_into(compressed, &mut self.block)
                .map_err(|e| io::Error::other(format!("block at byte {at} is corrupt ({e})")))?;
            self.input.consume(4 + len);
            self.start = 0;
            self.end = n;
            if n > 0 {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for Lz4Legacy<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end && (self.done || !self.next_block()?) {
            self.done = true;
            return Ok(0);
        }
        let n = (self.end - self.start).min(out.len());
        out[..n].copy_from_slice(&self.block[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}
