//! `SendFixed`: [`SendZc`] from a registered buffer, named by its index
//! (`IORING_OP_SEND_ZC` with `IORING_RECVSEND_FIXED_BUF`, Linux 6.0).
//!
//! The kernel takes a registered buffer on zero-copy sends only (6.18
//! refuses `IORING_RECVSEND_FIXED_BUF` on a plain `SEND` with `EINVAL`),
//! so a fixed send is a zero-copy send whose pages the kernel pinned once,
//! at registration: the result CQE, then the notification, after which the
//! buffer comes back. Everything but the SQE is [`SendZc`]'s: without the
//! opcode (epoll; a probe without it), a plain non-blocking `send(2)`.

use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::fixed::FixedBuf;
use ringloop_runtime::buf::BufResult;
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, OpCode};

use super::{SendZc, SEND_FLAGS};

/// Sends the initialised bytes of registered buffer `index`.
pub(crate) struct SendFixed {
    send: SendZc<FixedBuf>,
    index: u16,
}

impl SendFixed {
    /// `index` is `buf`'s index in the current loop's ring.
    pub(crate) fn new(fd: SharedFd, buf: FixedBuf, index: u16) -> Self {
        SendFixed {
            send: SendZc::new(fd, buf),
            index,
        }
    }
}

// SAFETY: as for `SendZc`: the SQE reads the op's own buffer (registered as
// `index`, so the kernel's range check passes), kept alive until the final
// CQE, the notification; every other path is `SendZc`'s.
unsafe impl OpCode for SendFixed {
    type Output = BufResult<usize, FixedBuf>;
    const CODE: u8 = opcode::SendZc::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let (fd, ptr, len) = self.send.sqe_parts();
        opcode::SendZc::new(types::Fd(fd), ptr, len)
            .buf_index(Some(self.index))
            .flags(SEND_FLAGS)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        self.send.fallback()
    }

    fn try_io(&mut self) -> io::Result<u32> {
        self.send.try_io()
    }

    fn complete(self, c: Completion) -> BufResult<usize, FixedBuf> {
        self.send.complete(c)
    }
}
