//! `IORING_OP_FALLOCATE` (Linux 5.6): `fallocate(2)`.
//!
//! Reserves (or, with `FALLOC_FL_PUNCH_HOLE` and friends, frees) disk space
//! for a byte range. On the pool path it is `fallocate` on a pool thread. A
//! dropped future may still change the file.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::cvt0;

/// `fallocate(fd, mode, offset, len)`.
pub(crate) struct Fallocate {
    fd: SharedFd,
    offset: u64,
    len: u64,
    mode: i32,
}

impl Fallocate {
    pub(crate) fn new(fd: SharedFd, offset: u64, len: u64, mode: i32) -> Self {
        Fallocate {
            fd,
            offset,
            len,
            mode,
        }
    }
}

// SAFETY: a FALLOCATE SQE carries no pointer; the op's SharedFd keeps the
// fd open.
unsafe impl OpCode for Fallocate {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Fallocate::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Fallocate::new(types::Fd(self.fd.as_raw_fd()), self.len)
            .offset(self.offset)
            .mode(self.mode)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        if self.offset > i64::MAX as u64 || self.len > i64::MAX as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "offset or length does not fit in off_t",
            ));
        }
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let fd = self.fd.as_raw_fd();
        let (mode, offset, len) = (self.mode, self.offset as i64, self.len as i64);
        // SAFETY: a plain syscall on an fd the op keeps open.
        let job = move || cvt0(unsafe { libc::fallocate(fd, mode, offset, len) });
        // SAFETY: the job touches no memory of the op; the raw fd is kept
        // open by the op's SharedFd until the job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
