//! `Accept` and `AcceptMulti`: take connections off a listening socket.
//!
//! - io_uring: `IORING_OP_ACCEPT` (5.5) writing the peer address into the
//!   op's own `sockaddr_storage`; multishot (`IORING_ACCEPT_MULTISHOT`,
//!   5.19) posts one CQE per connection from a single SQE, without the
//!   address. Accepted sockets are `SOCK_NONBLOCK | SOCK_CLOEXEC`.
//! - readiness: `accept4(2)` non-blocking; on `EAGAIN` wait until readable.
//!
//! **Dropping the future mid-flight** cancels the accept. If the kernel
//! accepted a connection before the cancellation reached it, the runtime
//! still hands that late completion to the op value (`orphaned`, or
//! `orphaned_item` for each queued multishot completion), which gives the
//! connection back to the listener's [`Backlog`] for its next accept; when
//! the listener is gone too, the [`OwnedFd`] is dropped, so it is closed,
//! never leaked. The listener stays usable.
//!
//! Errors such as `EMFILE` (fd table full) come back as errors and leave the
//! connection in the kernel's backlog; a server should back off before
//! accepting again rather than spin.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Weak;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, MultishotOpCode, OpCode};

use crate::backlog::Backlog;
use crate::error::cvt;
use crate::sys::RawAddr;

const FLAGS: libc::c_int = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;

/// Takes a completion's result as the new fd it carries.
fn owned(c: Completion) -> io::Result<OwnedFd> {
    let fd = c.result? as RawFd;
    // SAFETY: a successful accept returns a new fd that only we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn accept4(listener: RawFd, addr: Option<&mut RawAddr>) -> io::Result<u32> {
    let (ptr, len) = match addr {
        Some(a) => {
            *a = RawAddr::empty();
            (a.as_mut_ptr(), &mut a.len as *mut libc::socklen_t)
        }
        None => (std::ptr::null_mut(), std::ptr::null_mut()),
    };
    // SAFETY: `ptr`/`len` are null or point to a RawAddr with room for
    // `len` bytes.
    cvt(unsafe { libc::accept4(listener, ptr, len, FLAGS) }).map(|fd| fd as u32)
}

/// Gives a connection accepted for a dropped future back to its listener
/// (or closes it when the listener is gone).
fn hand_back(backlog: &Weak<Backlog>, c: Completion) {
    if let (Ok(fd), Some(b)) = (owned(c), backlog.upgrade()) {
        if ringloop_runtime::mutant::on("backlog_closes") {
            return;
        }
        b.push(fd);
    }
}

/// One accept: the new connection and its peer's address.
pub(crate) struct Accept {
    fd: SharedFd,
    addr: RawAddr,
    backlog: Weak<Backlog>,
}

impl Accept {
    pub(crate) fn new(fd: SharedFd, backlog: Weak<Backlog>) -> Self {
        Accept {
            fd,
            addr: RawAddr::empty(),
            backlog,
        }
    }
}

// SAFETY: the SQE points to `self.addr.storage` and `self.addr.len`, inline
// fields of the boxed value.
unsafe impl OpCode for Accept {
    type Output = io::Result<(OwnedFd, RawAddr)>;
    const CODE: u8 = opcode::Accept::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        self.addr = RawAddr::empty();
        let len: *mut libc::socklen_t = &mut self.addr.len;
        opcode::Accept::new(types::Fd(self.fd.as_raw_fd()), self.addr.as_mut_ptr(), len)
            .flags(FLAGS)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        accept4(self.fd.as_raw_fd(), Some(&mut self.addr))
    }

    fn complete(self, c: Completion) -> Self::Output {
        Ok((owned(c)?, self.addr))
    }

    fn orphaned(self, c: Completion) {
        hand_back(&self.backlog, c);
    }
}

impl fmt::Debug for Accept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accept").field("fd", &self.fd).finish()
    }
}

/// Multishot accept: a stream of new connections (no peer address; ask the
/// socket with `getpeername`).
pub(crate) struct AcceptMulti {
    fd: SharedFd,
    backlog: Weak<Backlog>,
}

impl AcceptMulti {
    pub(crate) fn new(fd: SharedFd, backlog: Weak<Backlog>) -> Self {
        AcceptMulti { fd, backlog }
    }
}

// SAFETY: a multishot ACCEPT SQE carries no pointer.
unsafe impl OpCode for AcceptMulti {
    type Output = ();
    const CODE: u8 = opcode::AcceptMulti::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::AcceptMulti::new(types::Fd(self.fd.as_raw_fd()))
            .flags(FLAGS)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        accept4(self.fd.as_raw_fd(), None)
    }

    fn complete(self, c: Completion) {
        // Not used by streams; an fd it might carry is closed here.
        drop(owned(c));
    }

    fn orphaned(self, c: Completion) {
        hand_back(&self.backlog, c);
    }
}

impl MultishotOpCode for AcceptMulti {
    type Item = io::Result<OwnedFd>;

    fn item(&mut self, c: Completion) -> io::Result<OwnedFd> {
        owned(c)
    }

    fn orphaned_item(&mut self, c: Completion) {
        hand_back(&self.backlog, c);
    }
}

impl fmt::Debug for AcceptMulti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptMulti").field("fd", &self.fd).finish()
    }
}
