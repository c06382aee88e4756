//! [`Ready`]: wait until an fd is readable or writable, for code that makes
//! its own non-blocking syscalls on it (the sockets' `readable`/`writable`,
//! a splice that got `EAGAIN`).
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
//! io_uring, which owns no memory); nothing is consumed from the fd, so
//! the wait is cancel-safe.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use io_uring::{opcode, squeue};

use crate::driver::{Completion, Fallback, Interest, OpCode, SharedFd, NO_OPCODE};
use crate::sys::cvt;

/// Resolves when its fd is ready for its [`Interest`] (or in error, or
/// hung up: the caller's own syscall says which).
pub struct Ready {
    fd: SharedFd,
    interest: Interest,
}

impl Ready {
    /// A wait for `fd` to become ready for `interest`; the op holds the fd
    /// open until it is over.
    pub fn new(fd: SharedFd, interest: Interest) -> Self {
        Ready { fd, interest }
    }
}

/// Whether `fd` is ready for `interest` now (a zero-timeout `poll(2)`;
/// in error or hung up counts as ready).
pub fn ready_now(fd: RawFd, interest: Interest) -> io::Result<bool> {
    let events = match interest {
        Interest::Readable => libc::POLLIN | libc::POLLRDHUP,
        Interest::Writable => libc::POLLOUT,
    };
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd on the stack, zero timeout.
    let n = cvt(unsafe { libc::poll(&mut p, 1, 0) })?;
    Ok(n > 0 && p.revents != 0)
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
        if ready_now(self.fd.as_raw_fd(), self.interest)? {
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
            .field("fd", &self.fd.as_raw_fd())
            .field("interest", &self.interest)
            .finish()
    }
}
