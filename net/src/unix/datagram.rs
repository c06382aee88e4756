//! [`UnixDatagram`]: a Unix datagram socket (message boundaries kept,
//! reliable and ordered on one host).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::Interest;

use crate::convert::{Expect, UNIX};
use crate::socket::Socket;
use crate::sys;

use super::SocketAddr;

/// A Unix datagram socket.
pub struct UnixDatagram {
    sock: Socket,
}

impl UnixDatagram {
    /// Binds to the socket file `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Binds to `addr` (a path or an abstract name).
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let d = UnixDatagram::unbound()?;
        d.sock.bind(&addr.raw, addr)?;
        Ok(d)
    }

    /// A socket with no name: it can send, and receive replies only once
    /// connected or if the peer knows it (it is autobound to an abstract
    /// name by the kernel on first send when `SO_PASSCRED` is set; plain
    /// sends stay unnamed).
    pub fn unbound() -> io::Result<UnixDatagram> {
        let sock = Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM, "unix datagram")?;
        Ok(UnixDatagram { sock })
    }

    /// A pair of connected, unnamed datagram sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = sys::socketpair(libc::SOCK_DGRAM)?;
        Ok((UnixDatagram::from_fd(a)?, UnixDatagram::from_fd(b)?))
    }

    fn from_fd(fd: OwnedFd) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            sock: Socket::from_owned(fd, "unix datagram")?,
        })
    }

    /// Takes ownership of a std Unix datagram socket — made before the runtime
    /// started (in `main`, or inherited from a supervisor) or by code that
    /// knows only std — for the current loop, and makes it non-blocking.
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime: the socket must belong to the loop that
    /// uses it (the one given is closed). `InvalidInput` for an fd that is
    /// not a Unix datagram socket; the OS error when `fcntl` fails.
    pub fn from_std(s: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        let sock = Socket::from_std(
            s.into(),
            "unix datagram",
            &Expect {
                domains: UNIX,
                ty: libc::SOCK_DGRAM,
                listening: false,
            },
        )?;
        Ok(UnixDatagram { sock })
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
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Ok(std::os::unix::net::UnixDatagram::from(
            self.sock.into_std()?,
        ))
    }

    /// Sets the default peer (never waits).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.connect_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Sets the default peer to `addr` (never waits).
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.sock.connect_now(&addr.raw, addr)
    }

    /// Sends one datagram to the socket file `path`.
    pub async fn send_to<B: IoBuf>(&self, buf: B, path: impl AsRef<Path>) -> BufResult<usize, B> {
        match SocketAddr::from_pathname(path) {
            Ok(a) => self.send_to_addr(buf, &a).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Sends one datagram to `addr`.
    pub async fn send_to_addr<B: IoBuf>(&self, buf: B, addr: &SocketAddr) -> BufResult<usize, B> {
        self.sock.send_to(buf, addr.raw, addr).await
    }

    /// Receives one datagram and its sender's address.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (r, buf) = self.sock.recv_from(buf).await;
        (r.and_then(|(n, a)| Ok((n, super::addr(a)?))), buf)
    }

    /// Sends one datagram to the connected peer.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.sock.send(buf).await
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.sock.recv(buf).await
    }

    /// Waits until the socket is readable: a datagram, or an error to
    /// report. For code that makes its own non-blocking syscalls
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

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.sock.peer_addr()?)
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

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.sock.local_addr()?)
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.sock.raw())
            .finish()
    }
}
