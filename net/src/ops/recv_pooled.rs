//! `RecvPooled`: receive into a loop-owned buffer (see
//! `ringloop::driver::BufPool`), one-shot or multishot.
//!
//! - io_uring with provided-buffer rings (5.19; multishot 6.0):
//!   `IORING_OP_RECV` with `IOSQE_BUFFER_SELECT` — no buffer is pinned
//!   while the peer is silent; the kernel picks one from the loop's ring
//!   when bytes arrive and names it in the CQE. The multishot form posts a
//!   CQE per arrival from one SQE. `ENOBUFS` (the ring ran dry) ends it;
//!   the caller waits for a buffer to come back and re-arms. Asked for
//!   bundles (and where the pool has them, 6.10), the multishot form is
//!   `IORING_RECVSEND_BUNDLE`: a CQE then covers every buffer its bytes
//!   filled, in ring order (`PooledBufs`).
//! - readiness (epoll; io_uring without buffer rings): wait until readable,
//!   take a free buffer, `recv(2)` into it; `EAGAIN` gives it back at once.
//!   An empty pool is `ENOBUFS` here too.
//!
//! **Dropping the future mid-flight loses nothing**: a buffer the kernel
//! filled for a dropped receive goes to the socket's [`Pending`] queue,
//! and the next pooled receive returns it first.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::{Rc, Weak};

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::{
    BufPool, BufSlot, Completion, Fallback, Interest, MultishotOpCode, OpCode, PooledBufs, SharedFd,
};

use crate::pooled::Pending;

pub(crate) struct RecvPooled {
    fd: SharedFd,
    pool: Rc<BufPool>,
    multi: bool,
    /// Multishot with receive bundles where the pool has them.
    bundle: bool,
    /// What the last readiness-path attempt received.
    got: Option<PooledBufs>,
    pending: Weak<Pending>,
}

impl RecvPooled {
    pub(crate) fn new(
        fd: SharedFd,
        pool: Rc<BufPool>,
        multi: bool,
        bundle: bool,
        pending: Weak<Pending>,
    ) -> Self {
        RecvPooled {
            fd,
            pool,
            multi,
            bundle,
            got: None,
            pending,
        }
    }

    /// One completion as a buffer (`Ok(None)`: the end of the stream).
    fn take(&mut self, c: Completion) -> io::Result<Option<PooledBufs>> {
        if let Some(b) = self.got.take() {
            return Ok(Some(b));
        }
        let buf = self.pool.from_completion(&c);
        match (c.result, buf) {
            (Ok(0), _) => Ok(None),
            (Ok(_), Some(b)) => Ok(Some(b)),
            (Ok(n), None) => Err(io::Error::other(format!(
                "pooled receive: {n} bytes but no buffer in the completion"
            ))),
            (Err(e), _) => Err(e),
        }
    }

    /// A result for a dropped receive: keep its bytes for the next one.
    fn keep(&mut self, c: Completion) {
        if let (Ok(Some(bufs)), Some(p)) = (self.take(c), self.pending.upgrade()) {
            bufs.for_each(|b| p.push(b));
        }
    }
}

// SAFETY: the SQE carries no pointer (the kernel picks the buffer from the
// loop's registered ring, which outlives every receive); `try_io` receives
// into a buffer slot it owns.
unsafe impl OpCode for RecvPooled {
    type Output = io::Result<Option<PooledBufs>>;
    const CODE: u8 = opcode::Recv::CODE;

    fn completion_path(&self) -> bool {
        self.pool.group().is_some()
    }

    fn sqe(&mut self) -> squeue::Entry {
        let fd = types::Fd(self.fd.as_raw_fd());
        let group = self.pool.group().unwrap_or(0);
        if self.multi && self.bundle && self.pool.bundles() {
            opcode::RecvMultiBundle::new(fd, group).build()
        } else if self.multi {
            opcode::RecvMulti::new(fd, group).build()
        } else {
            opcode::Recv::new(fd, std::ptr::null_mut(), self.pool.buf_size() as u32)
                .buf_group(group)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
        }
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let Some(mut slot): Option<BufSlot> = self.pool.take() else {
            return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
        };
        // SAFETY: receives at most `slot.len()` bytes into the slot's buffer,
        // which the slot owns until it is filled or dropped.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), slot.as_mut_ptr().cast(), slot.len(), 0) };
        let n = crate::error::cvt_len(n)?;
        if n > 0 {
            // SAFETY: recv(2) initialised the first `n` bytes.
            self.got = Some(unsafe { slot.filled(n as usize) }.into());
        }
        Ok(n)
    }

    /// A stream read shorter than the buffer drained the socket (pooled
    /// receives are on stream sockets only).
    fn drained(&self, n: u32) -> bool {
        n > 0 && (n as usize) < self.pool.buf_size()
    }

    fn complete(mut self, c: Completion) -> Self::Output {
        self.take(c)
    }

    fn orphaned(mut self, c: Completion) {
        self.keep(c);
    }
}

impl MultishotOpCode for RecvPooled {
    type Item = io::Result<Option<PooledBufs>>;

    fn item(&mut self, c: Completion) -> Self::Item {
        self.take(c)
    }

    fn orphaned_item(&mut self, c: Completion) {
        self.keep(c);
    }
}

impl fmt::Debug for RecvPooled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvPooled")
            .field("fd", &self.fd)
            .field("multi", &self.multi)
            .field("bundle", &self.bundle)
            .finish()
    }
}
