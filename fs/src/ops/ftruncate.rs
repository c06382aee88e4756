//! `IORING_OP_FTRUNCATE` (Linux 6.9): `ftruncate(2)`.
//!
//! The newest opcode here: on older kernels the probe lacks it and the call
//! runs `ftruncate` on the blocking pool, on io_uring too. A dropped future
//! may still resize the file.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::cvt0;

/// Sets the file's length to `len`.
pub(crate) struct Ftruncate {
    fd: SharedFd,
    len: u64,
}

impl Ftruncate {
    pub(crate) fn new(fd: SharedFd, len: u64) -> Self {
        Ftruncate { fd, len }
    }
}

// SAFETY: an FTRUNCATE SQE carries no pointer; the op's SharedFd keeps the fd
// open.
unsafe impl OpCode for Ftruncate {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Ftruncate::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Ftruncate::new(types::Fd(self.fd.as_raw_fd()), self.len).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        if self.len > i64::MAX as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "length does not fit in off_t",
            ));
        }
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (fd, len) = (self.fd.as_raw_fd(), self.len as i64);
        // SAFETY: a plain syscall on an fd the op keeps open.
        let job = move || cvt0(unsafe { libc::ftruncate(fd, len) });
        // SAFETY: the job touches no memory of the op; the raw fd is kept
        // open by the op's SharedFd until the job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
