//! `IORING_OP_RENAMEAT` (Linux 5.11): `renameat(2)`.
//!
//! Older kernels run `renameat` on the blocking pool. A dropped future may
//! still rename.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::cvt0;

/// Renames `from` to `to`, replacing `to` if it exists.
pub(crate) struct Rename {
    from: CString,
    to: CString,
}

impl Rename {
    pub(crate) fn new(from: CString, to: CString) -> Self {
        Rename { from, to }
    }
}

// SAFETY: the SQE and the pool job point to the two CStrings owned by the op
// value, alive until the final completion or the job's return.
unsafe impl OpCode for Rename {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::RenameAt::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::RenameAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (from, to) = (self.from.as_ptr() as usize, self.to.as_ptr() as usize);
        let job = move || {
            // SAFETY: NUL-terminated paths owned by the op (see below).
            cvt0(unsafe {
                libc::renameat(
                    libc::AT_FDCWD,
                    from as *const libc::c_char,
                    libc::AT_FDCWD,
                    to as *const libc::c_char,
                )
            })
        };
        // SAFETY: both pointers point into the op's CStrings, alive until the
        // job returns.
        unsafe { BlockingJob::new(job) }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
