//! `SendVectored`: a gathering write of several owned buffers in one call.
//!
//! - io_uring: `IORING_OP_SENDMSG` (5.3) with one iovec per buffer and
//!   `MSG_NOSIGNAL` (unlike `WRITEV`, it cannot raise `SIGPIPE`).
//! - readiness: `sendmsg(2)` non-blocking; on `EAGAIN` wait until writable.
//!
//! At most `IOV_MAX` (1024) buffers go out per call; the count returned says
//! how many bytes were written, possibly fewer than the total. **Dropping
//! the future mid-flight** leaves an unknown prefix sent, as for `Send`; the
//! buffers are freed by the driver after the final CQE.

use std::fmt;
use std::io;
use std::mem::zeroed;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBuf};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use super::SEND_FLAGS;
use crate::error::cvt_len;

/// Linux's `UIO_MAXIOV`.
pub(crate) struct SendVectored<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovs: Vec<libc::iovec>,
    msg: libc::msghdr,
}

impl<B: IoBuf> SendVectored<B> {
    pub(crate) fn new(fd: SharedFd, bufs: Vec<B>) -> Self {
        let iovs = ringloop_runtime::buf::iovec::write_iovecs(&bufs);
        SendVectored {
            fd,
            bufs,
            iovs,
            // SAFETY: msghdr is plain data; all-zero (null pointers) is valid.
            msg: unsafe { zeroed() },
        }
    }

    fn prepare(&mut self) -> *const libc::msghdr {
        self.msg.msg_iov = self.iovs.as_mut_ptr();
        self.msg.msg_iovlen = self.iovs.len();
        &self.msg
    }
}

// SAFETY: the SQE points to `self.msg` (inline in the boxed value), which
// points to the heap array `self.iovs` (never resized after `new`), whose
// entries point into the buffers of `self.bufs`: IoBufs, stable and
// initialised for `bytes_init()` bytes while the value lives.
unsafe impl<B: IoBuf> OpCode for SendVectored<B> {
    type Output = BufResult<usize, Vec<B>>;
    const CODE: u8 = opcode::SendMsg::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let msg = self.prepare();
        opcode::SendMsg::new(types::Fd(self.fd.as_raw_fd()), msg)
            .flags(SEND_FLAGS as u32)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let msg = self.prepare();
        // SAFETY: `msg` and everything it points to are valid (see above).
        cvt_len(unsafe { libc::sendmsg(self.fd.as_raw_fd(), msg, SEND_FLAGS) })
    }

    fn complete(self, c: Completion) -> BufResult<usize, Vec<B>> {
        (c.result.map(|n| n as usize), self.bufs)
    }
}

impl<B> fmt::Debug for SendVectored<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendVectored")
            .field("fd", &self.fd)
            .field("bufs", &self.bufs.len())
            .finish()
    }
}
