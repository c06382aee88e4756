//! `Recv`: read from a connected socket into an owned buffer.
//!
//! - io_uring: `IORING_OP_RECV` (5.6), straight into the buffer.
//! - readiness: `recv(2)` non-blocking; on `EAGAIN` wait until readable.
//!
//! **Dropping the future mid-flight** on io_uring cancels the recv, but the
//! kernel may already have copied bytes into the buffer it owned: those
//! bytes are consumed from the socket and lost with the buffer, which the
//! driver frees after the final CQE. On the readiness path nothing is in
//! flight between polls, so a dropped recv loses nothing. Either way the
//! socket stays usable.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use crate::error::cvt_len;

/// Receives at most `buf.bytes_total()` bytes into the start of `buf`.
pub(crate) struct Recv<B> {
    fd: SharedFd,
    buf: B,
    flags: libc::c_int,
    /// A stream socket: a short read means its receive queue is drained
    /// (a datagram read is short whenever the datagram is).
    stream: bool,
}

impl<B: IoBufMut> Recv<B> {
    pub(crate) fn new(fd: SharedFd, buf: B, flags: libc::c_int, stream: bool) -> Self {
        Recv {
            fd,
            buf,
            flags,
            stream,
        }
    }

    fn len(&self) -> u32 {
        u32::try_from(self.buf.bytes_total()).unwrap_or(u32::MAX)
    }

    /// The fd, address and length its SQE carries (for the fixed form,
    /// `recv_fixed.rs`).
    pub(crate) fn sqe_parts(&mut self) -> (std::os::fd::RawFd, *mut u8, u32) {
        let len = self.len();
        (self.fd.as_raw_fd(), self.buf.stable_mut_ptr(), len)
    }
}

// SAFETY: the SQE points into `self.buf`, an IoBufMut whose memory is stable
// and writable for `bytes_total()` bytes while the op value lives.
unsafe impl<B: IoBufMut> OpCode for Recv<B> {
    type Output = BufResult<usize, B>;
    const CODE: u8 = opcode::Recv::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let len = self.len();
        opcode::Recv::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.stable_mut_ptr(),
            len,
        )
        .flags(self.flags)
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let len = self.len() as usize;
        let ptr = self.buf.stable_mut_ptr();
        // SAFETY: `ptr` is valid for writes of `len` bytes (IoBufMut).
        cvt_len(unsafe { libc::recv(self.fd.as_raw_fd(), ptr.cast(), len, self.flags) })
    }

    fn drained(&self, n: u32) -> bool {
        self.stream && self.flags & libc::MSG_PEEK == 0 && n > 0 && n < self.len()
    }

    fn complete(mut self, c: Completion) -> BufResult<usize, B> {
        let res = c.result.map(|n| {
            let n = (n as usize).min(self.buf.bytes_total());
            // SAFETY: the kernel (or recv(2)) wrote the first `n` bytes.
            unsafe { self.buf.set_init(n) };
            n
        });
        (res, self.buf)
    }
}

impl<B> fmt::Debug for Recv<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").field("fd", &self.fd).finish()
    }
}
