//! [`UnixStream`]: a connected Unix stream socket, and its owned halves.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::Interest;
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::io::{AsSharedFd, AsyncRead, AsyncWrite};

use crate::convert::{Expect, UNIX};
use crate::socket::Socket;
use crate::split::{self, ReadHalf, ReuniteError, WriteHalf};
use crate::sys;

use super::{SocketAddr, UCred};

/// The reading half of a [`UnixStream`].
pub type OwnedReadHalf = ReadHalf<UnixStream>;
/// The writing half of a [`UnixStream`].
pub type OwnedWriteHalf = WriteHalf<UnixStream>;

/// A connected Unix stream socket; reads and writes as [`TcpStream`](crate::tcp::TcpStream)
/// does.
pub struct UnixStream {
    pub(crate) sock: Socket,
}

impl UnixStream {
    /// Connects to the socket file `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&SocketAddr::from_pathname(path)?).await
    }

    /// Connects to `addr` (a path or an abstract name).
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let sock = Socket::new(libc::AF_UNIX, libc::SOCK_STREAM, "unix stream")?;
        sock.connect(addr.raw, addr).await?;
        Ok(UnixStream { sock })
    }

    /// A pair of connected, unnamed streams (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = sys::socketpair(libc::SOCK_STREAM)?;
        Ok((UnixStream::from_fd(a)?, UnixStream::from_fd(b)?))
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream {
            sock: Socket::from_owned(fd, "unix stream")?,
        })
    }

    /// Takes ownership of a std Unix stream — made before the runtime
    /// started (in `main`, or inherited from a supervisor) or by code that
    /// knows only std — for the current loop, and makes it non-blocking.
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime: the socket must belong to the loop that
    /// uses it (the one given is closed). `InvalidInput` for an fd that is
    /// not a Unix stream socket; the OS error when `fcntl` fails.
    pub fn from_std(s: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        let sock = Socket::from_std(
            s.into(),
            "unix stream",
            &Expect {
                domains: UNIX,
                ty: libc::SOCK_STREAM,
                listening: false,
            },
        )?;
        Ok(UnixStream { sock })
    }

    /// Gives the socket back to std, in blocking mode (std's default). The
    /// std value holds a duplicate of the fd (`F_DUPFD_CLOEXEC`) for the
    /// same socket: its number differs from
    /// [`as_raw_fd`](AsRawFd::as_raw_fd)'s, which the runtime closes as this
    /// value drops. Convert once no ringloop operation uses the socket any
    /// more: blocking mode is the socket's, shared by both fds.
    ///
    /// # Errors
    ///
    /// When the fd cannot be duplicated (`EMFILE`).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(std::os::unix::net::UnixStream::from(self.sock.into_std()?))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.sock.local_addr()?)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.sock.peer_addr()?)
    }

    /// Waits until the socket is readable: data, end of stream, or an
    /// error to report. For code that makes its own non-blocking syscalls
    /// on the fd ([`as_raw_fd`](AsRawFd::as_raw_fd); the socket is
    /// non-blocking): wait, then read until `EAGAIN`, then wait again.
    /// Readiness can be spurious (another reader took the data first), so
    /// an `EAGAIN` after it just means waiting again. ringloop's own reads
    /// need none of this: they wait by themselves.
    ///
    /// A zero-timeout `poll(2)` first, so readiness that is already there
    /// returns at once; else a `POLL_ADD` on io_uring, the fd's next edge on
    /// epoll. Cancel-safe: dropping the future consumes nothing.
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.ready(Interest::Readable).await
    }

    /// Waits until the socket is writable (room in its send buffer, or an
    /// error to report); see [`readable`](Self::readable) for the pattern
    /// and for what the wait costs on each backend.
    pub async fn writable(&self) -> io::Result<()> {
        self.sock.ready(Interest::Writable).await
    }

    /// The credentials of the peer process (`SO_PEERCRED`), as they were
    /// when it connected: the usual way for a local server to know who is
    /// asking.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::net::UnixStream;
    ///
    /// ringloop::block_on(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let cred = a.peer_cred().unwrap();
    ///     assert_eq!(cred.pid(), Some(std::process::id() as i32));
    /// });
    /// ```
    pub fn peer_cred(&self) -> io::Result<UCred> {
        self.sock.peer_cred().map(UCred::new)
    }

    /// `SO_RCVBUF`: the kernel's receive buffer for this socket. Linux
    /// doubles the value (for its bookkeeping) and caps it at
    /// `net.core.rmem_max`; [`recv_buffer_size`](Self::recv_buffer_size)
    /// reports what it chose.
    pub fn set_recv_buffer_size(&self, bytes: u32) -> io::Result<()> {
        self.sock.set_recv_buffer_size(bytes)
    }

    /// The size of the receive buffer (`SO_RCVBUF`).
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.sock.recv_buffer_size()
    }

    /// `SO_SNDBUF`: the kernel's send buffer for this socket (doubled and
    /// capped at `net.core.wmem_max`, as for the receive buffer).
    pub fn set_send_buffer_size(&self, bytes: u32) -> io::Result<()> {
        self.sock.set_send_buffer_size(bytes)
    }

    /// The size of the send buffer (`SO_SNDBUF`).
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.sock.send_buffer_size()
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Shuts down one or both directions (`Shutdown::Write`: half-close).
    pub async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how).await
    }

    /// A gathering write of `bufs` in one `sendmsg` (see
    /// `TcpStream::writev`).
    pub async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }

    /// A scattering read into `bufs`, in order, with one `recvmsg`; see
    /// [`TcpStream::readv`](crate::TcpStream::readv).
    pub async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.readv(bufs).await
    }

    /// Splits into owned halves sharing the socket.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(self.sock)
    }
}

impl ReadHalf<UnixStream> {
    /// Puts the stream back together; an error if the halves come from
    /// different streams.
    pub fn reunite(self, w: OwnedWriteHalf) -> Result<UnixStream, ReuniteError<UnixStream>> {
        split::reunite(self, w).map(|sock| UnixStream { sock })
    }
}

/// Reads with one `RECV` (see `ops/recv.rs` for cancellation), vectored
/// reads with one `RECVMSG`.
impl AsyncRead for UnixStream {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.sock.recv(buf)
    }
    async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.readv(bufs).await
    }
}

/// Writes with one `SEND` and `MSG_NOSIGNAL`.
impl AsyncWrite for UnixStream {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.sock.send(buf)
    }
    async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }
    /// Sends the end of stream (`shutdown(SHUT_WR)`).
    async fn shutdown(&self) -> io::Result<()> {
        UnixStream::shutdown(self, Shutdown::Write).await
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

/// The socket for [`ringloop::io::splice`](ringloop_runtime::io::splice) and
/// the other zero-copy calls, which keep it open while they run.
impl AsSharedFd for UnixStream {
    fn as_shared_fd(&self) -> &SharedFd {
        self.sock.shared_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.sock.raw())
            .finish()
    }
}
