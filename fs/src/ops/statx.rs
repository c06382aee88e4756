//! `IORING_OP_STATX` (Linux 5.6): `statx(2)` on an open fd or on a path.
//!
//! The op owns the `libc::statx` struct the kernel fills and the path
//! `CString` (empty, with `AT_EMPTY_PATH`, for an fd). On the pool path it
//! is `statx` on a pool thread. A dropped future leaves both in the driver
//! until the kernel is done.

use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{BlockingJob, Cached, Completion, Fallback, OpCode};

use super::cvt0;

/// What the kernel should fill: the basic fields and the birth time.
const MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

/// Looks up the metadata of an fd or a path.
pub(crate) struct Statx {
    fd: Option<SharedFd>,
    path: CString,
    flags: i32,
    // Boxed: 256 bytes the kernel writes; keeps the op value small to move.
    buf: Box<libc::statx>,
}

impl Statx {
    /// Metadata of the open file `fd`.
    pub(crate) fn fd(fd: SharedFd) -> Self {
        Statx {
            fd: Some(fd),
            path: CString::default(),
            flags: libc::AT_EMPTY_PATH,
            buf: zeroed(),
        }
    }

    /// Metadata of `path`; of the link itself when `follow` is false.
    pub(crate) fn path(path: CString, follow: bool) -> Self {
        Statx {
            fd: None,
            path,
            flags: if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW },
            buf: zeroed(),
        }
    }

    fn dirfd(&self) -> i32 {
        self.fd.as_ref().map_or(libc::AT_FDCWD, |f| f.as_raw_fd())
    }
}

fn zeroed() -> Box<libc::statx> {
    // SAFETY: `statx` is plain integers; all-zero is a valid value.
    Box::new(unsafe { std::mem::zeroed() })
}

// SAFETY: the SQE and the pool job point to `self.path` and `*self.buf`, heap
// memory owned by the op value, alive and unmoved until the final completion
// or the job's return; the op's SharedFd (if any) keeps the fd open.
unsafe impl OpCode for Statx {
    type Output = io::Result<libc::statx>;
    const CODE: u8 = opcode::Statx::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let buf: *mut libc::statx = &mut *self.buf;
        opcode::Statx::new(
            types::Fd(self.dirfd()),
            self.path.as_ptr(),
            buf.cast::<types::statx>(),
        )
        .flags(self.flags)
        .mask(MASK)
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    /// `statx` of an open file answers from its inode, in memory: done on
    /// the loop thread. A path lookup may need the disk: the pool.
    fn try_cached(&mut self) -> Cached {
        if self.fd.is_none() {
            return Cached::Skipped;
        }
        let buf: *mut libc::statx = &mut *self.buf;
        // SAFETY: `path` is NUL-terminated (empty, with AT_EMPTY_PATH) and
        // `buf` a writable statx owned by the op, both alive for the call.
        let r = unsafe { libc::statx(self.dirfd(), self.path.as_ptr(), self.flags, MASK, buf) };
        match cvt0(r) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Cached::WouldBlock,
            r => Cached::Done(r),
        }
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (dirfd, flags) = (self.dirfd(), self.flags);
        let path = self.path.as_ptr() as usize;
        let buf = &mut *self.buf as *mut libc::statx as usize;
        let job = move || {
            // SAFETY: a NUL-terminated path and a writable statx owned by the op (see below).
            cvt0(unsafe {
                libc::statx(
                    dirfd,
                    path as *const libc::c_char,
                    flags,
                    MASK,
                    buf as *mut libc::statx,
                )
            })
        };
        // SAFETY: `path` and `buf` point into the op value, alive and unmoved
        // until the job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<libc::statx> {
        c.result.map(|_| *self.buf)
    }
}
