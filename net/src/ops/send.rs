//! `Send`: write a buffer's initialised bytes to a connected socket.
//!
//! - io_uring: `IORING_OP_SEND` (5.6) with `MSG_NOSIGNAL`.
//! - readiness: `send(2)` non-blocking with `MSG_NOSIGNAL`; on `EAGAIN` wait
//!   until writable.
//!
//! A peer that closed its end gives `EPIPE` (an error, never `SIGPIPE`).
//! **Dropping the future mid-flight** cancels the send; some bytes may
//! already be queued on the socket, and the caller cannot learn how many, so
//! a stream whose send was dropped should be treated as broken. The buffer
//! is freed by the driver after the final CQE.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBuf};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use super::SEND_FLAGS;
use crate::error::cvt_len;

/// Sends the initialised bytes of `buf` (some of them; see the result).
pub(crate) struct Send<B> {
    fd: SharedFd,
    buf: B,
}

impl<B: IoBuf> Send<B> {
    pub(crate) fn new(fd: SharedFd, buf: B) -> Self {
        Send { fd, buf }
    }

    fn len(&self) -> u32 {
        u32::try_from(self.buf.bytes_init()).unwrap_or(u32::MAX)
    }
}

// SAFETY: the SQE points into `self.buf`, stable and initialised for
// `bytes_init()` bytes while the op value lives (IoBuf contract).
unsafe impl<B: IoBuf> OpCode for Send<B> {
    type Output = BufResult<usize, B>;
    const CODE: u8 = opcode::Send::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Send::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.stable_ptr(),
            self.len(),
        )
        .flags(SEND_FLAGS)
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let (ptr, len) = (self.buf.stable_ptr(), self.len() as usize);
        // SAFETY: `ptr` is valid for reads of `len` initialised bytes.
        cvt_len(unsafe { libc::send(self.fd.as_raw_fd(), ptr.cast(), len, SEND_FLAGS) })
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        (c.result.map(|n| n as usize), self.buf)
    }
}

impl<B> fmt::Debug for Send<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send").field("fd", &self.fd).finish()
    }
}
