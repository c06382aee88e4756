//! `IORING_OP_READ_FIXED` (Linux 5.1): [`Read`] into a registered buffer,
//! named in the SQE by its index in the ring's table, so the kernel skips
//! the per-call lookup (and, for `O_DIRECT`, pinning) of its pages.
//!
//! Everything but the SQE is [`Read`]'s: without the opcode (a probe
//! without it) the read goes to the pool as a plain `pread`, into the same
//! buffer. A dropped future leaves the buffer with the driver until the
//! final CQE, as for any read; the buffer holds its registry's memory.

use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::fixed::FixedBuf;
use ringloop_runtime::buf::BufResult;
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Cached, Completion, Fallback, OpCode};

use super::Read;

/// Reads into registered buffer `index` (the buffer's own) at `pos`.
pub(crate) struct ReadFixed {
    read: Read<FixedBuf>,
    index: u16,
}

impl ReadFixed {
    /// `index` is `buf`'s index in the current loop's ring
    /// (`FixedBuf::ring_index`).
    pub(crate) fn new(fd: SharedFd, buf: FixedBuf, pos: u64, index: u16) -> Self {
        ReadFixed {
            read: Read::new(fd, buf, pos),
            index,
        }
    }
}

// SAFETY: as for `Read`: the SQE points into the op's own buffer (whose
// region is registered as `index`, so the kernel's range check passes),
// kept alive until the final completion; every other path is `Read`'s.
unsafe impl OpCode for ReadFixed {
    type Output = BufResult<usize, FixedBuf>;
    const CODE: u8 = opcode::ReadFixed::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let (fd, ptr, len, pos) = self.read.sqe_parts();
        opcode::ReadFixed::new(types::Fd(fd), ptr, len, self.index)
            .offset(pos)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        self.read.fallback()
    }

    fn try_cached(&mut self) -> Cached {
        self.read.try_cached()
    }

    fn blocking_job(&mut self) -> BlockingJob {
        self.read.blocking_job()
    }

    fn complete(self, c: Completion) -> BufResult<usize, FixedBuf> {
        self.read.complete(c)
    }
}
