//! `SendZc`: a zero-copy send of a buffer's initialised bytes on a
//! connected TCP socket.
//!
//! - io_uring: `IORING_OP_SEND_ZC` (Linux 6.0) with `MSG_NOSIGNAL`. The
//!   kernel sends from the buffer's own pages instead of copying them into
//!   the socket; it posts two CQEs: the result (the byte count, with
//!   `IORING_CQE_F_MORE`), then, once the network stack has let go of the
//!   pages, a notification (`IORING_CQE_F_NOTIF`, without `F_MORE`). The
//!   driver's slot keeps the first CQE's result and completes the op only
//!   at the notification, so the buffer comes back — or, if the future
//!   was dropped, is freed — only when the kernel no longer reads it.
//! - readiness (epoll, or io_uring on a kernel whose probe lacks
//!   `SEND_ZC`): a plain non-blocking `send(2)` with `MSG_NOSIGNAL`, which
//!   copies, and the buffer comes back at once. `MSG_ZEROCOPY` with its
//!   error-queue notifications is not used there: it needs
//!   `SO_ZEROCOPY`, a read of the error queue per send, and pays only for
//!   large sends on real NICs.
//!
//! For TCP the pages are let go when the data is acknowledged, so a
//! zero-copy send takes at least a round trip to come back (on loopback
//! the receiving socket copies the data out, and the notification follows
//! that copy). It saves the sender's copy, not latency: it is for large
//! buffers, and pays off only above a size to measure on the target
//! machine (`examples/send_zc.rs`).
//!
//! **Dropping the future mid-flight** cancels the send as for `Send`: some
//! bytes may be queued, the stream should be treated as broken, and the
//! driver frees the buffer after the final CQE (the notification).

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBuf};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use super::SEND_FLAGS;
use crate::error::cvt_len;

/// Sends the initialised bytes of `buf` (some of them; see the result)
/// without copying them, where the kernel can.
pub(crate) struct SendZc<B> {
    fd: SharedFd,
    buf: B,
}

impl<B: IoBuf> SendZc<B> {
    pub(crate) fn new(fd: SharedFd, buf: B) -> Self {
        SendZc { fd, buf }
    }

    fn len(&self) -> u32 {
        u32::try_from(self.buf.bytes_init()).unwrap_or(u32::MAX)
    }

    /// The fd, address and length its SQE carries (for the fixed form,
    /// `send_fixed.rs`).
    pub(crate) fn sqe_parts(&self) -> (std::os::fd::RawFd, *const u8, u32) {
        (self.fd.as_raw_fd(), self.buf.stable_ptr(), self.len())
    }
}

// SAFETY: the SQE points into `self.buf`, stable and initialised for
// `bytes_init()` bytes while the op value lives (IoBuf contract); the
// runtime keeps the value alive until the final CQE, which for SEND_ZC is
// the notification that the kernel no longer reads the pages.
unsafe impl<B: IoBuf> OpCode for SendZc<B> {
    type Output = BufResult<usize, B>;
    const CODE: u8 = opcode::SendZc::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::SendZc::new(
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

impl<B> fmt::Debug for SendZc<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendZc").field("fd", &self.fd).finish()
    }
}
