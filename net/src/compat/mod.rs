//! Poll-based I/O for the ecosystem: [`CopyIo`] gives a ringloop stream
//! the `futures-io` traits (feature `futures-io`) and tokio's I/O traits
//! (feature `tokio-io`), so hyper, tokio-util's codecs, `futures::io` and
//! the like run on ringloop.
//!
//! # Why it copies
//!
//! Poll-based traits lend the stream a buffer for one call
//! (`poll_read(cx, &mut [u8])`); a completion backend must hand the kernel a
//! buffer that stays valid until the completion arrives, which may be many
//! polls later, or after the caller has gone away. So [`CopyIo`] owns its
//! buffers: a read receives into the adapter's buffer and copies out what
//! arrived (keeping the rest for the next call), and a write copies the
//! caller's bytes into the adapter's buffer and sends from there. That is
//! one `memcpy` per direction that the owned-buffer API
//! ([`AsyncRead`](ringloop_runtime::io::AsyncRead) /
//! [`AsyncWrite`](ringloop_runtime::io::AsyncWrite)) does not pay; the
//! repository's `examples/compat_echo.rs` measures it against the
//! owned-buffer path (see `docs/compat.md` for figures).
//!
//! # Semantics
//!
//! - **Reads**: at most one receive is in flight. A read returns buffered
//!   bytes first; once they are gone it submits one receive of up to the
//!   read capacity into the adapter's buffer. 0 is end of stream.
//! - **Writes**: at most one send is in flight. `poll_write` waits
//!   (`Pending`) for the previous send to finish, then copies up to the
//!   write capacity and returns `Ready(n)` at once: the bytes are queued,
//!   not yet sent. A failed send surfaces on the **next** `poll_write`,
//!   `poll_flush` or `poll_close`/`poll_shutdown`. `poll_flush` waits for
//!   the send in flight (short sends are resubmitted until the buffer is
//!   out); `poll_close` / `poll_shutdown` flush, then shut the write side
//!   down (`shutdown(SHUT_WR)`): the peer reads end of stream. A
//!   connection that is already gone (`ENOTCONN`: the peer reset it) counts
//!   as shut down.
//! - Vectored writes copy every slice into the one buffer (up to its
//!   capacity) and send it with one call.
//! - In steady state a poll allocates nothing: the two buffers are reused,
//!   moving into each operation and back. (Each operation, like every ringloop
//!   operation, boxes its value once when it starts.)
//!
//! # Dropping
//!
//! Dropping a [`CopyIo`] while a receive or send is in flight cancels it
//! the way dropping any ringloop operation does: the buffer goes with the
//! operation to the driver, which frees it after the kernel's final
//! completion; nothing the kernel may still write is freed early. Bytes that
//! arrived into a cancelled receive are lost, and a cancelled send may have
//! sent part of its bytes, as with the owned-buffer API.
//!
//! # Which streams
//!
//! [`TcpStream`] and [`UnixStream`]
//! get both directions; their owned read halves only the read traits
//! ([`ReadStream`]), their owned write halves only the write traits
//! ([`WriteStream`]).
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "futures-io")]
//! # {
//! use std::future::poll_fn;
//! use std::pin::Pin;
//!
//! use futures_io::{AsyncRead, AsyncWrite};
//! use ringloop_net::compat::CopyIo;
//! use ringloop_net::UnixStream;
//!
//! ringloop_runtime::block_on(async {
//!     let (a, b) = UnixStream::pair().unwrap();
//!     let (mut a, mut b) = (CopyIo::new(a), CopyIo::new(b));
//!     let n = poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"ping")).await.unwrap();
//!     poll_fn(|cx| Pin::new(&mut a).poll_flush(cx)).await.unwrap();
//!     let mut buf = [0u8; 16];
//!     let m = poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf)).await.unwrap();
//!     assert_eq!(&buf[..m], &b"ping"[..n]);
//! });
//! # }
//! ```

use std::fmt;
use std::io;
use std::task::{Context, Poll};

use crate::socket::Socket;
use crate::split::{ReadHalf, WriteHalf};
use crate::{TcpStream, UnixStream};

mod read;
mod write;

#[cfg(feature = "futures-io")]
mod futures_traits;
#[cfg(feature = "tokio-io")]
mod tokio_traits;

use read::ReadState;
use write::WriteState;

/// Read capacity of [`CopyIo::new`]: the most one receive takes in.
pub const DEFAULT_READ_CAPACITY: usize = 16 * 1024;
/// Write capacity of [`CopyIo::new`]: the most one `poll_write` copies.
pub const DEFAULT_WRITE_CAPACITY: usize = 64 * 1024;

mod sealed {
    /// The socket behind a stream type [`CopyIo`](super::CopyIo) accepts.
    pub trait Stream: Unpin {
        fn socket(&self) -> Sock<'_>;
    }

    /// A borrowed socket (a public type with a crate-private field, so the
    /// sealed trait names no private type).
    #[derive(Debug)]
    pub struct Sock<'a>(pub(crate) &'a crate::socket::Socket);
}

/// A stream [`CopyIo`] can read from: [`TcpStream`], [`UnixStream`] and
/// their owned read halves. Sealed.
pub trait ReadStream: sealed::Stream {}

/// A stream [`CopyIo`] can write to: [`TcpStream`], [`UnixStream`] and
/// their owned write halves. Sealed.
pub trait WriteStream: sealed::Stream {}

macro_rules! stream {
    ($($t:ty: $($side:ident),+;)*) => {$(
        impl sealed::Stream for $t {
            fn socket(&self) -> sealed::Sock<'_> {
                sealed::Sock(&self.sock)
            }
        }
        $(impl $side for $t {})+
    )*};
}

stream! {
    TcpStream: ReadStream, WriteStream;
    UnixStream: ReadStream, WriteStream;
}

impl<S> sealed::Stream for ReadHalf<S> {
    fn socket(&self) -> sealed::Sock<'_> {
        sealed::Sock(&self.sock)
    }
}
impl<S> ReadStream for ReadHalf<S> {}

impl<S> sealed::Stream for WriteHalf<S> {
    fn socket(&self) -> sealed::Sock<'_> {
        sealed::Sock(&self.sock)
    }
}
impl<S> WriteStream for WriteHalf<S> {}

/// A ringloop stream with poll-based I/O traits, over buffers it owns and
/// **copies** through (see the [module docs](self) for why, and for what
/// each call means).
///
/// With feature `futures-io` it implements `futures_io::AsyncRead`,
/// `AsyncBufRead` and `AsyncWrite`; with feature `tokio-io`, tokio's
/// `AsyncRead`, `AsyncBufRead` and `AsyncWrite`. The read traits need
/// `S:` [`ReadStream`], the write traits `S:` [`WriteStream`], so a
/// write half has no read impls.
///
/// Every read copies the received bytes out of the adapter's buffer into the
/// caller's, and every write copies the caller's bytes into the adapter's
/// buffer before they are sent: use the stream's owned-buffer
/// [`AsyncRead`](ringloop_runtime::io::AsyncRead) and
/// [`AsyncWrite`](ringloop_runtime::io::AsyncWrite) where no poll-based API
/// is in the way.
///
/// `!Send`, like the stream: it belongs to the loop thread that made it.
pub struct CopyIo<S> {
    io: S,
    read: ReadState,
    write: WriteState,
}

impl<S: sealed::Stream> CopyIo<S> {
    /// Wraps `io` with [`DEFAULT_READ_CAPACITY`] and
    /// [`DEFAULT_WRITE_CAPACITY`]. Buffers are allocated on first use.
    pub fn new(io: S) -> CopyIo<S> {
        CopyIo::with_capacity(io, DEFAULT_READ_CAPACITY, DEFAULT_WRITE_CAPACITY)
    }

    /// Wraps `io`; one receive takes at most `read` bytes, one `poll_write`
    /// copies at most `write` bytes (each at least 1).
    pub fn with_capacity(io: S, read: usize, write: usize) -> CopyIo<S> {
        CopyIo {
            io,
            read: ReadState::new(read.max(1)),
            write: WriteState::new(write.max(1)),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Bytes received but not yet read (they go to the next read).
    pub fn buffered(&self) -> &[u8] {
        self.read.buffered()
    }

    /// Unwraps the stream. Buffered bytes ([`buffered`](Self::buffered))
    /// are dropped, and so is any operation in flight (cancelled: flush
    /// first so that no write is lost).
    pub fn into_inner(self) -> S {
        self.io
    }

    fn read_parts(&mut self) -> (&Socket, &mut ReadState) {
        (self.io.socket().0, &mut self.read)
    }

    fn write_parts(&mut self) -> (&Socket, &mut WriteState) {
        (self.io.socket().0, &mut self.write)
    }
}

impl<S: ReadStream> CopyIo<S> {
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let (sock, st) = self.read_parts();
        st.poll_fill(sock, cx)
    }

    fn consume(&mut self, n: usize) {
        self.read.consume(n);
    }
}

impl<S: WriteStream> CopyIo<S> {
    fn poll_write_slices(
        &mut self,
        cx: &mut Context<'_>,
        src: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let (sock, st) = self.write_parts();
        st.poll_write(sock, cx, src)
    }

    fn poll_flush_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (sock, st) = self.write_parts();
        st.poll_flush(sock, cx)
    }

    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (sock, st) = self.write_parts();
        st.poll_shutdown(sock, cx)
    }
}

impl<S: fmt::Debug> fmt::Debug for CopyIo<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyIo")
            .field("io", &self.io)
            .field("read", &self.read)
            .field("write", &self.write)
            .finish()
    }
}
