//! `Ready`: wait until a socket is readable or writable, for code that
//! makes its own non-blocking syscalls on the fd (`readable`/`writable`).
//!
//! There is no SQE of its own (`NO_OPCODE`): the op always takes the
//! readiness path, whose `try_io` is a `poll(2)` with a zero timeout —
//! ready at once if the fd is, else a wait. On io_uring that wait is a
//! one-shot `POLL_ADD`; on epoll it is the fd's next edge (the fd is
//! registered edge-triggered the first time it waits). The zero-timeout
//! poll first is what makes an edge-triggered wait safe here: readiness
//! that arrived before the wait began is seen at once instead of waiting
//! for an edge that already passed.
//!
//! **Dropping the future** cancels the wait (an orphaned `POLL_ADD` on
//! io_uring, which owns no memory); nothing is consumed from the socket,
//! so the wait is cancel-safe.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode, NO_OPCODE};

use crate::error::cvt;

pub(crate) struct Ready {
    fd: SharedFd,
    interest: Interest,
}

impl Ready {
    pub(crate) fn new(fd: SharedFd, interest: Interest) -> Self {
        Ready { fd, interest }
    }
}

// SAFETY: no SQE is ever built (`CODE` is `NO_OPCODE`); `try_io` passes
// poll(2) a pollfd on its own stack.
unsafe impl OpCode for Ready {
    type Output = io::Result<()>;
    const CODE: u8 = NO_OPCODE;

    fn sqe(&mut self) -> squeue::Entry {
        // Never called for NO_OPCODE; a NOP is harmless if it were.
        opcode::Nop::new().build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: self.interest,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let events = match self.interest {
            Interest::Readable => libc::POLLIN | libc::POLLRDHUP,
            Interest::Writable => libc::POLLOUT,
        };
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = cvt(unsafe { libc::poll(&mut p, 1, 0) })?;
        // Ready, or in error or hung up: the caller's own syscall will say
        // which.
        if n > 0 && p.revents != 0 {
            Ok(0)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("fd", &self.fd)
            .field("interest", &self.interest)
            .finish()
    }
}
