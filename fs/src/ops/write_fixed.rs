//! `IORING_OP_WRITE_FIXED` (Linux 5.1): [`Write`] from a registered
//! buffer, named in the SQE by its index in the ring's table.
//!
//! Everything but the SQE is [`Write`]'s (the pool's `pwrite` without the
//! opcode). A dropped future leaves the buffer with the driver until the
//! final CQE.

use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::fixed::FixedBuf;
use ringloop_runtime::buf::BufResult;
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::Write;

/// Writes the initialised bytes of registered buffer `index` at `pos`.
pub(crate) struct WriteFixed {
    write: Write<FixedBuf>,
    index: u16,
}

impl WriteFixed {
    /// `index` is `buf`'s index in the current loop's ring.
    pub(crate) fn new(fd: SharedFd, buf: FixedBuf, pos: u64, index: u16) -> Self {
        WriteFixed {
            write: Write::new(fd, buf, pos),
            index,
        }
    }
}

// SAFETY: as for `Write`: the SQE reads the op's own buffer (registered as
// `index`), kept alive until the final completion; every other path is
// `Write`'s.
unsafe impl OpCode for WriteFixed {
    type Output = BufResult<usize, FixedBuf>;
    const CODE: u8 = opcode::WriteFixed::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let (fd, ptr, len, pos) = self.write.sqe_parts();
        opcode::WriteFixed::new(types::Fd(fd), ptr, len, self.index)
            .offset(pos)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        self.write.fallback()
    }

    fn blocking_job(&mut self) -> BlockingJob {
        self.write.blocking_job()
    }

    fn complete(self, c: Completion) -> BufResult<usize, FixedBuf> {
        self.write.complete(c)
    }
}
