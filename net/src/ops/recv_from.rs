//! `RecvFrom`: receive one datagram and the address it came from.
//!
//! - io_uring: `IORING_OP_RECVMSG` (5.3) with a `msghdr` whose name points
//!   at a `sockaddr_storage` and whose single iovec covers the buffer, all
//!   inside the boxed op value.
//! - readiness: `recvmsg(2)` non-blocking; on `EAGAIN` wait until readable.
//!
//! A datagram longer than the buffer is truncated (the rest is discarded by
//! the kernel, as with `recvfrom(2)`). **Dropping the future mid-flight** on
//! io_uring may lose a datagram that the kernel already copied into the
//! buffer; the buffer is freed by the driver after the final CQE.

use std::fmt;
use std::io;
use std::mem::zeroed;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use crate::error::cvt_len;
use crate::sys::RawAddr;

pub(crate) struct RecvFrom<B> {
    fd: SharedFd,
    buf: B,
    addr: RawAddr,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<B: IoBufMut> RecvFrom<B> {
    pub(crate) fn new(fd: SharedFd, buf: B) -> Self {
        RecvFrom {
            fd,
            buf,
            addr: RawAddr::empty(),
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            // SAFETY: msghdr is plain data; all-zero (null pointers) is valid.
            msg: unsafe { zeroed() },
        }
    }

    /// Points the msghdr at the fields of `self`; called once the value
    /// sits at its final (boxed) address.
    fn prepare(&mut self) -> *mut libc::msghdr {
        self.addr = RawAddr::empty();
        self.iov.iov_base = self.buf.stable_mut_ptr().cast();
        self.iov.iov_len = self.buf.bytes_total();
        self.msg.msg_name = self.addr.as_mut_ptr().cast();
        self.msg.msg_namelen = self.addr.len;
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
        &mut self.msg
    }
}

// SAFETY: the SQE points to `self.msg`, which points to `self.addr`,
// `self.iov` (inline fields of the boxed value) and into `self.buf`, stable
// and writable for `bytes_total()` bytes while the value lives.
unsafe impl<B: IoBufMut> OpCode for RecvFrom<B> {
    type Output = BufResult<(usize, RawAddr), B>;
    const CODE: u8 = opcode::RecvMsg::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let msg = self.prepare();
        opcode::RecvMsg::new(types::Fd(self.fd.as_raw_fd()), msg).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let msg = self.prepare();
        // SAFETY: `msg` and everything it points to are valid (see prepare).
        cvt_len(unsafe { libc::recvmsg(self.fd.as_raw_fd(), msg, 0) })
    }

    fn complete(mut self, c: Completion) -> Self::Output {
        let res = c.result.map(|n| {
            let n = (n as usize).min(self.buf.bytes_total());
            // SAFETY: the kernel wrote the first `n` bytes.
            unsafe { self.buf.set_init(n) };
            self.addr.len = self.msg.msg_namelen;
            (n, self.addr)
        });
        (res, self.buf)
    }
}

impl<B> fmt::Debug for RecvFrom<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFrom").field("fd", &self.fd).finish()
    }
}
