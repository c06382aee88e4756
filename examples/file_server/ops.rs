//! The file server's own operations: the runtime's seam is open, so an
//! application may add `OpCode`s the library crates do not have.
//!
//! - [`OpenAt2`]: `openat2(2)` relative to the root directory fd with
//!   `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, so the *kernel* refuses any
//!   path that leaves the root (`..`, absolute symlinks, symlinks pointing
//!   out). io_uring: an `IORING_OP_OPENAT2` SQE (5.6). epoll: the syscall on
//!   the blocking pool.
//! - [`Splice`]: `IORING_OP_SPLICE` (5.7), file → pipe → socket without a
//!   userspace copy. io_uring only; its fallback is "unsupported", and the
//!   body code then uses read + write.
//! - [`SendFile`]: `sendfile(2)` on the non-blocking socket, readiness path
//!   only (there is no sendfile SQE): `EAGAIN` waits until it is writable.
//! - [`PollOut`]: waits until a socket is writable (`POLL_ADD`), for a
//!   splice into a full socket that answered `EAGAIN`.
//!
//! Every op owns what its SQE or syscall points to (path, `open_how`) and a
//! reference to every fd it names, so a dropped future (a timeout, a
//! closed connection) never leaves the kernel acting on a closed fd.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;

use ringloop::driver::io_uring::{opcode, squeue, types};
use ringloop::driver::{BlockingJob, Completion, Fallback, Interest, OpCode, NO_OPCODE};

/// `O_*` flags of every file the server opens. `O_NONBLOCK` makes opening
/// a FIFO return at once instead of waiting for a writer (it is refused
/// later as not a regular file); it changes nothing for regular files.
const OPEN_FLAGS: i32 = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
const RESOLVE: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;

fn open_how() -> types::OpenHow {
    types::OpenHow::new()
        .flags(OPEN_FLAGS as u64)
        .resolve(RESOLVE)
}

fn openat2_now(dirfd: RawFd, path: *const libc::c_char, how: *const types::OpenHow) -> io::Result<u32> {
    // SAFETY: `path` is a NUL-terminated string and `how` an `open_how`
    // (`OpenHow` is `repr(transparent)` over it), both valid for the call
    // (callers' contract); the size passed is that struct's.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path,
            how,
            std::mem::size_of::<types::OpenHow>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u32)
    }
}

/// Opens the served root (`O_PATH | O_DIRECTORY`) and checks that the
/// kernel has `openat2` (5.6): without it the server refuses to start
/// rather than serve without the kernel's `RESOLVE_BENEATH` check.
pub fn open_root(dir: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("root {dir:?}: {e}")))?;
    let root = OwnedFd::from(f);
    let how = open_how();
    match openat2_now(root.as_raw_fd(), c".".as_ptr(), &how) {
        // SAFETY: openat2 returned a new fd that nothing else owns.
        Ok(fd) => drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            return Err(io::Error::new(
                e.kind(),
                "openat2(2) is missing (Linux < 5.6): refusing to serve without RESOLVE_BENEATH",
            ))
        }
        Err(e) => return Err(io::Error::new(e.kind(), format!("openat2 on root {dir:?}: {e}"))),
    }
    Ok(root)
}

/// `openat2(root, path, O_RDONLY, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`.
pub struct OpenAt2 {
    /// Keeps the directory fd open while the kernel or a pool thread uses it.
    root: Arc<OwnedFd>,
    path: CString,
    how: types::OpenHow,
}

impl OpenAt2 {
    pub fn new(root: Arc<OwnedFd>, path: CString) -> Self {
        OpenAt2 {
            root,
            path,
            how: open_how(),
        }
    }
}

// SAFETY: the SQE points at `self.path` (heap, owned) and `self.how`
// (inline in the boxed op, whose address the runtime keeps stable) and
// names `self.root`, which the op keeps open.
unsafe impl OpCode for OpenAt2 {
    type Output = io::Result<OwnedFd>;
    const CODE: u8 = opcode::OpenAt2::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt2::new(
            types::Fd(self.root.as_raw_fd()),
            self.path.as_ptr(),
            &self.how,
        )
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let dirfd = self.root.as_raw_fd();
        // Addresses cross to the pool thread as integers; see SAFETY below.
        let path = self.path.as_ptr() as usize;
        let how = &self.how as *const types::OpenHow as usize;
        // SAFETY: `path` and `how` point into this op, which the runtime
        // keeps alive and unmoved until the job returns (BlockingJob
        // contract); `root` keeps `dirfd` open as long.
        unsafe {
            BlockingJob::new(move || {
                openat2_now(dirfd, path as *const libc::c_char, how as *const types::OpenHow)
            })
        }
    }

    fn complete(self, c: Completion) -> io::Result<OwnedFd> {
        // SAFETY: a successful openat2 returns a new fd owned by no one else.
        c.result.map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

/// `splice(fd_in, off_in, fd_out, -1, len)`; one side must be a pipe.
pub struct Splice {
    fd_in: Rc<dyn AsRawFd>,
    /// Offset in `fd_in`, or -1 for a pipe (its own position).
    off_in: i64,
    fd_out: Rc<dyn AsRawFd>,
    len: u32,
}

impl Splice {
    pub fn new(fd_in: Rc<dyn AsRawFd>, off_in: i64, fd_out: Rc<dyn AsRawFd>, len: u32) -> Self {
        Splice {
            fd_in,
            off_in,
            fd_out,
            len,
        }
    }
}

// SAFETY: the SQE carries no pointer, only fds that the op keeps open.
unsafe impl OpCode for Splice {
    type Output = io::Result<usize>;
    const CODE: u8 = opcode::Splice::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Splice::new(
            types::Fd(self.fd_in.as_raw_fd()),
            self.off_in,
            types::Fd(self.fd_out.as_raw_fd()),
            -1,
            self.len,
        )
        .flags(libc::SPLICE_F_MOVE)
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        // Without the SQE the caller uses sendfile or read + write.
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.result.map(|n| n as usize)
    }
}

/// `sendfile(socket, file, &off, len)` on the readiness path.
pub struct SendFile {
    socket: Rc<dyn AsRawFd>,
    file: Rc<dyn AsRawFd>,
    off: libc::off_t,
    len: usize,
}

impl SendFile {
    pub fn new(socket: Rc<dyn AsRawFd>, file: Rc<dyn AsRawFd>, off: u64, len: usize) -> Self {
        SendFile {
            socket,
            file,
            off: off as libc::off_t,
            len,
        }
    }
}

// SAFETY: the SQE is never built (NO_OPCODE); `try_io` passes a pointer to
// `self.off`, valid for the call, and fds the op keeps open.
unsafe impl OpCode for SendFile {
    type Output = io::Result<usize>;
    const CODE: u8 = NO_OPCODE;

    fn sqe(&mut self) -> squeue::Entry {
        // Never called: no io_uring opcode, so the runtime takes `fallback`.
        opcode::Nop::new().build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.socket.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let len = self.len.min(1 << 30);
        // SAFETY: plain syscall on fds we hold; `off` is a valid off_t.
        let n = unsafe {
            libc::sendfile(
                self.socket.as_raw_fd(),
                self.file.as_raw_fd(),
                &mut self.off,
                len,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as u32)
        }
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.result.map(|n| n as usize)
    }
}

/// Resolves when `socket` is writable (or in error).
pub struct PollOut {
    socket: Rc<dyn AsRawFd>,
    tried: bool,
}

impl PollOut {
    pub fn new(socket: Rc<dyn AsRawFd>) -> Self {
        PollOut {
            socket,
            tried: false,
        }
    }
}

// SAFETY: the SQE carries no pointer, only an fd the op keeps open.
unsafe impl OpCode for PollOut {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::PollAdd::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(types::Fd(self.socket.as_raw_fd()), libc::POLLOUT as u32).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.socket.as_raw_fd(),
            interest: Interest::Writable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        // The first try waits; the retry after readiness succeeds.
        if std::mem::replace(&mut self.tried, true) {
            Ok(0)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
