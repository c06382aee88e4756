//! `RecvVectored`: a scattering read from a connected stream socket into
//! several owned buffers, in order, with one call.
//!
//! - io_uring: `IORING_OP_RECVMSG` (5.3) with a `msghdr` whose iovecs cover
//!   each buffer's whole capacity. The `msghdr` is inline in the boxed op
//!   value and the iovec array is a heap `Vec` the op owns and never
//!   resizes, so both keep their addresses until the final CQE — also when
//!   the future is dropped and the value waits in the driver's slot.
//! - readiness (epoll, or io_uring without `RECVMSG`): `recvmsg(2)`
//!   non-blocking; on `EAGAIN` wait until readable.
//!
//! The kernel fills the iovecs in order; on completion each buffer's
//! initialised length is raised to what landed in it (never lowered, as
//! for a plain read), so after a short read the first buffers are full,
//! one is partly filled and the rest are untouched. At most `IOV_MAX`
//! (1024) buffers take part; the rest come back untouched. A list with no
//! capacity at all returns `Ok(0)` without a syscall (the caller can tell
//! it from end of stream by the capacity it passed).
//!
//! **Dropping the future mid-flight** on io_uring cancels the receive, but
//! bytes the kernel already copied into the buffers are consumed from the
//! socket and lost with them; the driver frees the buffers and the iovecs
//! after the final CQE. On the readiness path nothing is in flight between
//! polls, so a dropped readv loses nothing.

use std::fmt;
use std::io;
use std::mem::zeroed;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::iovec::read_iovecs;
use ringloop_runtime::buf::{BufResult, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use crate::error::cvt_len;

/// Receives into `bufs`, in order, at most their total capacity.
pub(crate) struct RecvVectored<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    /// One per buffer (at most `IOV_MAX`), each over its whole capacity;
    /// built once in `new`, never resized (the kernel holds its address).
    iovs: Vec<libc::iovec>,
    msg: libc::msghdr,
    /// The iovecs' total length.
    total: usize,
}

impl<B: IoBufMut> RecvVectored<B> {
    pub(crate) fn new(fd: SharedFd, mut bufs: Vec<B>) -> Self {
        let iovs = read_iovecs(&mut bufs);
        let total = iovs.iter().map(|v| v.iov_len).sum();
        RecvVectored {
            fd,
            bufs,
            iovs,
            // SAFETY: msghdr is plain data; all-zero (null pointers) is valid.
            msg: unsafe { zeroed() },
            total,
        }
    }

    /// Whether there is no room at all (nothing to ask the kernel for).
    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub(crate) fn into_bufs(self) -> Vec<B> {
        self.bufs
    }

    /// Points the msghdr at the iovecs; called once the value sits at its
    /// final (boxed) address.
    fn prepare(&mut self) -> *mut libc::msghdr {
        self.msg.msg_iov = self.iovs.as_mut_ptr();
        self.msg.msg_iovlen = self.iovs.len();
        &mut self.msg
    }
}

// SAFETY: the SQE points to `self.msg` (inline in the boxed value), which
// points to the heap array `self.iovs` (never resized after `new`), whose
// entries point into the buffers of `self.bufs`: IoBufMuts, stable and
// writable for `bytes_total()` bytes while the value lives. No name, no
// control buffer.
unsafe impl<B: IoBufMut> OpCode for RecvVectored<B> {
    type Output = BufResult<usize, Vec<B>>;
    const CODE: u8 = opcode::RecvMsg::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let msg = self.prepare();
        opcode::RecvMsg::new(types::Fd(self.fd.as_raw_fd()), msg).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let msg = self.prepare();
        // SAFETY: `msg` and everything it points to are valid (see above).
        cvt_len(unsafe { libc::recvmsg(self.fd.as_raw_fd(), msg, 0) })
    }

    fn drained(&self, n: u32) -> bool {
        // Stream sockets only (the caller's types): a short read means the
        // receive queue is empty.
        n > 0 && (n as usize) < self.total
    }

    fn complete(mut self, c: Completion) -> BufResult<usize, Vec<B>> {
        let res = c.result.map(|n| {
            let n = (n as usize).min(self.total);
            let mut left = n;
            for (b, iov) in self.bufs.iter_mut().zip(&self.iovs) {
                if left == 0 {
                    break;
                }
                let k = left.min(iov.iov_len);
                // SAFETY: the kernel fills the iovecs in order, so the
                // first `k <= bytes_total()` bytes of this buffer were
                // written.
                unsafe { b.set_init(k) };
                left -= k;
            }
            n
        });
        (res, self.bufs)
    }
}

impl<B> fmt::Debug for RecvVectored<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvVectored")
            .field("fd", &self.fd)
            .field("bufs", &self.bufs.len())
            .finish()
    }
}
