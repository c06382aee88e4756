//! [`TcpListener`] and its builder.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use crate::convert::{Expect, INET};
use crate::incoming::Incoming;
use crate::listener::Listener;
use crate::lookup::{self, Resolved, Target, ToSocketAddrs};
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
    target: Target,
    reuse_addr: bool,
    reuse_port: bool,
    only_v6: Option<bool>,
    backlog: i32,
    ttl: Option<u32>,
    recv_buffer_size: Option<u32>,
    send_buffer_size: Option<u32>,
    fastopen: Option<u32>,
    nodelay: Option<bool>,
    keepalive: Option<Duration>,
}

impl TcpListenerBuilder {
    /// TCP Fast Open for the server side (`TCP_FASTOPEN`, set before
    /// `listen`): up to `queue` pending connections whose SYN carried data,
    /// which `accept` then hands out with the data already readable.
    /// Clients must ask for it too, and the system must allow it
    /// (`net.ipv4.tcp_fastopen` bit 2, on by default since Linux 3.13);
    /// otherwise connections fall back to the normal handshake. 0 leaves
    /// it off.
    pub fn fastopen(mut self, queue: u32) -> Self {
        self.fastopen = (queue > 0).then_some(queue);
        self
    }

    /// `TCP_NODELAY` on the listener, which Linux copies to every accepted
    /// connection (default: off, the system's).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = Some(on);
        self
    }

    /// TCP keepalive on the listener (`SO_KEEPALIVE`, first probe after
    /// `idle`: `TCP_KEEPIDLE`, whole seconds), copied to every accepted
    /// connection (default: off).
    pub fn keepalive(mut self, idle: Duration) -> Self {
        self.keepalive = Some(idle);
        self
    }

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

    /// `IP_TTL` (`IPV6_UNICAST_HOPS` for IPv6) of the listener, which the
    /// connections it accepts inherit (default: the system's).
    pub fn ttl(mut self, ttl: u32) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// `SO_RCVBUF` (default: the system's), set before `listen` so that the
    /// accepted connections inherit it and their TCP window scale fits it.
    pub fn recv_buffer_size(mut self, bytes: u32) -> Self {
        self.recv_buffer_size = Some(bytes);
        self
    }

    /// `SO_SNDBUF` (default: the system's), inherited by the accepted
    /// connections.
    pub fn send_buffer_size(mut self, bytes: u32) -> Self {
        self.send_buffer_size = Some(bytes);
        self
    }

    /// Creates, configures, binds and listens, for a literal address (see
    /// [`TcpListener::bind`]); a host name is an `InvalidInput` error that
    /// points to [`bind_host`](Self::bind_host). Several addresses are
    /// tried in turn; the first that binds wins, else the last error is
    /// returned. Must run inside a ringloop runtime, on the loop that will
    /// use the listener.
    pub fn bind(self) -> io::Result<TcpListener> {
        let to = lookup::literal(&self.target, "tcp bind", "TcpListener::bind_host")?;
        self.bind_each(&to)
    }

    /// As [`bind`](Self::bind), and a host name is resolved on the
    /// blocking pool first (`"localhost:8080"`, `("example.com", 80)`).
    pub async fn bind_host(self) -> io::Result<TcpListener> {
        let to = lookup::resolve(self.target.clone(), "tcp bind").await?;
        self.bind_each(&to)
    }

    fn bind_each(&self, to: &Resolved) -> io::Result<TcpListener> {
        let mut last = None;
        for a in to.iter() {
            match self.bind_one(a, &to.shown(a)) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(to.failed(last, "tcp bind"))
    }

    fn bind_one(&self, a: SocketAddr, shown: &dyn fmt::Display) -> io::Result<TcpListener> {
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
        if let Some(ttl) = self.ttl {
            sock.set_ttl(ttl)?;
        }
        if let Some(n) = self.recv_buffer_size {
            sock.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.send_buffer_size {
            sock.set_send_buffer_size(n)?;
        }
        if let Some(on) = self.nodelay {
            let v = libc::c_int::from(on);
            sock.set_opt(libc::IPPROTO_TCP, libc::TCP_NODELAY, v, "TCP_NODELAY")?;
        }
        if self.keepalive.is_some() {
            sock.set_keepalive(self.keepalive)?;
        }
        sock.bind(&RawAddr::from_inet(&a), shown)?;
        if let Some(q) = self.fastopen {
            let q = libc::c_int::try_from(q).unwrap_or(libc::c_int::MAX);
            sock.set_opt(libc::IPPROTO_TCP, libc::TCP_FASTOPEN, q, "TCP_FASTOPEN")?;
        }
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
    /// Binds to `addr`, a literal address (IPv4 or IPv6; port 0 picks a
    /// free port), with the builder's defaults. Synchronous, because a
    /// literal never waits; a host name is an `InvalidInput` error: use
    /// [`bind_host`](Self::bind_host) (the [module docs](crate::tcp) say why). Must
    /// run inside a ringloop runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::net::TcpListener;
    ///
    /// ringloop::block_on(async {
    ///     let a = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
    ///     let b = TcpListener::bind("[::1]:0").unwrap();
    ///     assert!(a.local_addr().unwrap().is_ipv4() && b.local_addr().unwrap().is_ipv6());
    ///     assert!(TcpListener::bind("localhost:0").is_err());
    /// });
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::builder(addr).bind()
    }

    /// Binds to `addr`, which may be a host name: it is resolved on the
    /// blocking pool (never on the loop), and the addresses are tried in
    /// turn. The `async` counterpart of [`bind`](Self::bind), as tokio's
    /// `bind` is.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::net::TcpListener;
    ///
    /// ringloop::block_on(async {
    ///     let l = TcpListener::bind_host("localhost:0").await.unwrap();
    ///     assert!(l.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub async fn bind_host(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::builder(addr).bind_host().await
    }

    /// A builder for `SO_REUSEPORT`, the backlog and other options, for a
    /// literal address or a host name (resolved by its
    /// [`bind_host`](TcpListenerBuilder::bind_host)).
    pub fn builder(addr: impl ToSocketAddrs) -> TcpListenerBuilder {
        TcpListenerBuilder {
            target: addr.target(),
            reuse_addr: true,
            reuse_port: false,
            only_v6: None,
            backlog: 1024,
            ttl: None,
            recv_buffer_size: None,
            send_buffer_size: None,
            fastopen: None,
            nodelay: None,
            keepalive: None,
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

    /// Takes ownership of a std TCP listener — made before the runtime
    /// started (in `main`, or inherited from a supervisor) or by code that
    /// knows only std — for the current loop, and makes it non-blocking.
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime: the socket must belong to the loop that
    /// uses it (the one given is closed). `InvalidInput` for an fd that is
    /// not a listening TCP socket; the OS error when `fcntl` fails.
    /// # Examples
    ///
    /// ```
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// // Bound in `main`, before the runtime starts.
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// ringloop::block_on(async move {
    ///     let l = TcpListener::from_std(std_listener).unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    /// });
    /// ```
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        let sock = Socket::from_std(
            l.into(),
            "tcp",
            &Expect {
                domains: INET,
                ty: libc::SOCK_STREAM,
                listening: true,
            },
        )?;
        Ok(TcpListener {
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
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(std::net::TcpListener::from(self.l.into_std()?))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.l.sock().local_addr()?.inet()
    }

    /// `IP_TTL` (`IPV6_UNICAST_HOPS` for IPv6), inherited by connections
    /// accepted from now on.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.l.sock().set_ttl(ttl)
    }

    /// The time to live (hop limit) the listener gives its connections.
    pub fn ttl(&self) -> io::Result<u32> {
        self.l.sock().ttl()
    }

    /// The receive buffer size (`SO_RCVBUF`) the accepted connections
    /// inherit; see [`TcpListenerBuilder::recv_buffer_size`].
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.l.sock().recv_buffer_size()
    }

    /// The send buffer size (`SO_SNDBUF`) the accepted connections inherit.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.l.sock().send_buffer_size()
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.l.sock().take_error()
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

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.l.sock().as_fd()
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
