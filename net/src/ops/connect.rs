//! `Connect`: connect a stream socket to an address.
//!
//! - io_uring: `IORING_OP_CONNECT` (5.5); the address lives in the op.
//! - readiness: a non-blocking `connect(2)`; on `EINPROGRESS` wait until
//!   writable, then read `SO_ERROR` for the outcome (`ECONNREFUSED`...). A
//!   Unix socket whose listener's backlog is full answers `EAGAIN`: the
//!   connect is simply tried again at the next wake.
//!
//! **Dropping the future mid-flight** abandons the attempt; the socket may
//! be half-connected and should be dropped (the stream types do: the socket
//! is only handed out after a successful connect).

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use crate::sys::{self, RawAddr};

pub(crate) struct Connect {
    fd: SharedFd,
    addr: RawAddr,
    /// The readiness path has started a connect that is in progress.
    started: bool,
}

impl Connect {
    pub(crate) fn new(fd: SharedFd, addr: RawAddr) -> Self {
        Connect {
            fd,
            addr,
            started: false,
        }
    }

    /// Whether the in-progress connect has finished (the socket polls as
    /// writable or in error), without blocking.
    fn finished(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n > 0 && p.revents != 0
    }
}

// SAFETY: the SQE points to `self.addr`, an inline field of the boxed value.
unsafe impl OpCode for Connect {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Connect::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Connect::new(
            types::Fd(self.fd.as_raw_fd()),
            self.addr.as_ptr(),
            self.addr.len,
        )
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let fd = self.fd.as_raw_fd();
        if !self.started {
            return match sys::connect_now(fd, &self.addr) {
                Ok(()) => Ok(0),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINPROGRESS | libc::EINTR) => {
                        self.started = true;
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Some(libc::EAGAIN) => Err(io::ErrorKind::WouldBlock.into()),
                    _ => Err(e),
                },
            };
        }
        // A wake may be spurious: only a finished connect has an outcome.
        if !self.finished() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match sys::take_error(fd)? {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("fd", &self.fd)
            .field("addr", &self.addr)
            .finish()
    }
}
