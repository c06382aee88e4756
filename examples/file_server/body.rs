//! File bodies from file to socket without a userspace copy, in bounded
//! chunks, so a 4 GiB file costs no more memory than a 4 KiB one, with
//! ringloop's public [`FileToSocket`] (`ringloop::io`):
//!
//! - **io_uring:** `IORING_OP_SPLICE` file → pipe, then pipe → socket, one
//!   pipe's capacity (256 KiB where allowed) at a time. The pipe belongs to
//!   the connection: made on its first large body, handed back after each.
//! - **epoll:** `sendfile(2)` on the non-blocking socket as a readiness op
//!   (`EAGAIN` → wait until writable). It may block the loop on a cold page
//!   cache, as sendfile does in every reactor server.
//! - **Either, on `EINVAL`/unsupported before any byte went out:** read +
//!   write through one [`COPY_CHUNK`] buffer.
//!
//! Every step runs under the connection's minimum send rate
//! (`examples/support/deadline.rs`): a client that stops reading, or reads
//! a trickle, is dropped one `--write-timeout` window after its socket
//! buffers filled, on both backends; a dropped step's fds stay open until
//! the kernel is done with them.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::rc::Rc;

use ringloop::fs::File;
use ringloop::io::{os_error, FileToSocket, Pipe};
use ringloop::net::TcpStream;

use crate::deadline::{self, Pace, Watchdog};

/// Buffer of the read + write fallback.
const COPY_CHUNK: usize = 64 * 1024;

/// Where a body goes, and the connection's send-rate state.
pub struct Sink<'a> {
    pub sock: &'a Rc<TcpStream>,
    /// The connection's splice pipe, between bodies.
    pub pipe: &'a RefCell<Option<Pipe>>,
    pub dog: &'a mut Watchdog,
    pub pace: &'a mut Pace,
}

fn no_zero_copy(e: &io::Error) -> bool {
    os_error(e) == Some(libc::EINVAL) || e.kind() == io::ErrorKind::Unsupported
}

/// Sends bytes `start..start + len` of `file`; returns the bytes sent, or
/// the error with which the connection must close.
pub async fn send(sink: &mut Sink<'_>, file: &Rc<File>, start: u64, len: u64) -> io::Result<u64> {
    let mut body = FileToSocket::new(&**file, start, len, &**sink.sock);
    if let Some(pipe) = sink.pipe.borrow_mut().take() {
        body = body.with_pipe(pipe);
    }
    let r = steps(sink, &mut body).await;
    let sent = body.sent();
    let ended = body.file_ended();
    // An unfinished step leaves bytes in the pipe: then it goes.
    *sink.pipe.borrow_mut() = body.into_pipe();
    match r {
        Err(e) if sent == 0 && no_zero_copy(&e) => copy(sink, file, start, len).await,
        Err(e) => Err(e),
        Ok(()) if ended => Err(eof(sent, len)),
        Ok(()) => Ok(sent),
    }
}

/// Runs the copy's steps, each under the minimum send rate.
async fn steps(sink: &mut Sink<'_>, body: &mut FileToSocket) -> io::Result<()> {
    loop {
        match within(sink, body.step()).await? {
            0 => return Ok(()),
            n => sink.pace.sent(n),
        }
    }
}

/// Runs one step of the body under the minimum send rate.
async fn within<T>(sink: &mut Sink<'_>, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    sink.pace.within(sink.dog, fut).await?
}

fn eof(done: u64, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("file ended after {done} of {len} bytes"),
    )
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
