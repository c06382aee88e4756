//! [`TcpListener`] and its builder.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use crate::incoming::Incoming;
use crate::listener::Listener;
use crate::socket::Socket;
use crate::sys::RawAddr;

use super::TcpStream;

/// Options for a listening TCP socket, applied before `bind`.
///
/// # Examples
///
/// ```
/// use ringloop::net::tcp::TcpListener;
///
/// ringloop::block_on(async {
///     let l = TcpListener::builder(([127, 0, 0, 1], 0))
///         .reuse_port(true)
///         .backlog(128)
///         .bind()
///         .unwrap();
///     assert_ne!(l.local_addr().unwrap().port(), 0);
/// });
/// ```
#[derive(Debug, Clone)]
pub struct TcpListenerBuilder {
    addr: SocketAddr,
    reuse_addr: bool,
    reuse_port: bool,
    only_v6: Option<bool>,
    backlog: i32,
}

impl TcpListenerBuilder {
    /// `SO_REUSEADDR` (default on): rebind a port with connections still in
    /// `TIME_WAIT`.
    pub fn reuse_addr(mut self, on: bool) -> Self {
        self.reuse_addr = on;
        self
    }

    /// `SO_REUSEPORT` (default off): several sockets, typically one per loop
    /// thread, bind the same port and the kernel spreads connections.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// `IPV6_V6ONLY` for an IPv6 address (default: the system's setting).
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// The `listen(2)` backlog (default 1024; the kernel caps it at
    /// `net.core.somaxconn`).
    pub fn backlog(mut self, n: u32) -> Self {
        self.backlog = i32::try_from(n).unwrap_or(i32::MAX);
        self
    }

    /// Creates, configures, binds and listens. Must run inside a ringloop
    /// runtime, on the loop that will use the listener.
    pub fn bind(self) -> io::Result<TcpListener> {
        let a = self.addr;
        let sock = Socket::new(super::domain(&a), libc::SOCK_STREAM, "tcp")?;
        if self.reuse_addr {
            sock.set_opt(
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                1 as libc::c_int,
                "SO_REUSEADDR",
            )?;
        }
        if self.reuse_port {
            sock.set_opt(
                libc::SOL_SOCKET,
                libc::SO_REUSEPORT,
                1 as libc::c_int,
                "SO_REUSEPORT",
            )?;
        }
        if let (Some(on), SocketAddr::V6(_)) = (self.only_v6, a) {
            let v = libc::c_int::from(on);
            sock.set_opt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, v, "IPV6_V6ONLY")?;
        }
        sock.bind(&RawAddr::from_inet(&a), &a)?;
        sock.listen(self.backlog)?;
        Ok(TcpListener {
            l: Listener::new(sock),
        })
    }
}

/// A listening TCP socket.
///
/// # Examples
///
/// ```
/// use ringloop::net::tcp::{TcpListener, TcpStream};
/// use ringloop::io::{AsyncRead, AsyncWrite};
///
/// ringloop::block_on(async {
///     let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
///     let addr = l.local_addr().unwrap();
///     let server = ringloop::spawn(async move {
///         let (s, _peer) = l.accept().await.unwrap();
///         let (r, buf) = s.read(Vec::with_capacity(16)).await;
///         r.unwrap();
///         s.write_all(buf).await.0.unwrap();
///     });
///     let c = TcpStream::connect(addr).await.unwrap();
///     c.write_all(b"ping".as_slice()).await.0.unwrap();
///     let (r, buf) = c.read_exact(vec![0u8; 4]).await;
///     r.unwrap();
///     assert_eq!(buf, b"ping");
///     server.await.unwrap();
/// });
/// ```
pub struct TcpListener {
    l: Listener,
}

impl TcpListener {
    /// Binds to `addr` (IPv4 or IPv6; port 0 picks a free port) with the
    /// builder's defaults. Must run inside a ringloop runtime.
    pub fn bind(addr: impl Into<SocketAddr>) -> io::Result<TcpListener> {
        TcpListener::builder(addr).bind()
    }

    /// A builder for `SO_REUSEPORT`, the backlog and other options.
    pub fn builder(addr: impl Into<SocketAddr>) -> TcpListenerBuilder {
        TcpListenerBuilder {
            addr: addr.into(),
            reuse_addr: true,
            reuse_port: false,
            only_v6: None,
            backlog: 1024,
        }
    }

    /// Accepts one connection. Dropping the future loses no connection: one
    /// the kernel accepted too late goes back to this listener's queue for
    /// the next `accept` or [`incoming`](Self::incoming), as do those an
    /// [`Incoming`] accepted and did not yield. Errors such as `EMFILE` are
    /// returned and leave the listener usable; back off before retrying.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self.l.accept().await?;
        let stream = TcpStream::from_fd(fd)?;
        Ok((stream, addr.inet()?))
    }

    /// The accepted connections as a stream (multishot accept on io_uring;
    /// see [`Incoming`]).
    pub fn incoming(&self) -> Incoming<TcpStream> {
        self.l.incoming(TcpStream::from_fd)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.l.sock().local_addr()?.inet()
    }

    /// Closes the listener now (if no accept is in flight), reporting the
    /// error of `close(2)`.
    pub async fn close(self) -> io::Result<()> {
        self.l.close().await
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.l.sock().raw()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.l.sock().raw()).finish()
    }
}
