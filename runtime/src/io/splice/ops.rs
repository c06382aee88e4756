//! The operations under [`super`]: [`Splice`] (`IORING_OP_SPLICE`, or
//! `splice(2)` inline or on the pool), [`SendFile`] (`sendfile(2)` on the
//! readiness path; io_uring has no sendfile SQE) and [`Wait`] (until an fd
//! is readable or writable, after an `EAGAIN`).
//!
//! Each holds a [`SharedFd`] clone of every fd it names, so a dropped
//! future never leaves the kernel (or a pool thread) acting on a closed or
//! reused fd: the clones go with the value into the driver's slot and are
//! dropped at the final completion.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use io_uring::{opcode, squeue, types};

use crate::driver::{BlockingJob, Completion, Fallback, Interest, OpCode, SharedFd, NO_OPCODE};
use crate::sys::{cvt, cvt_len};

/// Flags of every splice: move pages where the kernel can, and never wait
/// on a pipe (a full or empty pipe answers `EAGAIN`, and the caller waits
/// for it with [`Wait`], which a dropped future cancels; a pipe wait inside
/// the kernel or on a pool thread could not be).
const FLAGS: u32 = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;

/// How a [`Splice`] is carried out, chosen by its caller (who knows the
/// fds) so the op makes no syscall to find out.
///
/// Between pipes and sockets the splice never blocks (non-blocking fds,
/// `SPLICE_F_NONBLOCK`), so it runs on the loop thread on io_uring too:
/// the kernel sends every `SPLICE` SQE to its worker threads (the opcode
/// is always forced async), a thread hand-off per splice that cost 1.2 to
/// 1.6 times the CPU of `read` + `write` in `examples/zero_copy.rs`, where
/// the inline splice costs 0.7 times. Only [`Pool`](Lowering::Pool), a
/// regular file at one end, takes the SQE where the kernel has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lowering {
    /// Both ends are pollable (pipes, sockets) and `EAGAIN` can only come
    /// from `fd`: try on the loop thread, then wait for it (the readiness
    /// path, a `POLL_ADD` on io_uring).
    Ready(RawFd, Interest),
    /// Both ends are pollable, either may block: one try on the loop
    /// thread; `EAGAIN` goes back to the caller, who finds out which.
    Try,
    /// An end is a regular file (or another fd whose splice may block in
    /// the kernel): the `SPLICE` SQE, else `splice(2)` on the blocking pool.
    Pool,
}

/// `splice(fd_in, off_in, fd_out, off_out, len)` (5.7 as an SQE); one end
/// must be a pipe. An offset of -1 means "the fd's own position".
#[derive(Debug)]
pub(crate) struct Splice {
    fd_in: SharedFd,
    off_in: i64,
    fd_out: SharedFd,
    off_out: i64,
    len: u32,
    lowering: Lowering,
}

impl Splice {
    pub(crate) fn new(
        fd_in: &SharedFd,
        off_in: i64,
        fd_out: &SharedFd,
        off_out: i64,
        len: u32,
        lowering: Lowering,
    ) -> Self {
        Splice {
            fd_in: fd_in.clone(),
            off_in,
            fd_out: fd_out.clone(),
            off_out,
            len,
            lowering,
        }
    }
}

/// One `splice(2)` with the op's arguments; `-1` offsets pass no pointer.
fn splice_now(fd_in: RawFd, off_in: i64, fd_out: RawFd, off_out: i64, len: u32) -> io::Result<u32> {
    let (mut oi, mut oo) = (off_in, off_out);
    let pi: *mut i64 = if off_in < 0 {
        std::ptr::null_mut()
    } else {
        &mut oi
    };
    let po: *mut i64 = if off_out < 0 {
        std::ptr::null_mut()
    } else {
        &mut oo
    };
    // SAFETY: the offset pointers are null or point to locals that outlive
    // the call; the fds are kept open by the op value (see the callers).
    cvt_len(unsafe { libc::splice(fd_in, pi, fd_out, po, len as usize, FLAGS) })
}

// SAFETY: the SQE carries no pointer (its offsets are values), only fds
// that the op's `SharedFd` clones keep open until the final completion;
// `try_io` and the pool job pass splice(2) pointers to their own locals.
unsafe impl OpCode for Splice {
    type Output = io::Result<usize>;
    const CODE: u8 = opcode::Splice::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Splice::new(
            types::Fd(self.fd_in.as_raw_fd()),
            self.off_in,
            types::Fd(self.fd_out.as_raw_fd()),
            self.off_out,
            self.len,
        )
        .flags(FLAGS)
        .build()
    }

    fn completion_path(&self) -> bool {
        self.lowering == Lowering::Pool
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(match self.lowering {
            Lowering::Ready(fd, interest) => Fallback::Readiness { fd, interest },
            Lowering::Try => Fallback::Immediate,
            Lowering::Pool => Fallback::Blocking,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        splice_now(
            self.fd_in.as_raw_fd(),
            self.off_in,
            self.fd_out.as_raw_fd(),
            self.off_out,
            self.len,
        )
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (fi, oi, fo, oo, len) = (
            self.fd_in.as_raw_fd(),
            self.off_in,
            self.fd_out.as_raw_fd(),
            self.off_out,
            self.len,
        );
        // SAFETY: the closure captures plain values only; the two fds stay
        // open because the op value (holding their `SharedFd`s) outlives the
        // job, also when the future is dropped (BlockingJob contract).
        unsafe { BlockingJob::new(move || splice_now(fi, oi, fo, oo, len)) }
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.result.map(|n| n as usize)
    }
}

/// `sendfile(socket, file, &offset, len)`: no SQE exists. When the file's
/// pages are in the page cache (`on_pool == false`) it takes the readiness
/// path (`EAGAIN` waits until the socket is writable; a `POLL_ADD` on
/// io_uring) on the loop thread, where it cannot block; when they may not
/// be, it runs on the blocking pool, which waits for the disk instead of
/// the loop (the socket is non-blocking there too: a full socket answers
/// `EAGAIN` and the caller waits for it on the loop).
#[derive(Debug)]
pub(crate) struct SendFile {
    socket: SharedFd,
    file: SharedFd,
    offset: libc::off_t,
    len: usize,
    on_pool: bool,
}

impl SendFile {
    pub(crate) fn new(
        socket: &SharedFd,
        file: &SharedFd,
        offset: i64,
        len: usize,
        on_pool: bool,
    ) -> Self {
        SendFile {
            socket: socket.clone(),
            file: file.clone(),
            offset,
            len,
            on_pool,
        }
    }
}

/// One `sendfile(2)`.
///
/// # Safety
///
/// `offset` must be valid for reads and writes for the call.
unsafe fn send_file(
    socket: RawFd,
    file: RawFd,
    offset: *mut libc::off_t,
    len: usize,
) -> io::Result<u32> {
    // SAFETY: forwarded from the caller; the fds are plain numbers.
    cvt_len(unsafe { libc::sendfile(socket, file, offset, len) })
}

// SAFETY: no SQE is ever built (`NO_OPCODE`); `try_io` passes a pointer to
// `self.offset`, valid for the call, and fds the op's clones keep open.
unsafe impl OpCode for SendFile {
    type Output = io::Result<usize>;
    const CODE: u8 = NO_OPCODE;

    fn sqe(&mut self) -> squeue::Entry {
        // Never called for NO_OPCODE; a NOP is harmless if it were.
        opcode::Nop::new().build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        if self.on_pool {
            return Ok(Fallback::Blocking);
        }
        Ok(Fallback::Readiness {
            fd: self.socket.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        // SAFETY: `offset` is an off_t the op owns, borrowed for the call.
        unsafe {
            send_file(
                self.socket.as_raw_fd(),
                self.file.as_raw_fd(),
                &mut self.offset,
                self.len,
            )
        }
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (s, f, len) = (self.socket.as_raw_fd(), self.file.as_raw_fd(), self.len);
        let offset = &mut self.offset as *mut libc::off_t as usize;
        // `offset` points into the op value, which the runtime keeps alive
        // and in place until the job returns, also when the future is
        // dropped (BlockingJob contract); the op's fd clones keep both fds
        // open until then.
        let job = move || {
            // SAFETY: as above: the off_t lives in the op value until the
            // job has returned.
            unsafe { send_file(s, f, offset as *mut libc::off_t, len) }
        };
        // SAFETY: see the closure: only fd numbers and the op's own off_t.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.result.map(|n| n as usize)
    }
}

/// Resolves when `fd` is ready for `interest` (or in error, or hung up):
/// a zero-timeout `poll(2)` first, so readiness that came before the wait
/// is seen at once, then the backend's wait (`POLL_ADD` on io_uring, the
/// fd's next edge on epoll). Owns no memory; dropping it cancels the wait.
#[derive(Debug)]
pub(crate) struct Wait {
    fd: SharedFd,
    interest: Interest,
}

impl Wait {
    pub(crate) fn new(fd: &SharedFd, interest: Interest) -> Self {
        Wait {
            fd: fd.clone(),
            interest,
        }
    }
}

/// Whether `fd` is ready for `interest` now (a zero-timeout `poll(2)`).
pub(crate) fn ready_now(fd: RawFd, interest: Interest) -> io::Result<bool> {
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

// SAFETY: no SQE is ever built (`NO_OPCODE`); `try_io` passes poll(2) a
// pollfd on its own stack.
unsafe impl OpCode for Wait {
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
