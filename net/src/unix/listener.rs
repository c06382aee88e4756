//! [`UnixListener`]: a listening Unix stream socket.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

use crate::convert::{Expect, UNIX};
use crate::incoming::Incoming;
use crate::listener::Listener;
use crate::socket::Socket;

use super::{SocketAddr, UnixStream};

/// A listening Unix stream socket. Accepting works as for TCP (multishot
/// accept on io_uring for [`incoming`](Self::incoming)).
pub struct UnixListener {
    l: Listener,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist) and listens.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Binds to `addr` (a path or an abstract name) and listens with a
    /// backlog of 1024.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let sock = Socket::new(libc::AF_UNIX, libc::SOCK_STREAM, "unix stream")?;
        sock.bind(&addr.raw, addr)?;
        sock.listen(1024)?;
        Ok(UnixListener {
            l: Listener::new(sock),
        })
    }

    /// Accepts one connection; see `TcpListener::accept`.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, addr) = self.l.accept().await?;
        Ok((UnixStream::from_fd(fd)?, super::addr(addr)?))
    }

    /// The accepted connections as a stream (see [`Incoming`]).
    pub fn incoming(&self) -> Incoming<UnixStream> {
        self.l.incoming(UnixStream::from_fd)
    }

    /// Takes ownership of a std Unix listener — made before the runtime
    /// started (in `main`, or inherited from a supervisor) or by code that
    /// knows only std — for the current loop, and makes it non-blocking.
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime: the socket must belong to the loop that
    /// uses it (the one given is closed). `InvalidInput` for an fd that is
    /// not a listening Unix stream socket; the OS error when `fcntl` fails.
    pub fn from_std(l: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        let sock = Socket::from_std(
            l.into(),
            "unix stream",
            &Expect {
                domains: UNIX,
                ty: libc::SOCK_STREAM,
                listening: true,
            },
        )?;
        Ok(UnixListener {
            l: Listener::new(sock),
        })
    }

    /// Gives the socket back to std, in blocking mode (std's default). The
    /// std value holds a duplicate of the fd (`F_DUPFD_CLOEXEC`) for the
    /// same socket: its number differs from
    /// [`as_raw_fd`](AsRawFd::as_raw_fd)'s, which the runtime closes as this
    /// value drops. Convert once no ringloop operation uses the socket any
    /// more: blocking mode is the socket's, shared by both fds. An
    /// [`Incoming`] of this listener that still lives makes it refuse
    /// (that stream would go on accepting on a blocking socket); connections
    /// handed back by dropped accepts (see [`accept`](Self::accept)) are
    /// closed.
    ///
    /// # Errors
    ///
    /// When the fd cannot be duplicated (`EMFILE`), and `ResourceBusy` while an `Incoming` of the listener lives (the
    /// listener is closed then).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(std::os::unix::net::UnixListener::from(self.l.into_std()?))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.l.sock().local_addr()?)
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.l.sock().raw()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.l.sock().as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.l.sock().raw()).finish()
    }
}
