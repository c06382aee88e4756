//! `IORING_OP_READ` (Linux 5.6): `pread(2)` into an owned buffer, or
//! `read(2)` at the file's cursor when the offset is [`CURSOR`].
//!
//! The kernel writes up to `bytes_total()` bytes at the buffer's start; the
//! buffer's initialised length grows to cover what was read. On the pool
//! path it is `pread` on a pool thread. A dropped future leaves the buffer
//! in the driver (io_uring: until the final CQE of the cancelled read; pool:
//! until `pread` returns); its contents are then undefined and discarded.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Cached, Completion, Fallback, OpCode};

use super::{CURSOR, MAX_RW};
use crate::error::cvt_len;

/// Reads into `buf` at offset `pos`.
pub(crate) struct Read<B> {
    fd: SharedFd,
    buf: B,
    pos: u64,
    /// Bytes the cached attempt read before the kernel said it would
    /// block; the pool reads the rest after them.
    done: usize,
}

impl<B: IoBufMut> Read<B> {
    pub(crate) fn new(fd: SharedFd, buf: B, pos: u64) -> Self {
        Read {
            fd,
            buf,
            pos,
            done: 0,
        }
    }

    /// The offset of byte `at` of the read (`-1`: the file's cursor).
    fn offset_of(&self, at: usize) -> i64 {
        if self.pos == CURSOR {
            -1
        } else {
            (self.pos + at as u64) as i64
        }
    }

    fn len(&self) -> usize {
        self.buf.bytes_total().min(MAX_RW)
    }

    /// The fd, address, length and offset its SQE carries (for the fixed
    /// form, `read_fixed.rs`).
    pub(crate) fn sqe_parts(&mut self) -> (std::os::fd::RawFd, *mut u8, u32, u64) {
        let len = self.len() as u32;
        (
            self.fd.as_raw_fd(),
            self.buf.stable_mut_ptr(),
            len,
            self.pos,
        )
    }
}

// SAFETY: the SQE and the pool job point into `self.buf`, whose memory is
// stable across moves (IoBufMut) and owned by the op value, which the runtime
// keeps alive until the final completion or the job's return. The fd stays
// open because the op holds a SharedFd clone.
unsafe impl<B: IoBufMut> OpCode for Read<B> {
    type Output = BufResult<usize, B>;
    const CODE: u8 = opcode::Read::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let len = self.len() as u32;
        opcode::Read::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.stable_mut_ptr(),
            len,
        )
        .offset(self.pos)
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    /// `preadv2(RWF_NOWAIT)` until the buffer is full or the file ends. A
    /// short count means only part of the range is cached (or the end of
    /// the file): the rest is asked for once more, and if that would
    /// block, the pool reads it after what is here (`done`), so the read
    /// returns what `pread` would have.
    fn try_cached(&mut self) -> Cached {
        let len = self.len();
        let mut n = 0;
        while n < len {
            let iov = libc::iovec {
                // SAFETY: `n < len <= bytes_total`: inside the buffer.
                iov_base: unsafe { self.buf.stable_mut_ptr().add(n) }.cast(),
                iov_len: len - n,
            };
            let off = self.offset_of(n);
            // SAFETY: `iov` covers writable bytes of the op's own buffer,
            // borrowed mutably for the call.
            match unsafe { super::cached::read_nowait(self.fd.as_raw_fd(), &iov, 1, off) } {
                Cached::Done(Ok(0)) => break,
                Cached::Done(Ok(m)) => n += m as usize,
                // An error after some bytes: those bytes, as read(2) does.
                Cached::Done(Err(_)) if n > 0 => break,
                Cached::Done(Err(e)) => return Cached::Done(Err(e)),
                r @ (Cached::Skipped | Cached::WouldBlock) if n == 0 => return r,
                Cached::Skipped | Cached::WouldBlock => {
                    self.done = n;
                    return Cached::WouldBlock;
                }
            }
        }
        Cached::Done(Ok(n as u32))
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (fd, done) = (self.fd.as_raw_fd(), self.done);
        let (len, pos) = (self.len() - done, self.offset_of(done));
        // SAFETY: `done <= len <= bytes_total`: inside (or at the end of)
        // the buffer.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(done) } as usize;
        let job = move || {
            // SAFETY: a writable range of `len` bytes owned by the op (see below).
            let ptr = ptr as *mut libc::c_void;
            // SAFETY: as above.
            let r = unsafe {
                if pos < 0 {
                    libc::read(fd, ptr, len)
                } else {
                    libc::pread(fd, ptr, len, pos)
                }
            };
            match cvt_len(r as _) {
                Ok(n) => Ok(n + done as u32),
                // What the cached attempt read is the result, as read(2)
                // returns the bytes before an error.
                Err(_) if done > 0 => Ok(done as u32),
                Err(e) => Err(e),
            }
        };
        // SAFETY: `ptr..ptr+len` lies in the op's buffer, kept alive and in
        // place until the job returns (OpCode contract); only the raw fd
        // number crosses threads, and the op's SharedFd keeps it open.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(mut self, c: Completion) -> BufResult<usize, B> {
        let r = c.result.map(|n| {
            let n = n as usize;
            // SAFETY: the kernel (or pread) initialised the first `n` bytes,
            // and `n <= len <= bytes_total`.
            unsafe { self.buf.set_init(n) };
            n
        });
        (r, self.buf)
    }
}
