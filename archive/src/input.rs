//! [`Input`]: the image file as a buffered stream that can look ahead a few
//! bytes (to recognise a segment's format, or the next block of a legacy lz4
//! stream) and that counts the bytes consumed, for error messages. It never
//! holds more than its buffer: the reader streams the image, it does not load it.

use std::io::{self, BufRead, Read};

/// Default buffer size: large enough that decoders read in big chunks.
const BUFFER: usize = 256 * 1024;

/// A reader with look-ahead and a running position.
pub(crate) struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes consumed so far (offset of `buf[start]` in the whole input).
    pos: u64,
    eof: bool,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R) -> Self {
        Input {
            inner,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
        }
    }

    /// Offset of the next unread byte.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Up to `n` bytes ahead, without consuming them; fewer only at the end
    /// of the input. Grows the buffer when `n` exceeds it.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.start < n && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() < n {
                self.buf.resize(n, 0);
            }
            while self.end < n {
                let got = match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(got) => got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if got == 0 {
                    self.eof = true;
                    break;
                }
                self.end += got;
            }
        }
        let have = (self.end - self.start).min(n);
        Ok(&self.buf[self.start..self.start + have])
    }

    /// Consumes the zero bytes at the current position (padding between
    /// segments), returning how many there were.
    pub(crate) fn skip_zeros(&mut self) -> io::Result<u64> {
        let mut skipped = 0u64;
        loop {
            let avail = self.fill_buf()?;
            if avail.is_empty() {
                return Ok(skipped);
            }
            let zeros = avail.iter().take_while(|&&b| b == 0).count();
            let whole = zeros == avail.len();
            self.consume(zeros);
            skipped += zeros as u64;
            if !whole {
                return Ok(skipped);
            }
        }
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end && out.len() >= self.buf.len() {
            // Large reads bypass the buffer.
            let got = self.inner.read(out)?;
            self.pos += got as u64;
            return Ok(got);
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && !self.eof {
            self.start = 0;
            self.end = 0;
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(got) => {
                        self.end = got;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per call, to exercise refills.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || out.is_empty() {
                return Ok(0);
            }
            out[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn peek_gathers_across_short_reads_and_consume_counts() {
        let data = b"\x00\x00\x00\x00070701rest";
        let mut i = Input::new(Trickle(data));
        assert_eq!(i.skip_zeros().unwrap(), 4);
        assert_eq!(i.position(), 4);
        assert_eq!(i.peek(6).unwrap(), b"070701");
        let mut all = Vec::new();
        i.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"070701rest");
        assert_eq!(i.position(), data.len() as u64);
        assert_eq!(i.peek(4).unwrap(), b"");
    }

    #[test]
    fn peek_beyond_the_buffer_grows_it() {
        let data = vec![7u8; BUFFER * 2 + 3];
        let mut i = Input::new(&data[..]);
        i.consume(0);
        assert_eq!(i.peek(5).unwrap().len(), 5);
        assert_eq!(i.peek(BUFFER + 10).unwrap().len(), BUFFER + 10);
        assert_eq!(i.peek(data.len() + 100).unwrap().len(), data.len());
    }
}
