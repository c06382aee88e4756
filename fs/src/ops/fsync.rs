//! `IORING_OP_FSYNC` (Linux 5.1): `fsync(2)`, or `fdatasync(2)` with
//! `IORING_FSYNC_DATASYNC`.
//!
//! On the pool path it is `fsync`/`fdatasync` on a pool thread. Completions
//! are unordered: the caller awaits its writes before syncing (the `File`
//! API does, since every write is awaited). A dropped future still syncs.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::cvt0;

/// Flushes the file's data (and metadata unless `datasync`) to the device.
pub(crate) struct Fsync {
    fd: SharedFd,
    datasync: bool,
}

impl Fsync {
    pub(crate) fn new(fd: SharedFd, datasync: bool) -> Self {
        Fsync { fd, datasync }
    }
}

// SAFETY: an FSYNC SQE carries no pointer; the op's SharedFd keeps the fd open.
unsafe impl OpCode for Fsync {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Fsync::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let flags = if self.datasync {
            types::FsyncFlags::DATASYNC
        } else {
            types::FsyncFlags::empty()
        };
        opcode::Fsync::new(types::Fd(self.fd.as_raw_fd()))
            .flags(flags)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (fd, datasync) = (self.fd.as_raw_fd(), self.datasync);
        let job = move || {
            // SAFETY: plain syscalls on an open fd.
            cvt0(unsafe {
                if datasync {
                    libc::fdatasync(fd)
                } else {
                    libc::fsync(fd)
                }
            })
        };
        // SAFETY: the job touches no memory of the op; the raw fd is kept
        // open by the op's SharedFd until the job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
