//! `IORING_OP_WRITE` (Linux 5.6): `pwrite(2)` from an owned buffer, or
//! `write(2)` at the file's cursor when the offset is [`CURSOR`].
//!
//! Writes the buffer's initialised bytes (`bytes_init()`) at an offset; a
//! short write is reported as such. On the pool path it is `pwrite` on a pool
//! thread. A dropped future keeps the buffer alive in the driver until the
//! kernel (or the pool thread) is done with it; whether the bytes reached
//! the file is then unknown.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBuf};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::{CURSOR, MAX_RW};
use crate::error::cvt_len;

/// Writes `buf` at offset `pos`.
pub(crate) struct Write<B> {
    fd: SharedFd,
    buf: B,
    pos: u64,
}

impl<B: IoBuf> Write<B> {
    pub(crate) fn new(fd: SharedFd, buf: B, pos: u64) -> Self {
        Write { fd, buf, pos }
    }

    fn len(&self) -> usize {
        self.buf.bytes_init().min(MAX_RW)
    }

    /// The fd, address, length and offset its SQE carries (for the fixed
    /// form, `write_fixed.rs`).
    pub(crate) fn sqe_parts(&self) -> (std::os::fd::RawFd, *const u8, u32, u64) {
        let len = self.len() as u32;
        (self.fd.as_raw_fd(), self.buf.stable_ptr(), len, self.pos)
    }
}

// SAFETY: the SQE and the pool job read `bytes_init` bytes of `self.buf`,
// stable across moves (IoBuf) and owned by the op value, which the runtime
// keeps alive until the final completion or the job's return.
unsafe impl<B: IoBuf> OpCode for Write<B> {
    type Output = BufResult<usize, B>;
    const CODE: u8 = opcode::Write::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let len = self.len() as u32;
        opcode::Write::new(types::Fd(self.fd.as_raw_fd()), self.buf.stable_ptr(), len)
            .offset(self.pos)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (fd, len, pos) = (self.fd.as_raw_fd(), self.len(), self.pos);
        let ptr = self.buf.stable_ptr() as usize;
        let job = move || {
            // SAFETY: a readable range of `len` bytes owned by the op (see below).
            let ptr = ptr as *const libc::c_void;
            // SAFETY: as above.
            let r = unsafe {
                if pos == CURSOR {
                    libc::write(fd, ptr, len)
                } else {
                    libc::pwrite(fd, ptr, len, pos as i64)
                }
            };
            cvt_len(r as _)
        };
        // SAFETY: `ptr..ptr+len` is initialised memory of the op's buffer,
        // alive and in place until the job returns; the raw fd is kept open
        // by the op's SharedFd.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        (c.result.map(|n| n as usize), self.buf)
    }
}
