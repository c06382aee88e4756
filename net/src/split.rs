//! Owned halves of a stream socket, for one task that reads while another
//! writes the same connection.
//!
//! Both halves hold a clone of the socket's `SharedFd` (an `Rc`), so the fd
//! closes when the last of them (and of the operations in flight on it)
//! goes. Dropping the write half does **not** shut the connection down for
//! writing; call [`WriteHalf::shutdown`] for a half-close. The halves are
//! `!Send`, like everything on a loop thread.

use std::fmt;
use std::io;
use std::marker::PhantomData;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::io::{AsyncRead, AsyncWrite};

use crate::socket::Socket;

/// The reading half of a stream `S` (`TcpStream`, `UnixStream`), made by
/// its `into_split`.
pub struct ReadHalf<S> {
    pub(crate) sock: Socket,
    _s: PhantomData<fn() -> S>,
}

/// The writing half of a stream `S`, made by its `into_split`.
pub struct WriteHalf<S> {
    pub(crate) sock: Socket,
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
pub(crate) fn reunite<S>(r: ReadHalf<S>, w: WriteHalf<S>) -> Result<Socket, ReuniteError<S>> {
    if r.sock.same(&w.sock) {
        drop(w);
        Ok(r.sock)
    } else {
        Err(ReuniteError(r, w))
    }
}

impl<S> WriteHalf<S> {
    /// Shuts down the writing direction (the peer reads end-of-stream); the
    /// read half keeps working.
    pub async fn shutdown(&self) -> io::Result<()> {
        self.sock.shutdown(std::net::Shutdown::Write).await
    }

    /// A gathering write of `bufs` in one `sendmsg`; see the stream's
    /// `writev`.
    pub async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }
}

impl<S> AsyncRead for ReadHalf<S> {
    fn read<B: IoBufMut>(&self, buf: B) -> impl std::future::Future<Output = BufResult<usize, B>> {
        self.sock.recv(buf)
    }
}

impl<S> AsyncWrite for WriteHalf<S> {
    fn write<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = BufResult<usize, B>> {
        self.sock.send(buf)
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
