//! Owned halves of a stream socket, for one task that reads while another
//! writes the same connection.
//!
//! Both halves hold a clone of the socket's `SharedFd` (an `Rc`), so the fd
//! closes when the last of them (and of the operations in flight on it)
//! goes. **Dropping the write half shuts the writing direction down**
//! (`shutdown(SHUT_WR)`, as tokio and monoio do): the peer reads end of
//! stream even while the read half lives on, which is what a peer that
//! reads until EOF needs. [`WriteHalf::shutdown`] does the same and reports
//! its error; `reunite` puts the halves back together
//! without shutting anything down. The halves are `!Send`, like everything
//! on a loop thread.

use std::fmt;
use std::io;
use std::marker::PhantomData;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::io::{AsSharedFd, AsyncRead, AsyncWrite};

use crate::socket::Socket;

/// The reading half of a stream `S` (`TcpStream`, `UnixStream`), made by
/// its `into_split`.
pub struct ReadHalf<S> {
    pub(crate) sock: Socket,
    _s: PhantomData<fn() -> S>,
}

/// The writing half of a stream `S`, made by its `into_split`. Dropping it
/// shuts the writing direction down (the peer reads end of stream).
pub struct WriteHalf<S> {
    pub(crate) sock: Socket,
    /// Whether the drop shuts the writing direction down: not when the
    /// halves are reunited.
    shutdown_on_drop: bool,
    _s: PhantomData<fn() -> S>,
}

pub(crate) fn split<S>(sock: Socket) -> (ReadHalf<S>, WriteHalf<S>) {
    let r = ReadHalf {
        sock: sock.clone(),
        _s: PhantomData,
    };
    (
        r,
        WriteHalf {
            sock,
            shutdown_on_drop: true,
            _s: PhantomData,
        },
    )
}

/// The halves given to `reunite` come from different streams; both are
/// handed back.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different streams")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

/// Checks that `r` and `w` are halves of one stream and returns its socket.
pub(crate) fn reunite<S>(r: ReadHalf<S>, mut w: WriteHalf<S>) -> Result<Socket, ReuniteError<S>> {
    if r.sock.same(&w.sock) {
        w.shutdown_on_drop = false;
        drop(w);
        Ok(r.sock)
    } else {
        Err(ReuniteError(r, w))
    }
}

impl<S> ReadHalf<S> {
    /// A scattering read into `bufs`, in order, with one `recvmsg`; see
    /// the stream's `readv`.
    pub async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.readv(bufs).await
    }
}

impl<S> WriteHalf<S> {
    /// Shuts down the writing direction (the peer reads end-of-stream); the
    /// read half keeps working. Dropping the half does the same, without
    /// the error.
    pub async fn shutdown(&self) -> io::Result<()> {
        self.sock.shutdown(std::net::Shutdown::Write).await
    }

    /// A gathering write of `bufs` in one `sendmsg`; see the stream's
    /// `writev`.
    pub async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }
}

impl<S> Drop for WriteHalf<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // `shutdown(2)` never blocks. An error (the peer reset the
            // connection, or it was shut down already) leaves nothing to do.
            let _ = crate::sys::shutdown(self.sock.raw(), libc::SHUT_WR);
        }
    }
}

impl<S> AsyncRead for ReadHalf<S> {
    fn read<B: IoBufMut>(&self, buf: B) -> impl std::future::Future<Output = BufResult<usize, B>> {
        self.sock.recv(buf)
    }
    async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.readv(bufs).await
    }
}

impl<S> AsyncWrite for WriteHalf<S> {
    fn write<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = BufResult<usize, B>> {
        self.sock.send(buf)
    }
    async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }
    /// Sends the FIN (`shutdown(SHUT_WR)`).
    async fn shutdown(&self) -> io::Result<()> {
        WriteHalf::shutdown(self).await
    }
}

/// The socket, for the zero-copy calls (`ringloop::io::zero_copy` from a
/// reading half to another stream's writing half makes a proxy).
impl<S> AsSharedFd for ReadHalf<S> {
    fn as_shared_fd(&self) -> &SharedFd {
        self.sock.shared_fd()
    }
}

/// The socket, for the zero-copy calls.
impl<S> AsSharedFd for WriteHalf<S> {
    fn as_shared_fd(&self) -> &SharedFd {
        self.sock.shared_fd()
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReadHalf").field(&self.sock).finish()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WriteHalf").field(&self.sock).finish()
    }
}
