//! Recognition and bounded decompression of one compressed image segment,
//! reporting how many input bytes the stream consumed so the caller can go
//! on with whatever follows it.

use std::io::Read;

use crate::compress::{LZ4_LEGACY_BLOCK, LZ4_LEGACY_MAGIC};

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

pub(crate) fn detect(data: &[u8]) -> Format {
    if data.starts_with(b"070701") || data.starts_with(b"070702") {
        Format::Cpio
    } else if data.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
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

/// Why decompressing a segment failed.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// Output exceeded the allowed budget.
    TooLarge,
    /// The stream is corrupt or truncated.
    Corrupt(String),
}

/// Decompressed content and number of input bytes consumed.
pub(crate) struct Decoded {
    pub(crate) data: Vec<u8>,
    pub(crate) consumed: usize,
}

fn read_bounded(mut r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    (&mut r)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            DecodeError::Corrupt(format!("{what} stream is corrupt or truncated ({e})"))
        })?;
    if out.len() as u64 > limit {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

/// Decompresses the single stream of format `format` at the start of `input`,
/// producing at most `limit` bytes.
pub(crate) fn decode(format: Format, input: &[u8], limit: u64) -> Result<Decoded, DecodeError> {
    match format {
        Format::Gzip => {
            let mut dec = flate2::bufread::GzDecoder::new(input);
            let data = read_bounded(&mut dec, limit, "gzip")?;
            let rest = dec.into_inner();
            Ok(Decoded {
                data,
                consumed: input.len() - rest.len(),
            })
        }
        Format::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|e| DecodeError::Corrupt(format!("cannot start zstd decoder ({e})")))?
                .single_frame();
            let data = read_bounded(&mut dec, limit, "zstd")?;
            let rest = dec.finish();
            Ok(Decoded {
                data,
                consumed: input.len() - rest.len(),
            })
        }
        Format::Xz => decode_xz(input, limit),
        Format::Lz4 => decode_lz4_legacy(input, limit),
        Format::Cpio | Format::Unsupported(_) | Format::Unknown => Err(DecodeError::Corrupt(
            "internal error: not a compressed format".into(),
        )),
    }
}

/// Decodes one xz stream (the xz2 reader rejects data following a stream,
/// so this drives the raw decoder directly).
fn decode_xz(input: &[u8], limit: u64) -> Result<Decoded, DecodeError> {
    use xz2::stream::{Action, Status, Stream};
    let corrupt =
        |e: &dyn std::fmt::Display| DecodeError::Corrupt(format!("xz stream is corrupt ({e})"));
    let mut stream = Stream::new_stream_decoder(512 << 20, 0).map_err(|e| corrupt(&e))?;
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let consumed = usize::try_from(stream.total_in())
            .unwrap_or(input.len())
            .min(input.len());
        let pending = &input[consumed..];
        let out_before = stream.total_out();
        let action = if pending.is_empty() {
            Action::Finish
        } else {
            Action::Run
        };
        let status = stream
            .process(pending, &mut chunk, action)
            .map_err(|e| corrupt(&e))?;
        let produced = usize::try_from(stream.total_out() - out_before).unwrap_or(chunk.len());
        let produced = produced.min(chunk.len());
        if (data.len() + produced) as u64 > limit {
            return Err(DecodeError::TooLarge);
        }
        data.extend_from_slice(&chunk[..produced]);
        let progressed = produced > 0 || stream.total_in() as usize > consumed;
        if status == Status::StreamEnd {
            let consumed = usize::try_from(stream.total_in())
                .unwrap_or(input.len())
                .min(input.len());
            return Ok(Decoded { data, consumed });
        }
        if !progressed {
            return Err(DecodeError::Corrupt(
                "xz stream is truncated (input ended before the end of the stream)".into(),
            ));
        }
    }
}

/// Decodes a legacy lz4 stream. The format has no end marker: the stream
/// ends at the end of input, or where the next word is not a plausible block
/// length (zero padding, or the start of an uncompressed cpio archive).
fn decode_lz4_legacy(input: &[u8], limit: u64) -> Result<Decoded, DecodeError> {
    let max_block = lz4_flex::block::get_maximum_output_size(LZ4_LEGACY_BLOCK);
    let mut pos = 4; // magic, checked by detect()
    let mut data = Vec::new();
    let mut block = vec![0u8; LZ4_LEGACY_BLOCK];
    while let Some(word) = input.get(pos..pos + 4) {
        let len = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        if len == LZ4_LEGACY_MAGIC {
            // A new legacy stream simply continues this one (as in the kernel).
            pos += 4;
            continue;
        }
        let len = len as usize;
        if len == 0 || len > max_block {
            break;
        }
        let start = pos + 4;
        let Some(compressed) = input.get(start..start + len) else {
            return Err(DecodeError::Corrupt(format!(
                "lz4 block at byte {pos} of the stream is truncated ({len} bytes announced, {} present)",
                input.len() - start
            )));
        };
        let n = lz4_flex::block::decompress_into(compressed, &mut block).map_err(|e| {
            DecodeError::Corrupt(format!(
                "lz4 block at byte {pos} of the stream is corrupt ({e})"
            ))
        })?;
        if (data.len() + n) as u64 > limit {
            return Err(DecodeError::TooLarge);
        }
        data.extend_from_slice(&block[..n]);
        pos = start + len;
    }
    Ok(Decoded {
        data,
        consumed: pos,
    })
}
