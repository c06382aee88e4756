//! [`UdpSocket`]: datagrams over IPv4 or IPv6.
//!
//! `send_to`/`recv_from` use `SENDMSG`/`RECVMSG` (5.3) so the address
//! travels inside the op value; a connected socket uses `SEND`/`RECV`.
//! Every send carries `MSG_NOSIGNAL`. See `ops/recv_from.rs` for what a
//! dropped receive means for its buffer and datagram.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::Interest;

use crate::convert::{Expect, INET};
use crate::lookup::{self, Resolved, ToSocketAddrs};
use crate::socket::Socket;
use crate::sys::RawAddr;

/// A UDP socket.
///
/// # Examples
///
/// ```
/// use ringloop::net::udp::UdpSocket;
///
/// ringloop::block_on(async {
///     let a = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
///     let b = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
///     let to = b.local_addr().unwrap();
///     a.send_to(b"hi".as_slice(), to).await.0.unwrap();
///     let (r, buf) = b.recv_from(Vec::with_capacity(64)).await;
///     let (n, from) = r.unwrap();
///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    sock: Socket,
}

impl UdpSocket {
    /// Binds to `addr`, a literal address (port 0 picks a free port).
    /// Synchronous, like `TcpListener::bind` and for the same reason: a
    /// host name is an `InvalidInput` error, resolved instead by
    /// [`bind_host`](Self::bind_host). Must run inside a ringloop runtime.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let to = lookup::literal(&addr.target(), "udp bind", "UdpSocket::bind_host")?;
        UdpSocket::bind_each(&to)
    }

    /// As [`bind`](Self::bind), and a host name is resolved on the
    /// blocking pool first; the addresses are tried in turn.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::net::UdpSocket;
    ///
    /// ringloop::block_on(async {
    ///     let s = UdpSocket::bind_host("localhost:0").await.unwrap();
    ///     assert!(s.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub async fn bind_host(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let to = lookup::resolve(addr.target(), "udp bind").await?;
        UdpSocket::bind_each(&to)
    }

    fn bind_each(to: &Resolved) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in to.iter() {
            let bound =
                Socket::new(crate::tcp::domain(&a), libc::SOCK_DGRAM, "udp").and_then(|sock| {
                    sock.bind(&RawAddr::from_inet(&a), &to.shown(a))?;
                    Ok(UdpSocket { sock })
                });
            match bound {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(to.failed(last, "udp bind"))
    }

    /// Sets the default destination for [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts. `addr` may be a host name,
    /// resolved on the blocking pool; the addresses are tried in turn (one
    /// of the other family fails) and the first that connects wins. Never
    /// waits otherwise: UDP has no handshake.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let to = lookup::resolve(addr.target(), "udp connect").await?;
        let mut last = None;
        for a in to.iter() {
            match self.sock.connect_now(&RawAddr::from_inet(&a), &to.shown(a)) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(to.failed(last, "udp connect"))
    }

    /// Sends one datagram of the buffer's initialised bytes to `addr`,
    /// which may be a host name (resolved on the blocking pool first). When
    /// it has several addresses, a send that fails (one of the other
    /// family) is tried again with the next; at most one datagram goes out.
    pub async fn send_to<B: IoBuf>(&self, buf: B, addr: impl ToSocketAddrs) -> BufResult<usize, B> {
        let to = match lookup::resolve(addr.target(), "udp send_to").await {
            Ok(to) => to,
            Err(e) => return (Err(e), buf),
        };
        let (mut buf, mut last) = (buf, None);
        for a in to.iter() {
            let (r, b) = self
                .sock
                .send_to(buf, RawAddr::from_inet(&a), &to.shown(a))
                .await;
            buf = b;
            match r {
                Ok(n) => return (Ok(n), buf),
                Err(e) => last = Some(e),
            }
        }
        (Err(to.failed(last, "udp send_to")), buf)
    }

    /// Receives one datagram into the buffer (truncated to its capacity)
    /// and returns its length and sender.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (r, buf) = self.sock.recv_from(buf).await;
        (r.and_then(|(n, a)| Ok((n, a.inet()?))), buf)
    }

    /// Sends one datagram to the connected address.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.sock.send(buf).await
    }

    /// Receives one datagram from the connected address.
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

    /// Takes ownership of a std UDP socket — made before the runtime
    /// started (in `main`, or inherited from a supervisor) or by code that
    /// knows only std — for the current loop, and makes it non-blocking.
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime: the socket must belong to the loop that
    /// uses it (the one given is closed). `InvalidInput` for an fd that is
    /// not a UDP socket; the OS error when `fcntl` fails.
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        let sock = Socket::from_std(
            s.into(),
            "udp",
            &Expect {
                domains: INET,
                ty: libc::SOCK_DGRAM,
                listening: false,
            },
        )?;
        Ok(UdpSocket { sock })
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
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(std::net::UdpSocket::from(self.sock.into_std()?))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()?.inet()
    }

    /// The connected address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()?.inet()
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        let v = libc::c_int::from(on);
        self.sock.set_opt(
            libc::SOL_SOCKET,
            libc::SO_BROADCAST,
            v,
            "setsockopt(SO_BROADCAST)",
        )
    }

    /// Whether `SO_BROADCAST` is on.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.sock.flag(
            libc::SOL_SOCKET,
            libc::SO_BROADCAST,
            "getsockopt(SO_BROADCAST)",
        )
    }

    /// `IP_TTL` (on an IPv6 socket `IPV6_UNICAST_HOPS`, its hop limit): the
    /// time to live of the packets this socket sends.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// The time to live (hop limit) of the packets this socket sends.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
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

    /// Reads and clears the socket's pending error (`SO_ERROR`), e.g. an
    /// `ECONNREFUSED` from an ICMP port-unreachable on a connected socket.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.sock.raw()).finish()
    }
}
