//! [`UnixListener`]: a listening Unix stream socket.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

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

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.l.sock().raw()).finish()
    }
}
