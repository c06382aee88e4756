//! `Shutdown`: close one or both directions of a connection.
//!
//! - io_uring: `IORING_OP_SHUTDOWN` (5.11).
//! - otherwise: `shutdown(2)`, which never blocks ([`Fallback::Immediate`]).
//!
//! Dropping the future before it completes may or may not have shut the
//! socket down; nothing is owned but the fd clone.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, OpCode};

use crate::error::cvt;

pub(crate) struct Shutdown {
    fd: SharedFd,
    how: libc::c_int,
}

impl Shutdown {
    pub(crate) fn new(fd: SharedFd, how: std::net::Shutdown) -> Self {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        Shutdown { fd, how }
    }
}

// SAFETY: a SHUTDOWN SQE carries no pointer.
unsafe impl OpCode for Shutdown {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Shutdown::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Shutdown::new(types::Fd(self.fd.as_raw_fd()), self.how).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Immediate)
    }

    fn try_io(&mut self) -> io::Result<u32> {
        // SAFETY: plain syscall on an fd we hold open.
        cvt(unsafe { libc::shutdown(self.fd.as_raw_fd(), self.how) }).map(|_| 0)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("fd", &self.fd)
            .field("how", &self.how)
            .finish()
    }
}
