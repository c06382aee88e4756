//! `SendTo`: send one datagram to an address.
//!
//! - io_uring: `IORING_OP_SENDMSG` (5.3) with `MSG_NOSIGNAL`; the msghdr,
//!   destination address and iovec live in the boxed op value.
//! - readiness: `sendmsg(2)` non-blocking; on `EAGAIN` wait until writable.
//!
//! **Dropping the future mid-flight** cancels the send if the kernel has not
//! sent the datagram yet; otherwise it was sent. The buffer is freed by the
//! driver after the final CQE.

use std::fmt;
use std::io;
use std::mem::zeroed;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBuf};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Completion, Fallback, Interest, OpCode};

use super::SEND_FLAGS;
use crate::error::cvt_len;
use crate::sys::RawAddr;

pub(crate) struct SendTo<B> {
    fd: SharedFd,
    buf: B,
    addr: RawAddr,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<B: IoBuf> SendTo<B> {
    pub(crate) fn new(fd: SharedFd, buf: B, addr: RawAddr) -> Self {
        SendTo {
            fd,
            buf,
            addr,
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            // SAFETY: msghdr is plain data; all-zero (null pointers) is valid.
            msg: unsafe { zeroed() },
        }
    }

    fn prepare(&mut self) -> *const libc::msghdr {
        self.iov.iov_base = self.buf.stable_ptr() as *mut libc::c_void;
        self.iov.iov_len = self.buf.bytes_init();
        self.msg.msg_name = self.addr.as_mut_ptr().cast();
        self.msg.msg_namelen = self.addr.len;
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
        &self.msg
    }
}

// SAFETY: the SQE points to `self.msg`, which points to `self.addr`,
// `self.iov` (inline fields of the boxed value) and into `self.buf`, stable
// and initialised for `bytes_init()` bytes while the value lives.
unsafe impl<B: IoBuf> OpCode for SendTo<B> {
    type Output = BufResult<usize, B>;
    const CODE: u8 = opcode::SendMsg::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let msg = self.prepare();
        opcode::SendMsg::new(types::Fd(self.fd.as_raw_fd()), msg)
            .flags(SEND_FLAGS as u32)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let msg = self.prepare();
        // SAFETY: `msg` and everything it points to are valid (see prepare).
        cvt_len(unsafe { libc::sendmsg(self.fd.as_raw_fd(), msg, SEND_FLAGS) })
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        (c.result.map(|n| n as usize), self.buf)
    }
}

impl<B> fmt::Debug for SendTo<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendTo")
            .field("fd", &self.fd)
            .field("addr", &self.addr)
            .finish()
    }
}
