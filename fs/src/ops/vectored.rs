//! `IORING_OP_READV` / `IORING_OP_WRITEV` (Linux 5.1): `preadv(2)` and
//! `pwritev(2)` over a `Vec` of owned buffers.
//!
//! The op owns the buffers and the `iovec` array that points into them; both
//! stay alive (in the driver, if the future is dropped) until the kernel or
//! the pool thread is done. At most `IOV_MAX` (1024) buffers take part in one
//! call; the rest are handed back untouched, as after a short transfer.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Cached, Completion, Fallback, OpCode};

use super::CURSOR;
use crate::error::cvt_len;
use ringloop_runtime::buf::iovec::{read_iovecs, write_iovecs};

/// Reads into `bufs`, in order, at offset `pos`.
pub(crate) struct Readv<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: Vec<libc::iovec>,
    pos: u64,
}

impl<B: IoBufMut> Readv<B> {
    pub(crate) fn new(fd: SharedFd, mut bufs: Vec<B>, pos: u64) -> Self {
        let iovecs = read_iovecs(&mut bufs);
        Readv {
            fd,
            bufs,
            iovecs,
            pos,
        }
    }
}

// SAFETY: the iovecs point into the owned buffers' stable memory (IoBufMut)
// and live in the op's own Vec; the runtime keeps the op value alive until
// the final completion or the pool job's return.
unsafe impl<B: IoBufMut> OpCode for Readv<B> {
    type Output = BufResult<usize, Vec<B>>;
    const CODE: u8 = opcode::Readv::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let fd = types::Fd(self.fd.as_raw_fd());
        opcode::Readv::new(fd, self.iovecs.as_ptr(), self.iovecs.len() as u32)
            .offset(self.pos)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    /// `preadv2(RWF_NOWAIT)` at an offset. A short count (part of the
    /// range cached, or the end of the file) is not taken as the result:
    /// the pool reads the whole range again, as `preadv` would have. At
    /// the cursor there is no cached form (a partial read would move it).
    fn try_cached(&mut self) -> Cached {
        if self.pos == CURSOR {
            return Cached::Skipped;
        }
        let total: usize = self.iovecs.iter().map(|v| v.iov_len).sum();
        let cnt = self.iovecs.len() as i32;
        // SAFETY: the iovecs describe the op's own buffers (writable for
        // their capacity), owned by the value borrowed mutably for the call.
        let r = unsafe {
            super::cached::read_nowait(
                self.fd.as_raw_fd(),
                self.iovecs.as_ptr(),
                cnt,
                self.pos as i64,
            )
        };
        match r {
            Cached::Done(Ok(n)) if n > 0 && (n as usize) < total => Cached::WouldBlock,
            r => r,
        }
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (fd, pos) = (self.fd.as_raw_fd(), self.pos);
        let (iov, cnt) = (self.iovecs.as_ptr() as usize, self.iovecs.len());
        let job = move || {
            // SAFETY: memory owned by the op (see below).
            let (iov, cnt) = (iov as *const libc::iovec, cnt as i32);
            // SAFETY: as above.
            let r = unsafe {
                if pos == CURSOR {
                    libc::readv(fd, iov, cnt)
                } else {
                    libc::preadv(fd, iov, cnt, pos as i64)
                }
            };
            cvt_len(r as _)
        };
        // SAFETY: the iovec array and the memory it describes belong to the
        // op value, alive and in place until the job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(mut self, c: Completion) -> BufResult<usize, Vec<B>> {
        let r = c.result.map(|n| {
            let mut left = n as usize;
            for (b, iov) in self.bufs.iter_mut().zip(&self.iovecs) {
                let k = left.min(iov.iov_len);
                // SAFETY: the kernel filled the iovecs in order; the first
                // `k <= bytes_total` bytes of this buffer are initialised.
                unsafe { b.set_init(k) };
                left -= k;
            }
            n as usize
        });
        (r, self.bufs)
    }
}

/// Writes `bufs`, in order, at offset `pos`.
pub(crate) struct Writev<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: Vec<libc::iovec>,
    pos: u64,
}

impl<B: IoBuf> Writev<B> {
    pub(crate) fn new(fd: SharedFd, bufs: Vec<B>, pos: u64) -> Self {
        let iovecs = write_iovecs(&bufs);
        Writev {
            fd,
            bufs,
            iovecs,
            pos,
        }
    }
}

// SAFETY: as for `Readv`; the kernel only reads the initialised bytes.
unsafe impl<B: IoBuf> OpCode for Writev<B> {
    type Output = BufResult<usize, Vec<B>>;
    const CODE: u8 = opcode::Writev::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let fd = types::Fd(self.fd.as_raw_fd());
        opcode::Writev::new(fd, self.iovecs.as_ptr(), self.iovecs.len() as u32)
            .offset(self.pos)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (fd, pos) = (self.fd.as_raw_fd(), self.pos);
        let (iov, cnt) = (self.iovecs.as_ptr() as usize, self.iovecs.len());
        let job = move || {
            // SAFETY: memory owned by the op (see below).
            let (iov, cnt) = (iov as *const libc::iovec, cnt as i32);
            // SAFETY: as above.
            let r = unsafe {
                if pos == CURSOR {
                    libc::writev(fd, iov, cnt)
                } else {
                    libc::pwritev(fd, iov, cnt, pos as i64)
                }
            };
            cvt_len(r as _)
        };
        // SAFETY: the iovec array and the memory it describes belong to the
        // op value, alive and in place until the job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> BufResult<usize, Vec<B>> {
        (c.result.map(|n| n as usize), self.bufs)
    }
}
