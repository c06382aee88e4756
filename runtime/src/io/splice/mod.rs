//! Moving bytes between fds without copying them through user memory:
//! [`splice`] (one `splice(2)` between two fds, one of them a pipe),
//! [`copy_file_to_socket`] (a file's byte range to a socket, also one step
//! at a time with [`FileToSocket`]) and [`zero_copy`] (socket to socket
//! until end of stream, through a [`Pipe`]). They take anything that owns
//! its fd as a [`SharedFd`] ([`AsSharedFd`]: `TcpStream`, `UnixStream`,
//! `File`, a `Pipe` end, a `SharedFd` of your own).
//!
//! Which path each call takes on each backend, what a dropped future
//! leaves behind and what the errors say: see the [`io`](crate::io#zero-copy-splice-and-sendfile)
//! module docs.

mod cache;
mod copy;
mod file;
mod ops;
mod pipe;

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::driver::{Interest, Op, SharedFd};
use crate::sys::context;
use ops::{ready_now, Lowering, Splice, Wait};

pub use copy::zero_copy;
pub use file::{copy_file_to_socket, FileToSocket};
pub use pipe::Pipe;

/// A value that owns its fd as a [`SharedFd`], so that an operation can
/// keep the fd open (a clone) until the kernel is done with it, also when
/// the operation's future is dropped and the value itself goes away.
///
/// Implemented by ringloop's sockets and files; for an fd of your own, wrap
/// it: `SharedFd::new(owned_fd)`.
pub trait AsSharedFd {
    /// The fd, shared.
    fn as_shared_fd(&self) -> &SharedFd;
}

impl AsSharedFd for SharedFd {
    fn as_shared_fd(&self) -> &SharedFd {
        self
    }
}

impl<T: AsSharedFd + ?Sized> AsSharedFd for &T {
    fn as_shared_fd(&self) -> &SharedFd {
        (**self).as_shared_fd()
    }
}

impl<T: AsSharedFd + ?Sized> AsSharedFd for std::rc::Rc<T> {
    fn as_shared_fd(&self) -> &SharedFd {
        (**self).as_shared_fd()
    }
}

/// Moves up to `len` bytes from `from` to `to` with one `splice(2)`, from
/// and to the fds' own positions (a regular file's offset advances); one
/// of the two must be a pipe. Returns the bytes moved, 0 at the end of
/// `from` (or for `len` 0). Waits while the pipe or a socket is not ready.
///
/// See the [`io`](crate::io#zero-copy-splice-and-sendfile) module docs for
/// the path it takes on each backend.
///
/// # Examples
///
/// ```
/// use ringloop::io::{self, AsyncRead, AsyncWrite, Pipe};
/// use ringloop::net::UnixStream;
///
/// ringloop::block_on(async {
///     let (a, b) = UnixStream::pair()?;
///     let (c, d) = UnixStream::pair()?;
///     let pipe = Pipe::new()?;
///     a.write_all(b"hello").await.0?;
///     // socket -> pipe, then pipe -> socket: no byte passes through here.
///     assert_eq!(io::splice(&b, pipe.writer(), 64).await?, 5);
///     assert_eq!(io::splice(pipe.reader(), &c, 5).await?, 5);
///     let (n, buf) = d.read(Vec::with_capacity(8)).await;
///     assert_eq!((n?, &buf[..]), (5, &b"hello"[..]));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn splice<I, O>(from: &I, to: &O, len: usize) -> io::Result<usize>
where
    I: AsSharedFd + ?Sized,
    O: AsSharedFd + ?Sized,
{
    let (fi, fo) = (from.as_shared_fd(), to.as_shared_fd());
    let ctx = |e| {
        let (i, o) = (fi.as_raw_fd(), fo.as_raw_fd());
        context(e, format_args!("splice(fd {i} -> fd {o}, {len} bytes)"))
    };
    // Pipes and sockets: on the loop thread, on both backends (see
    // `Lowering`); a regular file: the SQE, or the pool.
    let lowering =
        if pollable(fi.as_raw_fd()).map_err(ctx)? && pollable(fo.as_raw_fd()).map_err(ctx)? {
            Lowering::Try
        } else {
            Lowering::Pool
        };
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    loop {
        match Op::new(Splice::new(fi, -1, fo, -1, len, lowering)).await {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_either(fi, fo).await.map_err(ctx)?
            }
            Err(e) => return Err(ctx(e)),
        }
    }
}

/// After an `EAGAIN` from a splice between `fi` and `fo`: waits for the
/// end that is not ready (the input to be readable, else the output to be
/// writable); with both ready (a race), yields once and lets it retry.
async fn wait_either(fi: &SharedFd, fo: &SharedFd) -> io::Result<()> {
    if !ready_now(fi.as_raw_fd(), Interest::Readable)? {
        wait(fi, Interest::Readable).await
    } else if !ready_now(fo.as_raw_fd(), Interest::Writable)? {
        wait(fo, Interest::Writable).await
    } else {
        crate::task::yield_now().await;
        Ok(())
    }
}

/// Waits until `fd` is ready for `interest`.
async fn wait(fd: &SharedFd, interest: Interest) -> io::Result<()> {
    Op::new(Wait::new(fd, interest)).await
}

/// Whether this loop submits splices as SQEs (io_uring with the opcode).
fn has_splice() -> bool {
    crate::driver::current::current()
        .is_some_and(|d| d.borrow().supports(io_uring::opcode::Splice::CODE))
}

/// Whether `fd` has readiness (a pipe or a socket), so its splice can run
/// non-blocking on the loop; otherwise it may block (a regular file).
fn pollable(fd: RawFd) -> io::Result<bool> {
    // SAFETY: an all-zero `stat` is a valid value for fstat to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer; `fd` is held open by the caller.
    crate::sys::cvt(unsafe { libc::fstat(fd, &mut st) })?;
    let fmt = st.st_mode & libc::S_IFMT;
    Ok(fmt == libc::S_IFIFO || fmt == libc::S_IFSOCK)
}
