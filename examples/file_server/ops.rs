//! The body path's own operations: the runtime's seam is open, so an
//! application may add `OpCode`s the library crates do not have (see also
//! `OpenAt2` in `open.rs`).
//!
//! - [`Splice`]: `IORING_OP_SPLICE` (5.7), file → pipe → socket without a
//!   userspace copy. io_uring only; its fallback is "unsupported", and the
//!   body code then uses read + write.
//! - [`SendFile`]: `sendfile(2)` on the non-blocking socket, readiness path
//!   only (there is no sendfile SQE): `EAGAIN` waits until it is writable.
//! - [`PollOut`]: waits until a socket is writable (`POLL_ADD`), for a
//!   splice into a full socket that answered `EAGAIN`.
//!
//! Every op holds a reference to each fd it names, so a dropped future (a
//! timeout, a closed connection) never leaves the kernel acting on a closed
//! or reused fd.

use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use ringloop::driver::io_uring::{opcode, squeue, types};
use ringloop::driver::{Completion, Fallback, Interest, OpCode, NO_OPCODE};

/// `splice(fd_in, off_in, fd_out, -1, len)`; one side must be a pipe.
pub struct Splice {
    fd_in: Rc<dyn AsRawFd>,
    /// Offset in `fd_in`, or -1 for a pipe (its own position).
    off_in: i64,
    fd_out: Rc<dyn AsRawFd>,
    len: u32,
}

impl Splice {
    pub fn new(fd_in: Rc<dyn AsRawFd>, off_in: i64, fd_out: Rc<dyn AsRawFd>, len: u32) -> Self {
        Splice {
            fd_in,
            off_in,
            fd_out,
            len,
        }
    }
}

// SAFETY: the SQE carries no pointer, only fds that the op keeps open.
unsafe impl OpCode for Splice {
    type Output = io::Result<usize>;
    const CODE: u8 = opcode::Splice::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Splice::new(
            types::Fd(self.fd_in.as_raw_fd()),
            self.off_in,
            types::Fd(self.fd_out.as_raw_fd()),
            -1,
            self.len,
        )
        .flags(libc::SPLICE_F_MOVE)
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        // Without the SQE the caller uses sendfile or read + write.
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.result.map(|n| n as usize)
    }
}

/// `sendfile(socket, file, &off, len)` on the readiness path.
pub struct SendFile {
    socket: Rc<dyn AsRawFd>,
    file: Rc<dyn AsRawFd>,
    off: libc::off_t,
    len: usize,
}

impl SendFile {
    pub fn new(socket: Rc<dyn AsRawFd>, file: Rc<dyn AsRawFd>, off: u64, len: usize) -> Self {
        SendFile {
            socket,
            file,
            off: off as libc::off_t,
            len,
        }
    }
}

// SAFETY: the SQE is never built (NO_OPCODE); `try_io` passes a pointer to
// `self.off`, valid for the call, and fds the op keeps open.
unsafe impl OpCode for SendFile {
    type Output = io::Result<usize>;
    const CODE: u8 = NO_OPCODE;

    fn sqe(&mut self) -> squeue::Entry {
        // Never called: no io_uring opcode, so the runtime takes `fallback`.
        opcode::Nop::new().build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.socket.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let len = self.len.min(1 << 30);
        // SAFETY: plain syscall on fds we hold; `off` is a valid off_t.
        let n = unsafe {
            libc::sendfile(
                self.socket.as_raw_fd(),
                self.file.as_raw_fd(),
                &mut self.off,
                len,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as u32)
        }
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.result.map(|n| n as usize)
    }
}

/// Resolves when `socket` is writable (or in error).
pub struct PollOut {
    socket: Rc<dyn AsRawFd>,
    tried: bool,
}

impl PollOut {
    pub fn new(socket: Rc<dyn AsRawFd>) -> Self {
        PollOut {
            socket,
            tried: false,
        }
    }
}

// SAFETY: the SQE carries no pointer, only an fd the op keeps open.
unsafe impl OpCode for PollOut {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::PollAdd::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(types::Fd(self.socket.as_raw_fd()), libc::POLLOUT as u32).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.socket.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        // The first try waits; the retry after readiness succeeds.
        if std::mem::replace(&mut self.tried, true) {
            Ok(0)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
