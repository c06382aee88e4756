//! `IORING_OP_MKDIRAT` (Linux 5.15): `mkdirat(2)`.
//!
//! Older kernels run `mkdirat` on the blocking pool. A dropped future may
//! still create the directory.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::cvt0;

/// Creates the directory `path` with `mode` (before the umask).
pub(crate) struct Mkdir {
    path: CString,
    mode: libc::mode_t,
}

impl Mkdir {
    pub(crate) fn new(path: CString, mode: libc::mode_t) -> Self {
        Mkdir { path, mode }
    }
}

// SAFETY: the SQE and the pool job point to `self.path`, a heap CString owned
// by the op value, alive until the final completion or the job's return.
unsafe impl OpCode for Mkdir {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::MkDirAt::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (path, mode) = (self.path.as_ptr() as usize, self.mode);
        let job = move || {
            // SAFETY: a NUL-terminated path owned by the op (see below).
            cvt0(unsafe { libc::mkdirat(libc::AT_FDCWD, path as *const libc::c_char, mode) })
        };
        // SAFETY: `path` points into the op's CString, alive until the job
        // returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
