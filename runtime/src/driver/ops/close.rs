//! [`Close`]: `IORING_OP_CLOSE`, or `close(2)` on the loop thread where
//! there is no completion path; what `SharedFd::close` awaits.

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};

use io_uring::{opcode, squeue, types};

use crate::driver::{Completion, Fallback, OpCode};

/// `IORING_OP_CLOSE` (5.6): closes an fd and reports the error.
///
/// On epoll (or a kernel without the opcode) it is `close(2)` on the loop
/// thread, which does not block for sockets, pipes and local files. Built by
/// [`SharedFd::close`](crate::driver::SharedFd::close); the fd is given up either
/// way, also when the future is dropped before completion.
#[derive(Debug)]
pub struct Close {
    fd: RawFd,
}

impl Close {
    /// Closes `fd`.
    pub fn new(fd: OwnedFd) -> Self {
        Close {
            fd: fd.into_raw_fd(),
        }
    }
}

// SAFETY: a CLOSE SQE carries no pointer.
unsafe impl OpCode for Close {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Close::CODE;
    // A close must happen: a cancelled scope around it must not leak the fd.
    const CANCELLABLE: bool = false;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Close::new(types::Fd(self.fd)).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Immediate)
    }

    fn try_io(&mut self) -> io::Result<u32> {
        if let Some(d) = crate::driver::current::current() {
            d.borrow_mut().forget_fd(self.fd);
        }
        // SAFETY: the op owns `fd` (taken from an OwnedFd) and closes it once.
        crate::sys::cvt(unsafe { libc::close(self.fd) }).map(|_| 0)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
