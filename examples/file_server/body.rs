//! File bodies from file to socket without a userspace copy, in bounded
//! chunks, so a 4 GiB file costs no more memory than a 4 KiB one.
//!
//! - **io_uring:** `IORING_OP_SPLICE` file → pipe, then pipe → socket, one
//!   chunk (the pipe's capacity, grown to [`PIPE_SIZE`] where allowed) at a
//!   time. The pipe belongs to the connection and is made on its first large
//!   body. A splice into the socket that answers `EAGAIN` (the socket is
//!   non-blocking and full) waits with a `POLL_ADD` and tries again.
//! - **epoll:** `sendfile(2)` on the non-blocking socket as a readiness op
//!   (`EAGAIN` → wait until writable). It may block the loop on a cold page
//!   cache, as sendfile does in every reactor server.
//! - **Either, on `EINVAL`/unsupported before any byte went out:** read +
//!   write through one [`COPY_CHUNK`] buffer.
//!
//! Every step runs under the connection's minimum send rate
//! (`examples/support/deadline.rs`): a client that stops reading, or reads
//! a trickle, is dropped one `--write-timeout` window after its socket
//! buffers filled, on both backends; a dropped op's fds stay open until the
//! kernel is done with them.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;

use ringloop::driver::Op;
use ringloop::fs::File;
use ringloop::net::TcpStream;
use ringloop::Backend;

use crate::deadline::{self, Pace, Watchdog};
use crate::ops::{PollOut, SendFile, Splice};

/// Pipe capacity asked for with `F_SETPIPE_SZ` (the default is 64 KiB).
const PIPE_SIZE: i32 = 256 * 1024;
/// Most bytes per `sendfile` call.
const SENDFILE_CHUNK: usize = 1 << 20;
/// Buffer of the read + write fallback.
const COPY_CHUNK: usize = 64 * 1024;

/// A connection's splice pipe.
pub struct Pipe {
    r: Rc<OwnedFd>,
    w: Rc<OwnedFd>,
    cap: u32,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded: both fds are new and ours.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on an fd we own; failure (a per-user pipe limit)
        // leaves the default capacity, which F_GETPIPE_SZ reports.
        let cap = unsafe {
            libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE);
            libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ)
        };
        Ok(Pipe {
            r: Rc::new(r),
            w: Rc::new(w),
            cap: if cap > 0 { cap as u32 } else { 64 * 1024 },
        })
    }
}

/// Where a body goes, and the connection's send-rate state.
pub struct Sink<'a> {
    pub sock: &'a Rc<TcpStream>,
    pub pipe: &'a RefCell<Option<Pipe>>,
    pub dog: &'a mut Watchdog,
    pub pace: &'a mut Pace,
}

impl Sink<'_> {
    /// Runs one step of the body under the minimum send rate.
    async fn within<T>(&mut self, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
        self.pace.within(self.dog, fut).await?
    }
}

fn no_zero_copy(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL) || e.kind() == io::ErrorKind::Unsupported
}

/// Sends bytes `start..start + len` of `file`; returns the bytes sent, or
/// the error with which the connection must close.
pub async fn send(sink: &mut Sink<'_>, file: &Rc<File>, start: u64, len: u64) -> io::Result<u64> {
    let mut sent = 0;
    let r = match ringloop::current_backend() {
        Some(Backend::IoUring) => splice(sink, file, start, len, &mut sent).await,
        _ => sendfile(sink, file, start, len, &mut sent).await,
    };
    match r {
        Err(e) if sent == 0 && no_zero_copy(&e) => copy(sink, file, start, len).await,
        Err(e) => Err(e),
        Ok(()) => Ok(sent),
    }
}

fn eof(done: u64, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("file ended after {done} of {len} bytes"),
    )
}

async fn splice(
    sink: &mut Sink<'_>,
    file: &Rc<File>,
    start: u64,
    len: u64,
    sent: &mut u64,
) -> io::Result<()> {
    let (r, w, cap) = {
        let mut slot = sink.pipe.borrow_mut();
        if slot.is_none() {
            *slot = Some(Pipe::new()?);
        }
        let p = slot.as_ref().expect("just made");
        (p.r.clone(), p.w.clone(), p.cap)
    };
    let sock: Rc<dyn AsRawFd> = sink.sock.clone();
    let src: Rc<dyn AsRawFd> = file.clone();
    while *sent < len {
        let want = (len - *sent).min(u64::from(cap)) as u32;
        let off = (start + *sent) as i64;
        let n = sink
            .within(Op::new(Splice::new(src.clone(), off, w.clone(), want)))
            .await?;
        if n == 0 {
            return Err(eof(*sent, len));
        }
        let mut left = n;
        while left > 0 {
            let op = Splice::new(r.clone(), -1, sock.clone(), left as u32);
            match sink.within(Op::new(op)).await {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => {
                    left -= m.min(left);
                    sink.pace.sent(m);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sink.within(Op::new(PollOut::new(sock.clone()))).await?;
                }
                Err(e) => return Err(e),
            }
        }
        *sent += n as u64;
    }
    Ok(())
}

async fn sendfile(
    sink: &mut Sink<'_>,
    file: &Rc<File>,
    start: u64,
    len: u64,
    sent: &mut u64,
) -> io::Result<()> {
    let sock: Rc<dyn AsRawFd> = sink.sock.clone();
    let src: Rc<dyn AsRawFd> = file.clone();
    while *sent < len {
        let want = ((len - *sent) as usize).min(SENDFILE_CHUNK);
        let op = SendFile::new(sock.clone(), src.clone(), start + *sent, want);
        match sink.within(Op::new(op)).await? {
            0 => return Err(eof(*sent, len)),
            n => {
                *sent += n as u64;
                sink.pace.sent(n);
            }
        }
    }
    Ok(())
}

async fn copy(sink: &mut Sink<'_>, file: &Rc<File>, start: u64, len: u64) -> io::Result<u64> {
    use ringloop::buf::IoBuf;
    let mut buf = Vec::with_capacity(COPY_CHUNK);
    let mut done = 0;
    while done < len {
        buf.clear();
        let want = ((len - done) as usize).min(COPY_CHUNK);
        let read = file.read_at(buf.slice(..want), start + done);
        let (r, b) = sink.pace.within(sink.dog, read).await?;
        let n = r?;
        if n == 0 {
            return Err(eof(done, len));
        }
        buf = deadline::write_all(&**sink.sock, b.into_inner(), sink.dog, sink.pace).await?;
        done += n as u64;
    }
    Ok(done)
}
