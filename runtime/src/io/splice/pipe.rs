//! [`Pipe`]: the kernel buffer a splice goes through.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::driver::SharedFd;
use crate::sys::{context, cvt};

/// Capacity [`Pipe::new`] asks for (`F_SETPIPE_SZ`; the kernel's default
/// is 64 KiB): one splice moves up to this much.
const CAPACITY: usize = 256 * 1024;

/// A pipe (`pipe2(O_NONBLOCK | O_CLOEXEC)`), both ends owned as
/// [`SharedFd`]s, so an operation in flight keeps them open.
///
/// Splices through it never wait on it inside the kernel (see the
/// [module docs](crate::io#zero-copy-splice-and-sendfile)). Dropping
/// it closes both ends once no operation holds them.
///
/// # Examples
///
/// ```
/// let pipe = ringloop::io::Pipe::new().unwrap();
/// assert!(pipe.capacity() >= 4096);
/// ```
#[derive(Debug)]
pub struct Pipe {
    r: SharedFd,
    w: SharedFd,
    cap: usize,
}

impl Pipe {
    /// A pipe whose capacity is raised to 256 KiB where the per-user pipe
    /// limits allow (`/proc/sys/fs/pipe-max-size`, `pipe-user-pages-soft`);
    /// else it keeps the size the kernel gave it ([`capacity`](Self::capacity)).
    pub fn new() -> io::Result<Pipe> {
        Pipe::with_capacity(CAPACITY)
    }

    /// A pipe of (about) `bytes` capacity; the kernel rounds it up to a
    /// power of two pages, and keeps its default where `bytes` is not
    /// allowed.
    pub fn with_capacity(bytes: usize) -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe2 writes.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })
            .map_err(|e| context(e, "pipe2"))?;
        // SAFETY: pipe2 succeeded: both fds are new and owned by nobody else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let want = i32::try_from(bytes).unwrap_or(i32::MAX);
        // SAFETY: fcntl on an fd we own. A refusal (EPERM over a per-user
        // limit, EINVAL above pipe-max-size) leaves the default size.
        unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, want) };
        // SAFETY: fcntl on an fd we own.
        let cap = cvt(unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) })
            .map_err(|e| context(e, "fcntl(F_GETPIPE_SZ)"))?;
        Ok(Pipe {
            r: SharedFd::new(r),
            w: SharedFd::new(w),
            cap: cap as usize,
        })
    }

    /// The pipe's capacity in bytes: the most one splice into it moves.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The read end.
    pub fn reader(&self) -> &SharedFd {
        &self.r
    }

    /// The write end.
    pub fn writer(&self) -> &SharedFd {
        &self.w
    }
}
