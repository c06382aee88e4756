//! `RecvFixed`: [`Recv`] into a registered buffer, named by its index:
//! `IORING_OP_READ_FIXED` on the socket (Linux 5.1; a read of a socket is a
//! receive without flags), as tokio-uring does.
//!
//! The kernel has no registered-buffer `RECV` (6.18 refuses
//! `IORING_RECVSEND_FIXED_BUF` on it with `EINVAL`). A read of a
//! non-blocking socket waits for data in the ring on current kernels; on
//! kernels where it reports `EAGAIN` instead, the caller waits for
//! readability and tries again (`Socket::recv_fixed`). Everything but the
//! SQE is [`Recv`]'s: without the opcode (epoll; a probe without it), a
//! non-blocking `recv(2)` after readiness.

use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::fixed::FixedBuf;
use ringloop_runtime::buf::BufResult;
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, OpCode};

use super::Recv;

/// Receives into registered buffer `index`, from its start.
pub(crate) struct RecvFixed {
    recv: Recv<FixedBuf>,
    index: u16,
}

impl RecvFixed {
    /// `index` is `buf`'s index in the current loop's ring; `stream`: a
    /// stream socket (see [`Recv`]).
    pub(crate) fn new(fd: SharedFd, buf: FixedBuf, index: u16, stream: bool) -> Self {
        RecvFixed {
            recv: Recv::new(fd, buf, 0, stream),
            index,
        }
    }
}

// SAFETY: as for `Recv`: the SQE writes the op's own buffer (registered as
// `index`), kept alive until the final CQE; every other path is `Recv`'s.
unsafe impl OpCode for RecvFixed {
    type Output = BufResult<usize, FixedBuf>;
    const CODE: u8 = opcode::ReadFixed::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let (fd, ptr, len) = self.recv.sqe_parts();
        opcode::ReadFixed::new(types::Fd(fd), ptr, len, self.index).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        self.recv.fallback()
    }

    fn try_io(&mut self) -> io::Result<u32> {
        self.recv.try_io()
    }

    fn drained(&self, n: u32) -> bool {
        self.recv.drained(n)
    }

    fn complete(self, c: Completion) -> BufResult<usize, FixedBuf> {
        self.recv.complete(c)
    }
}
