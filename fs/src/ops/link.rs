//! `IORING_OP_LINKAT` and `IORING_OP_SYMLINKAT` (Linux 5.15): `linkat(2)`
//! and `symlinkat(2)`.
//!
//! Older kernels run the syscall on the blocking pool. A dropped future may
//! still create the link.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};
use ringloop_runtime::driver::{BlockingJob, Completion, Fallback, OpCode};

use super::cvt0;

/// Creates the hard link `link` to the existing file `original`.
pub(crate) struct Link {
    original: CString,
    link: CString,
}

impl Link {
    pub(crate) fn new(original: CString, link: CString) -> Self {
        Link { original, link }
    }
}

// SAFETY: the SQE and the pool job point to the two CStrings owned by the op
// value, alive until the final completion or the job's return.
unsafe impl OpCode for Link {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::LinkAt::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::LinkAt::new(cwd, self.original.as_ptr(), cwd, self.link.as_ptr()).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (from, to) = (self.original.as_ptr() as usize, self.link.as_ptr() as usize);
        let job = move || {
            // SAFETY: NUL-terminated paths owned by the op (see below).
            cvt0(unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    from as *const libc::c_char,
                    libc::AT_FDCWD,
                    to as *const libc::c_char,
                    0,
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

/// Creates the symbolic link `link` whose contents are `target`.
pub(crate) struct Symlink {
    target: CString,
    link: CString,
}

impl Symlink {
    pub(crate) fn new(target: CString, link: CString) -> Self {
        Symlink { target, link }
    }
}

// SAFETY: as for `Link`.
unsafe impl OpCode for Symlink {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::SymlinkAt::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::SymlinkAt::new(cwd, self.target.as_ptr(), self.link.as_ptr()).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let (target, link) = (self.target.as_ptr() as usize, self.link.as_ptr() as usize);
        let job = move || {
            // SAFETY: NUL-terminated paths owned by the op (see below).
            cvt0(unsafe {
                libc::symlinkat(
                    target as *const libc::c_char,
                    libc::AT_FDCWD,
                    link as *const libc::c_char,
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
