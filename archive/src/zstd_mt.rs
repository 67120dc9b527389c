//! The zstd encoder of images: multithreaded zstd whose `flush` ends the current job
//! without waiting for it ([`ZstdMt`]).
//!
//! The cpio writer flushes after every padded member, and in multithreaded zstd a flush
//! ends a job. The zstd crate's encoder also *waits* at each flush until that job is
//! compressed and written, so its two workers never ran side by side and no file was read
//! while a worker compressed. Here a flush fixes the job's end and returns; the workers
//! compress while the next members are read, and their output is taken as it comes.
//!
//! The bytes are those of the waiting encoder. zstd's multithreaded output depends only on
//! where its jobs end (each job is compressed from its own input and the tail of the one
//! before), not on timing or the number of workers. A job ends where its input reaches
//! [`JOB_SIZE`] and where a flush finds input pending. This writer counts those ends
//! itself, and a flush returns only once zstd has started as many jobs: until then, input
//! written after the flush could join the job before it (zstd keeps a job's input while
//! its job table is full). A count that disagrees with zstd's is an error, never a
//! different image.
//!
//! Not waiting needs two things from `ZSTD_compressStream2`: a flush call with no room
//! for output returns after one pass, and one that takes new input does not block for
//! the oldest job. So the last byte of every write is held back and handed over with the
//! flush.

use std::io::{self, Write};

use zstd::zstd_safe::{zstd_sys::ZSTD_EndDirective, CCtx, CParameter, InBuffer, OutBuffer};

/// zstd's own job size at level 3 (`1 << (windowLog 21 + 2)`), set explicitly so that the
/// writer knows where jobs end for size. Setting the default changes nothing in the output
/// (the tests compare with zstd's own encoder).
pub(crate) const JOB_SIZE: u32 = 8 << 20;

/// Compressed output is gathered here and written in pieces of about this size.
const OUT_BUF: usize = 1 << 20;

fn zerr(code: usize) -> io::Error {
    io::Error::other(format!("zstd: {}", zstd::zstd_safe::get_error_name(code)))
}

fn miscount(what: &str) -> io::Error {
    io::Error::other(format!(
        "zstd: {what}; srbuild counts zstd's jobs to write reproducible images (a zstd \
         version whose jobs end elsewhere?)"
    ))
}

/// A multithreaded zstd frame writer; see the module documentation.
pub(crate) struct ZstdMt<W: Write> {
    cctx: CCtx<'static>,
    out: W,
    buf: Vec<u8>,
    /// The last byte written, not handed to zstd yet (see the module documentation).
    held: Option<u8>,
    /// Input bytes of the job being filled (zstd's `inBuff.filled`), as counted here.
    filled: u64,
    /// Jobs whose end is fixed, as counted here.
    jobs: u64,
    /// zstd has been called: the frame has begun.
    begun: bool,
}

impl<W: Write> ZstdMt<W> {
    pub(crate) fn new(out: W, level: i32, workers: u32) -> io::Result<Self> {
        let mut cctx = CCtx::try_create().ok_or_else(|| io::Error::other("zstd: no memory"))?;
        for p in [
            CParameter::CompressionLevel(level),
            CParameter::NbWorkers(workers.max(1)),
            CParameter::JobSize(JOB_SIZE),
        ] {
            cctx.set_parameter(p).map_err(zerr)?;
        }
        Ok(ZstdMt {
            cctx,
            out,
            buf: Vec::with_capacity(OUT_BUF),
            held: None,
            filled: 0,
            jobs: 0,
            begun: false,
        })
    }

    /// One call of `ZSTD_compressStream2`, its output into `buf` (or, without `room`,
    /// nowhere: zstd then only takes input and starts jobs). Counts the jobs that input
    /// filled. Returns zstd's hint: 0 when nothing is left to write out.
    fn step(
        &mut self,
        input: &mut InBuffer<'_>,
        op: ZSTD_EndDirective,
        room: bool,
    ) -> io::Result<usize> {
        let before = input.pos();
        self.begun = true;
        let hint = if room {
            if self.buf.capacity() - self.buf.len() < CCtx::out_size() {
                self.out.write_all(&self.buf)?;
                self.buf.clear();
            }
            let at = self.buf.len();
            let mut out = OutBuffer::around_pos(&mut self.buf, at);
            self.cctx.compress_stream2(&mut out, input, op)
        } else {
            let mut none: [u8; 0] = [];
            let mut out = OutBuffer::around(&mut none[..]);
            self.cctx.compress_stream2(&mut out, input, op)
        }
        .map_err(zerr)?;
        // zstd takes input at most up to the end of the job being filled, and ends the
        // job as soon as it is full.
        self.filled += (input.pos() - before) as u64;
        match self.filled.cmp(&u64::from(JOB_SIZE)) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => {
                self.filled = 0;
                self.jobs += 1;
            }
            std::cmp::Ordering::Greater => return Err(miscount("a job grew past its size")),
        }
        Ok(hint)
    }

    /// Hands all of `data` to zstd.
    fn feed(&mut self, data: &[u8]) -> io::Result<()> {
        let mut input = InBuffer::around(data);
        while input.pos() < data.len() {
            self.step(&mut input, ZSTD_EndDirective::ZSTD_e_continue, true)?;
        }
        Ok(())
    }

    /// Jobs zstd has handed to its workers.
    fn started(&self) -> u64 {
        u64::from(self.cctx.get_frame_progression().currentJobID)
    }

    /// Takes the oldest job's output (waiting for some, if it has none yet), which frees
    /// its place once it is all taken. `false` when zstd had nothing to give.
    fn take_output(&mut self) -> io::Result<bool> {
        let before = (self.buf.len(), self.started());
        let hint = self.step(
            &mut InBuffer::around(&[]),
            ZSTD_EndDirective::ZSTD_e_continue,
            true,
        )?;
        Ok(hint != 0 || (self.buf.len(), self.started()) != before)
    }

    /// Ends the frame and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if let Some(b) = self.held.take() {
            self.feed(&[b])?;
        }
        let mut empty = InBuffer::around(&[]);
        while self.step(&mut empty, ZSTD_EndDirective::ZSTD_e_end, true)? != 0 {}
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ZstdMt<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some((&last, rest)) = data.split_last() else {
            return Ok(0);
        };
        if let Some(b) = self.held.take() {
            self.feed(&[b])?;
        }
        self.feed(rest)?;
        self.held = Some(last);
        Ok(data.len())
    }

    /// Ends the current job here, as zstd's own flush does, without waiting for it.
    fn flush(&mut self) -> io::Result<()> {
        let Some(b) = self.held.take() else {
            // Nothing written since the last flush: zstd's flush would end no job either,
            // but a flush before anything else starts a multithreaded frame (zstd's end
            // alone would compress an empty frame in one piece).
            if !self.begun {
                self.step(
                    &mut InBuffer::around(&[]),
                    ZSTD_EndDirective::ZSTD_e_flush,
                    false,
                )?;
            }
            return Ok(());
        };
        let held = [b];
        let mut input = InBuffer::around(&held);
        // zstd takes nothing while no input buffer is free: take output, which frees one.
        while input.pos() < held.len() {
            self.step(&mut input, ZSTD_EndDirective::ZSTD_e_flush, false)?;
            if input.pos() < held.len() && !self.take_output()? {
                return Err(miscount("the flush took no input"));
            }
        }
        if self.filled > 0 {
            self.filled = 0;
            self.jobs += 1;
        }
        // The job may not be started yet (the job table full, or no worker free).
        loop {
            let started = self.started();
            if started == self.jobs {
                return Ok(());
            }
            if started > self.jobs {
                return Err(miscount(&format!(
                    "{started} jobs started where {} were counted",
                    self.jobs
                )));
            }
            if !self.take_output()? {
                return Err(miscount(&format!(
                    "{started} jobs started where {} were counted, and none is pending",
                    self.jobs
                )));
            }
            self.step(
                &mut InBuffer::around(&[]),
                ZSTD_EndDirective::ZSTD_e_flush,
                false,
            )?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What zstd's own (waiting) encoder makes of the same writes and flushes.
    fn reference(ops: &[Option<&[u8]>], workers: u32) -> Vec<u8> {
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.multithread(workers).unwrap();
        for op in ops {
            match op {
                Some(d) => enc.write_all(d).unwrap(),
                None => enc.flush().unwrap(),
            }
        }
        enc.finish().unwrap()
    }

    fn ours(ops: &[Option<&[u8]>], workers: u32) -> Vec<u8> {
        let mut enc = ZstdMt::new(Vec::new(), 3, workers).unwrap();
        for op in ops {
            match op {
                Some(d) => enc.write_all(d).unwrap(),
                None => enc.flush().unwrap(),
            }
        }
        enc.finish().unwrap()
    }

    /// Compressible but not trivial bytes.
    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 7 < 4 {
                    b"cpio newc member "[i % 17]
                } else {
                    (x % 16) as u8 + b'a'
                }
            })
            .collect()
    }

    fn check(ops: &[Option<&[u8]>]) {
        let want = reference(ops, 2);
        for workers in [1, 2, 3] {
            let got = ours(ops, workers);
            assert!(got == want, "{workers} workers: the bytes differ");
        }
        let plain: Vec<u8> = ops
            .iter()
            .flatten()
            .flat_map(|d| d.iter().copied())
            .collect();
        assert_eq!(zstd::stream::decode_all(want.as_slice()).unwrap(), plain);
    }

    #[test]
    fn small_members_flushed_one_by_one_match_zstd() {
        let blobs: Vec<Vec<u8>> = (0..300)
            .map(|i| data(1 + (i * 997) % 40_000, i as u64))
            .collect();
        let mut ops = Vec::new();
        for b in &blobs {
            ops.push(Some(&b[..110.min(b.len())]));
            ops.push(Some(&b[110.min(b.len())..]));
            ops.push(None);
        }
        check(&ops);
    }

    #[test]
    fn jobs_ended_by_size_and_by_flush_match_zstd() {
        let big = data(3 * JOB_SIZE as usize + 12_345, 7);
        let j = JOB_SIZE as usize;
        check(&[
            Some(&big[..j - 1]),
            Some(&big[j - 1..j]),
            None, // right at a size boundary: no job of its own
            None, // twice
            Some(&big[j..2 * j + 100]),
            None,
            Some(&big[2 * j + 100..]),
            Some(b""),
            None,
        ]);
        // No flush at all, and one large write across several job sizes.
        check(&[Some(&big[..])]);
    }

    #[test]
    fn empty_frames_match_zstd() {
        check(&[]);
        check(&[None]);
        check(&[Some(b"x"), None, None]);
    }
}
