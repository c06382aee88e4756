//! `IORING_OP_OPENAT` (Linux 5.6): `openat(2)` relative to the current
//! directory.
//!
//! `O_CLOEXEC` is always added. (`OPENAT2` (5.6) would add `RESOLVE_*`
//! flags; nothing in [`OpenOptions`](crate::OpenOptions) needs them, so the
//! plain opcode keeps the probe requirement lowest.) On the pool path it is
//! `openat` on a pool thread.
//!
//! **A dropped open future never leaks the fd:** if the open completes after
//! the future was dropped, the runtime still hands the final result to
//! [`OpCode::complete`] (see the runtime's `driver/orphan.rs`) and drops the
//! output, an [`OwnedFd`], which closes it.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::{BlockingJob, Cached, Completion, Fallback, OpCode};

use crate::error::cvt_len;

/// Opens `path` with `flags` and `mode`.
pub(crate) struct Open {
    path: CString,
    flags: i32,
    mode: libc::mode_t,
}

impl Open {
    pub(crate) fn new(path: CString, flags: i32, mode: libc::mode_t) -> Self {
        Open {
            path,
            flags: flags | libc::O_CLOEXEC,
            mode,
        }
    }
}

// SAFETY: the SQE and the pool job point to `self.path`, a heap CString owned
// by the op value, alive until the final completion or the job's return.
unsafe impl OpCode for Open {
    type Output = io::Result<OwnedFd>;
    const CODE: u8 = opcode::OpenAt::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn try_cached(&mut self) -> Cached {
        super::cached::open_cached(&self.path, self.flags)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (path, flags, mode) = (self.path.as_ptr() as usize, self.flags, self.mode);
        let job = move || {
            // SAFETY: a NUL-terminated string owned by the op (see below).
            let fd =
                unsafe { libc::openat(libc::AT_FDCWD, path as *const libc::c_char, flags, mode) };
            cvt_len(fd as _)
        };
        // SAFETY: `path` points into the op's CString, alive and unmoved until
        // the job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<OwnedFd> {
        // SAFETY: a successful open returns a new fd that nobody else owns.
        c.result
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}
