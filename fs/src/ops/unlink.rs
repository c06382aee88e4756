//! `IORING_OP_UNLINKAT` (Linux 5.11): `unlinkat(2)`, for files and, with
//! `AT_REMOVEDIR`, empty directories.
//!
//! Older kernels run `unlinkat` on the blocking pool. A dropped future may
//! still remove the entry.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::cvt0;

/// Removes a file, or an empty directory when `dir`.
pub(crate) struct Unlink {
    path: CString,
    flags: i32,
}

impl Unlink {
    pub(crate) fn new(path: CString, dir: bool) -> Self {
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        Unlink { path, flags }
    }
}

// SAFETY: the SQE and the pool job point to `self.path`, a heap CString owned
// by the op value, alive until the final completion or the job's return.
unsafe impl OpCode for Unlink {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::UnlinkAt::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (path, flags) = (self.path.as_ptr() as usize, self.flags);
        let job = move || {
            // SAFETY: a NUL-terminated path owned by the op (see below).
            cvt0(unsafe { libc::unlinkat(libc::AT_FDCWD, path as *const libc::c_char, flags) })
        };
        // SAFETY: `path` points into the op's CString, alive until the job
        // returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
