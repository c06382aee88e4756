//! [`UnixSeqpacketListener`] and [`UnixSeqpacket`]: Unix `SOCK_SEQPACKET`
//! sockets — connected like a stream, with message boundaries kept like a
//! datagram socket, reliable and ordered (what D-Bus-style local protocols
//! and many supervisors use).
//!
//! They run on the same operations as Unix streams: `ACCEPT` (multishot for
//! [`incoming`](UnixSeqpacketListener::incoming)), `CONNECT`, `SEND`,
//! `RECV`, `SENDMSG` on io_uring; the same syscalls after readiness on
//! epoll. One [`recv`](UnixSeqpacket::recv) returns one message; a message
//! longer than the buffer's capacity is **truncated** (the kernel drops
//! the rest), so size the buffer for the largest message. One
//! [`send`](UnixSeqpacket::send) or [`writev`](UnixSeqpacket::writev) is
//! one message (`EMSGSIZE` past the socket's send buffer size). A
//! zero-length message cannot be told from the end of the stream (both read
//! as 0).

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};

use crate::incoming::Incoming;
use crate::listener::Listener;
use crate::socket::Socket;
use crate::sys;

use super::{SocketAddr, UCred};

const KIND: &str = "unix seqpacket";

/// A listening Unix `SOCK_SEQPACKET` socket.
///
/// # Examples
///
/// ```
/// use ringloop::net::unix::{SocketAddr, UnixSeqpacket, UnixSeqpacketListener};
///
/// ringloop::block_on(async {
///     let name = format!("ringloop-seqpacket-doc-{}", std::process::id());
///     let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
///     let l = UnixSeqpacketListener::bind_addr(&addr).unwrap();
///     let server = ringloop::spawn(async move {
///         let (s, _) = l.accept().await.unwrap();
///         let (n, msg) = s.recv(Vec::with_capacity(64)).await;
///         assert_eq!((n.unwrap(), &msg[..]), (5, &b"hello"[..]));
///     });
///     let c = UnixSeqpacket::connect_addr(&addr).await.unwrap();
///     c.send(&b"hello"[..]).await.0.unwrap();
///     server.await.unwrap();
/// });
/// ```
pub struct UnixSeqpacketListener {
    l: Listener,
}

impl UnixSeqpacketListener {
    /// Binds to the socket file `path` (which must not exist) and listens.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixSeqpacketListener> {
        UnixSeqpacketListener::bind_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Binds to `addr` (a path or an abstract name) and listens with a
    /// backlog of 1024.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixSeqpacketListener> {
        let sock = Socket::new(libc::AF_UNIX, libc::SOCK_SEQPACKET, KIND)?;
        sock.bind(&addr.raw, addr)?;
        sock.listen(1024)?;
        Ok(UnixSeqpacketListener {
            l: Listener::new(sock),
        })
    }

    /// Accepts one connection; see `TcpListener::accept` (a dropped accept
    /// hands its connection back to the listener).
    pub async fn accept(&self) -> io::Result<(UnixSeqpacket, SocketAddr)> {
        let (fd, addr) = self.l.accept().await?;
        Ok((UnixSeqpacket::from_fd(fd)?, super::addr(addr)?))
    }

    /// The accepted connections as a stream (see [`Incoming`]).
    pub fn incoming(&self) -> Incoming<UnixSeqpacket> {
        self.l.incoming(UnixSeqpacket::from_fd)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.l.sock().local_addr()?)
    }
}

/// A connected Unix `SOCK_SEQPACKET` socket: each send is one message, each
/// receive returns one (a message longer than the buffer is truncated:
/// the kernel drops the rest).
pub struct UnixSeqpacket {
    sock: Socket,
}

impl UnixSeqpacket {
    /// Connects to the socket file `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixSeqpacket> {
        UnixSeqpacket::connect_addr(&SocketAddr::from_pathname(path)?).await
    }

    /// Connects to `addr` (a path or an abstract name).
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixSeqpacket> {
        let sock = Socket::new(libc::AF_UNIX, libc::SOCK_SEQPACKET, KIND)?;
        sock.connect(addr.raw, addr).await?;
        Ok(UnixSeqpacket { sock })
    }

    /// A pair of connected, unnamed sockets (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixSeqpacket, UnixSeqpacket)> {
        let (a, b) = sys::socketpair(libc::SOCK_SEQPACKET)?;
        Ok((UnixSeqpacket::from_fd(a)?, UnixSeqpacket::from_fd(b)?))
    }

    fn from_fd(fd: OwnedFd) -> io::Result<UnixSeqpacket> {
        Ok(UnixSeqpacket {
            sock: Socket::from_owned(fd, KIND)?,
        })
    }

    /// Sends the buffer's initialised bytes as one message; returns its
    /// length.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.sock.send(buf).await
    }

    /// Sends the initialised bytes of `bufs`, in order, as one message
    /// (`sendmsg` with one iovec per buffer).
    pub async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }

    /// Receives one message into the buffer, from its start; returns its
    /// length, truncated to the buffer's capacity (0 at end of stream).
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.sock.recv(buf).await
    }

    /// Shuts down one or both directions (`Shutdown::Write`: the peer's
    /// next `recv` gives 0 once it has read every message).
    pub async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how).await
    }

    /// The credentials of the peer process (`SO_PEERCRED`).
    pub fn peer_cred(&self) -> io::Result<UCred> {
        self.sock.peer_cred().map(UCred::new)
    }

    /// `SO_SNDBUF`, which bounds the size of one message.
    pub fn set_send_buffer_size(&self, bytes: u32) -> io::Result<()> {
        self.sock.set_send_buffer_size(bytes)
    }

    /// `SO_SNDBUF` as the kernel chose it.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.sock.send_buffer_size()
    }

    /// The local address (unnamed for a connecting socket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.sock.local_addr()?)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        super::addr(self.sock.peer_addr()?)
    }

    /// Closes the socket now (if no operation holds it), reporting the error
    /// of `close(2)`.
    pub async fn close(self) -> io::Result<()> {
        self.sock.close().await
    }
}

impl AsRawFd for UnixSeqpacketListener {
    fn as_raw_fd(&self) -> RawFd {
        self.l.sock().raw()
    }
}

impl AsFd for UnixSeqpacketListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.l.sock().as_fd()
    }
}

impl AsRawFd for UnixSeqpacket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

impl AsFd for UnixSeqpacket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl fmt::Debug for UnixSeqpacketListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixSeqpacketListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.l.sock().raw()).finish()
    }
}

impl fmt::Debug for UnixSeqpacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSeqpacket")
            .field("fd", &self.sock.raw())
            .finish()
    }
}
