//! [`TcpStreamBuilder`]: the socket options of an outgoing connection, set
//! on the socket before `connect` (where they must be, for the buffer
//! sizes that decide the window scale, and for a local address), then the
//! connection itself.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::lookup::{self, Target, ToSocketAddrs};
use crate::socket::Socket;
use crate::sys::RawAddr;

use super::TcpStream;

/// Options for an outgoing TCP connection, applied before `connect`.
///
/// Client-side TCP Fast Open is [`fastopen`](Self::fastopen); the server
/// side is [`TcpListenerBuilder::fastopen`](super::TcpListenerBuilder::fastopen).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringloop::net::{TcpListener, TcpStream};
///
/// ringloop::block_on(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::builder(l.local_addr().unwrap())
///         .nodelay(true)
///         .keepalive(Duration::from_secs(30))
///         .local_addr("127.0.0.1:0".parse().unwrap())
///         .connect()
///         .await
///         .unwrap();
///     assert!(c.nodelay().unwrap());
///     assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(30)));
/// });
/// ```
#[derive(Debug, Clone)]
pub struct TcpStreamBuilder {
    target: Target,
    nodelay: Option<bool>,
    keepalive: Option<Duration>,
    linger: Option<Option<Duration>>,
    ttl: Option<u32>,
    recv_buffer_size: Option<u32>,
    send_buffer_size: Option<u32>,
    local: Option<SocketAddr>,
    reuse_addr: bool,
    fastopen: bool,
}

impl TcpStream {
    /// A builder for the socket options of a connection to `addr` (a
    /// literal address, or a host name resolved on the blocking pool by
    /// [`connect`](TcpStreamBuilder::connect)).
    pub fn builder(addr: impl ToSocketAddrs) -> TcpStreamBuilder {
        TcpStreamBuilder {
            target: addr.target(),
            nodelay: None,
            keepalive: None,
            linger: None,
            ttl: None,
            recv_buffer_size: None,
            send_buffer_size: None,
            local: None,
            reuse_addr: false,
            fastopen: false,
        }
    }
}

impl TcpStreamBuilder {
    /// `TCP_NODELAY` (see `TcpStream::set_nodelay`).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = Some(on);
        self
    }

    /// TCP keepalive with the first probe after `idle` (see
    /// `TcpStream::set_keepalive`).
    pub fn keepalive(mut self, idle: Duration) -> Self {
        self.keepalive = Some(idle);
        self
    }

    /// `SO_LINGER` (see `TcpStream::set_linger` for why only `None` and
    /// `Some(Duration::ZERO)` are advisable).
    pub fn linger(mut self, linger: Option<Duration>) -> Self {
        self.linger = Some(linger);
        self
    }

    /// `IP_TTL` (`IPV6_UNICAST_HOPS` for IPv6).
    pub fn ttl(mut self, ttl: u32) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// `SO_RCVBUF`, set before `connect` so that the window scale the
    /// handshake announces fits it.
    pub fn recv_buffer_size(mut self, bytes: u32) -> Self {
        self.recv_buffer_size = Some(bytes);
        self
    }

    /// `SO_SNDBUF`.
    pub fn send_buffer_size(mut self, bytes: u32) -> Self {
        self.send_buffer_size = Some(bytes);
        self
    }

    /// Binds the socket to `addr` before connecting (a source address or
    /// port; port 0 lets the kernel pick). An address of the other family
    /// than the peer's is skipped with an error for that peer address.
    pub fn local_addr(mut self, addr: SocketAddr) -> Self {
        self.local = Some(addr);
        self
    }

    /// `SO_REUSEADDR` before the local bind (default off).
    pub fn reuse_addr(mut self, on: bool) -> Self {
        self.reuse_addr = on;
        self
    }

    /// Client-side TCP Fast Open (`TCP_FASTOPEN_CONNECT`, Linux 4.11; default
    /// off): the first write rides on the SYN, saving a round trip, when
    /// the kernel holds a Fast Open cookie for the server.
    ///
    /// - **With a cookie**, `connect` returns at once without sending
    ///   anything; the kernel sends the SYN, with the first write's bytes
    ///   in it, when that write comes. A connection error (refused,
    ///   unreachable) then surfaces on that write or the read after it, not
    ///   on `connect`. So this fits protocols where **the client speaks
    ///   first** (HTTP, TLS): a client that waits to read first never sends
    ///   its SYN, and waits forever.
    /// - **Without a cookie** (the first connection to a server, or a
    ///   server without Fast Open), `connect` does the normal handshake and
    ///   asks for a cookie in its SYN; later connections can use it.
    ///
    /// Both backends behave the same: the option acts in the kernel's
    /// `connect` and first `send`. Should that first send find the SYN
    /// already gone without its bytes (the kernel could not fit them;
    /// `EINPROGRESS`), ringloop waits until the connection is up and sends
    /// again, so callers never see that error. Whether the system lets
    /// clients send SYN data is `net.ipv4.tcp_fastopen` bit 1 (on by
    /// default); when it is off the option is accepted and every connection
    /// takes the normal handshake. A kernel older than 4.11 refuses the
    /// option: `connect` then fails with its error (`ENOPROTOOPT`, with the
    /// option's name as context) rather than silently connecting without
    /// it — build without `fastopen` to connect there.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::io::{AsyncRead, AsyncWrite};
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// ringloop::block_on(async {
    ///     let l = TcpListener::builder("127.0.0.1:0").fastopen(16).bind().unwrap();
    ///     let c = TcpStream::builder(l.local_addr().unwrap())
    ///         .fastopen(true)
    ///         .connect()
    ///         .await
    ///         .unwrap();
    ///     // The client speaks first: with a cookie, this write is the SYN.
    ///     c.write_all(b"GET /".as_slice()).await.0.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     let (r, buf) = s.read_exact(vec![0; 5]).await;
    ///     r.unwrap();
    ///     assert_eq!(buf, b"GET /");
    /// });
    /// ```
    pub fn fastopen(mut self, on: bool) -> Self {
        self.fastopen = on;
        self
    }

    /// Resolves the target if it is a name, then creates, configures and
    /// connects a socket for each address in turn; the first connection
    /// wins, else the last error is returned (as `TcpStream::connect`).
    pub async fn connect(self) -> io::Result<TcpStream> {
        let to = lookup::resolve(self.target.clone(), "tcp connect").await?;
        let mut last = None;
        for a in to.iter() {
            match self.connect_one(a, &to.shown(a)).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(to.failed(last, "tcp connect"))
    }

    async fn connect_one(&self, a: SocketAddr, shown: &dyn fmt::Display) -> io::Result<TcpStream> {
        let sock = Socket::new(super::domain(&a), libc::SOCK_STREAM, "tcp")?;
        let s = TcpStream { sock };
        if let Some(on) = self.nodelay {
            s.set_nodelay(on)?;
        }
        if self.keepalive.is_some() {
            s.set_keepalive(self.keepalive)?;
        }
        if let Some(l) = self.linger {
            s.set_linger(l)?;
        }
        if let Some(ttl) = self.ttl {
            s.set_ttl(ttl)?;
        }
        if let Some(n) = self.recv_buffer_size {
            s.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.send_buffer_size {
            s.set_send_buffer_size(n)?;
        }
        if let Some(local) = self.local {
            if local.is_ipv4() != a.is_ipv4() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("tcp connect to {shown}: local address {local} is of the other family"),
                ));
            }
            if self.reuse_addr {
                let one: libc::c_int = 1;
                s.sock
                    .set_opt(libc::SOL_SOCKET, libc::SO_REUSEADDR, one, "SO_REUSEADDR")?;
            }
            s.sock.bind(&RawAddr::from_inet(&local), &local)?;
        }
        if self.fastopen {
            let one: libc::c_int = 1;
            s.sock.set_opt(
                libc::IPPROTO_TCP,
                libc::TCP_FASTOPEN_CONNECT,
                one,
                "setsockopt(TCP_FASTOPEN_CONNECT) (Linux 4.11+)",
            )?;
        }
        s.sock.connect(RawAddr::from_inet(&a), shown).await?;
        Ok(s)
    }
}
