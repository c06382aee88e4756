//! [`TcpStream`]: a TCP connection.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use ringloop_runtime::buf::fixed::FixedBuf;
use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::io::{AsSharedFd, AsyncRead, AsyncWrite};

use ringloop_runtime::driver::Interest;

use crate::convert::{Expect, INET};
use crate::lookup::{self, ToSocketAddrs};
use crate::socket::Socket;
use crate::split;
use crate::sys::RawAddr;

use super::{OwnedReadHalf, OwnedWriteHalf};

/// A TCP connection. Reads and writes go through the runtime's
/// owned-buffer [`AsyncRead`] and [`AsyncWrite`] traits; several reads (or
/// writes) may be in flight at once through shared references, which is
/// rarely what a protocol wants: use [`into_split`](Self::into_split) for
/// one reader task and one writer task.
///
/// Dropping the stream closes the socket once no operation holds it.
pub struct TcpStream {
    pub(crate) sock: Socket,
}

impl TcpStream {
    /// Connects to `addr`: a literal address (IPv4 or IPv6), or a host
    /// name and port (`"localhost:8080"`, `("example.com", 443)`) that is
    /// resolved on the blocking pool first ([`lookup_host`](crate::lookup_host)).
    /// Several addresses are tried in turn, as `std` does; the first
    /// connection wins, else the last error is returned. Errors say where
    /// to: `tcp connect to 127.0.0.1:9: Connection refused (os error 111)`,
    /// or `tcp connect to localhost:9 (127.0.0.1:9): ...` for a name.
    ///
    /// Dropping the future abandons the attempt and closes the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// ringloop::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let port = l.local_addr().unwrap().port();
    ///     let c = TcpStream::connect(("localhost", port)).await.unwrap();
    ///     assert!(c.peer_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let to = lookup::resolve(addr.target(), "tcp connect").await?;
        let mut last = None;
        for a in to.iter() {
            match TcpStream::connect_addr(a, &to.shown(a)).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(to.failed(last, "tcp connect"))
    }

    /// Connects to one address; `shown` names it in errors.
    async fn connect_addr(addr: SocketAddr, shown: &dyn fmt::Display) -> io::Result<TcpStream> {
        let sock = Socket::new(super::domain(&addr), libc::SOCK_STREAM, "tcp")?;
        sock.connect(RawAddr::from_inet(&addr), shown).await?;
        Ok(TcpStream { sock })
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            sock: Socket::from_owned(fd, "tcp")?,
        })
    }

    /// Takes ownership of a std TCP stream — made before the runtime
    /// started (in `main`, or inherited from a supervisor) or by code that
    /// knows only std — for the current loop, and makes it non-blocking.
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime: the socket must belong to the loop that
    /// uses it (the one given is closed). `InvalidInput` for an fd that is
    /// not a TCP stream socket; the OS error when `fcntl` fails.
    /// # Examples
    ///
    /// ```
    /// use ringloop::io::AsyncWrite;
    /// use ringloop::net::TcpStream;
    /// use std::io::{Read, Write};
    ///
    /// // A connection made with std before any runtime exists.
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std_client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (mut peer, _) = l.accept().unwrap();
    ///
    /// let std_client = ringloop::block_on(async move {
    ///     let c = TcpStream::from_std(std_client).unwrap();
    ///     c.write_all(b"hi".as_slice()).await.0.unwrap();
    ///     c.into_std().unwrap()
    /// });
    /// let mut buf = [0u8; 2];
    /// peer.read_exact(&mut buf).unwrap();
    /// assert_eq!(&buf, b"hi");
    /// peer.write_all(b"ok").unwrap();
    /// // Blocking again: a plain std read waits for the reply.
    /// (&std_client).read_exact(&mut buf).unwrap();
    /// assert_eq!(&buf, b"ok");
    /// ```
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        let sock = Socket::from_std(
            s.into(),
            "tcp",
            &Expect {
                domains: INET,
                ty: libc::SOCK_STREAM,
                listening: false,
            },
        )?;
        Ok(TcpStream { sock })
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
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(std::net::TcpStream::from(self.sock.into_std()?))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()?.inet()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()?.inet()
    }

    /// `TCP_NODELAY`: send small segments at once instead of coalescing
    /// them (Nagle's algorithm). Request/response protocols want it on.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        let v = libc::c_int::from(on);
        self.sock.set_opt(
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            v,
            "setsockopt(TCP_NODELAY)",
        )
    }

    /// Whether `TCP_NODELAY` is on.
    pub fn nodelay(&self) -> io::Result<bool> {
        let v: libc::c_int = self.sock.get_opt(
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            "getsockopt(TCP_NODELAY)",
        )?;
        Ok(v != 0)
    }

    /// `SO_LINGER`. `Some(Duration::ZERO)` makes the close abort the
    /// connection: the peer gets a reset (`ECONNRESET`) instead of an
    /// orderly end of stream. The kernel counts whole seconds (rounded up
    /// here).
    ///
    /// Avoid a linger time other than zero: Linux then makes the final
    /// close wait, up to that time, until unsent data is acknowledged —
    /// whatever the socket's non-blocking mode — and the close runs on the
    /// loop thread (`close(2)` on epoll; the socket's release after a
    /// `CLOSE` SQE on io_uring), stalling every task of the loop. `None`
    /// (the default: the kernel sends what is left in the background) and
    /// `Some(Duration::ZERO)` never wait.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.sock.set_linger(linger)
    }

    /// The `SO_LINGER` setting; `None` when off (the default).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock.linger()
    }

    /// `IP_TTL` (on an IPv6 socket `IPV6_UNICAST_HOPS`, its hop limit): the
    /// time to live of the packets this socket sends.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// The time to live (hop limit) of the packets this socket sends.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// ringloop::block_on(async {
    ///     let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     c.set_ttl(42).unwrap();
    ///     assert_eq!(c.ttl().unwrap(), 42);
    ///     c.set_keepalive(Some(Duration::from_secs(30))).unwrap();
    ///     assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(30)));
    /// });
    /// ```
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

    /// TCP keepalive: `Some(idle)` turns it on (`SO_KEEPALIVE`) with the
    /// first probe after `idle` without traffic (`TCP_KEEPIDLE`, whole
    /// seconds, at least one); the interval and count of probes stay the
    /// system's (`net.ipv4.tcp_keepalive_intvl`, `_probes`). `None` turns
    /// it off.
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        self.sock.set_keepalive(idle)
    }

    /// The keepalive idle time, or `None` when keepalive is off (the
    /// default).
    pub fn keepalive(&self) -> io::Result<Option<Duration>> {
        self.sock.keepalive()
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
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
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use ringloop::io::AsyncWrite;
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// ringloop::block_on(async {
    ///     let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     c.write_all(b"ping".as_slice()).await.0.unwrap();
    ///     let mut buf = [0u8; 16];
    ///     let n = loop {
    ///         s.readable().await.unwrap();
    ///         // SAFETY: `buf` is valid for writes of its length.
    ///         let n = unsafe {
    ///             libc::recv(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
    ///         };
    ///         if n >= 0 {
    ///             break n as usize;
    ///         }
    ///         let e = std::io::Error::last_os_error();
    ///         assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
    ///     };
    ///     assert_eq!(&buf[..n], b"ping");
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.ready(Interest::Readable).await
    }

    /// Waits until the socket is writable (room in its send buffer, or an
    /// error to report); see [`readable`](Self::readable) for the pattern
    /// and for what the wait costs on each backend.
    pub async fn writable(&self) -> io::Result<()> {
        self.sock.ready(Interest::Writable).await
    }

    /// Shuts down one or both directions. `Shutdown::Write` is a half-close:
    /// the peer reads end-of-stream, and this side can still read its reply.
    pub async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how).await
    }

    /// A gathering write: sends the initialised bytes of `bufs`, in order,
    /// with one `sendmsg` (at most 1024 buffers). Returns the number of
    /// bytes sent, which may be fewer than the total, and the buffers.
    pub async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }

    /// A zero-copy send of the buffer's initialised bytes: on io_uring one
    /// `IORING_OP_SEND_ZC` (Linux 6.0), which sends from the buffer's own
    /// pages instead of copying them into the socket. Returns the number
    /// of bytes sent (possibly fewer than the buffer holds, as for
    /// [`write`](AsyncWrite::write)) and the buffer — only once the kernel
    /// has let go of its pages, which for TCP is when the peer has
    /// acknowledged the data: the future takes at least a round trip.
    ///
    /// It saves the sender's copy, so it pays for large buffers only, and
    /// not on loopback, where the receiving socket copies the data anyway
    /// (see `examples/send_zc.rs` to measure where it crosses over).
    /// Where the kernel lacks `SEND_ZC`, and on the epoll backend, it is a
    /// plain `send(2)` (a copy): same result, same bytes on the wire.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::io::AsyncRead;
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// ringloop::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     let (n, buf) = c.send_zc(vec![7u8; 4096]).await;
    ///     let n = n.unwrap();
    ///     assert_eq!(buf.len(), 4096); // handed back after the notification
    ///     let (r, got) = s.read_exact(vec![0; n]).await;
    ///     r.unwrap();
    ///     assert!(got.iter().all(|&b| b == 7));
    /// });
    /// ```
    pub async fn send_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.sock.send_zc(buf).await
    }

    /// A send of a registered buffer's initialised bytes (see
    /// `ringloop::buf::fixed`): on io_uring with the buffers in the ring's
    /// table, one `IORING_OP_SEND_ZC` naming the buffer by index (Linux
    /// 6.0; the kernel takes registered buffers on zero-copy sends only),
    /// which comes back, like [`send_zc`](Self::send_zc), after the
    /// kernel's notification. On epoll, where the kernel refused the
    /// registration or lacks `SEND_ZC`, a plain send: same count, same
    /// bytes.
    ///
    /// # Errors
    ///
    /// As for a send; `InvalidInput` when the buffer's registry is not
    /// registered on this loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::buf::fixed::FixedBufRegistry;
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// ringloop::block_on(async {
    ///     let reg = FixedBufRegistry::with_capacity(2, 4096).unwrap();
    ///     reg.register().unwrap();
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     let mut out = reg.check_out(0).unwrap();
    ///     out.put_slice(b"ping");
    ///     let (n, _out) = c.send_fixed(out).await;
    ///     assert_eq!(n.unwrap(), 4);
    ///     let (n, got) = s.recv_fixed(reg.check_out(1).unwrap()).await;
    ///     assert_eq!(&got[..n.unwrap()], b"ping");
    /// });
    /// ```
    pub async fn send_fixed(&self, buf: FixedBuf) -> BufResult<usize, FixedBuf> {
        self.sock.send_fixed(buf).await
    }

    /// A receive into a registered buffer, from its start, up to its
    /// capacity: on io_uring with the buffers in the ring's table, one
    /// `IORING_OP_READ_FIXED` on the socket (Linux 5.1; the kernel has no
    /// registered-buffer `RECV`); elsewhere a plain receive. Returns the
    /// count (0 at the end of the stream) and the buffer, whose length
    /// covers what arrived.
    ///
    /// # Errors
    ///
    /// As for a receive; `InvalidInput` when the buffer's registry is not
    /// registered on this loop.
    pub async fn recv_fixed(&self, buf: FixedBuf) -> BufResult<usize, FixedBuf> {
        self.sock.recv_fixed(buf).await
    }

    /// [`send_zc`](Self::send_zc) until every initialised byte of `buf` is
    /// sent; `WriteZero` if a send makes no progress.
    pub async fn send_zc_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.sock.send_zc_all(buf).await
    }

    /// A scattering read: fills `bufs` in order, each from its first byte
    /// up to its capacity, with one `recvmsg` (`IORING_OP_RECVMSG` on
    /// io_uring; at most 1024 buffers). Returns the total, which may be
    /// less than the capacity (0 at end of stream), and the buffers, each
    /// with its initialised length raised to what landed in it. The same
    /// as [`AsyncRead::readv`] on this type.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::io::AsyncWrite;
    /// use ringloop::net::{TcpListener, TcpStream};
    ///
    /// ringloop::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     c.write_all(b"headbody".as_slice()).await.0.unwrap();
    ///     let bufs = vec![Vec::with_capacity(4), Vec::with_capacity(16)];
    ///     let (n, bufs) = s.readv(bufs).await;
    ///     assert_eq!(n.unwrap(), 8);
    ///     assert_eq!(bufs, [b"head".to_vec(), b"body".to_vec()]);
    /// });
    /// ```
    pub async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.readv(bufs).await
    }

    /// Splits into an owned read half and write half sharing the socket,
    /// so that one task reads while another writes.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(self.sock)
    }

    /// Closes the socket now (if no operation holds it), reporting the error
    /// of `close(2)`.
    pub async fn close(self) -> io::Result<()> {
        self.sock.close().await
    }
}

/// Reads with one `RECV` (see `ops/recv.rs` for cancellation), vectored
/// reads with one `RECVMSG`.
impl AsyncRead for TcpStream {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.sock.recv(buf)
    }
    async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.readv(bufs).await
    }
}

/// Writes with one `SEND` and `MSG_NOSIGNAL`: a closed peer is an `EPIPE`
/// error, never a `SIGPIPE`.
impl AsyncWrite for TcpStream {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.sock.send(buf)
    }
    async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.sock.writev(bufs).await
    }
    /// Sends the FIN (`shutdown(SHUT_WR)`).
    async fn shutdown(&self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Write).await
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

/// The socket for [`ringloop::io::splice`](ringloop_runtime::io::splice) and
/// the other zero-copy calls, which keep it open while they run.
impl AsSharedFd for TcpStream {
    fn as_shared_fd(&self) -> &SharedFd {
        self.sock.shared_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(a) = self.local_addr() {
            d.field("local", &a);
        }
        if let Ok(a) = self.peer_addr() {
            d.field("peer", &a);
        }
        d.field("fd", &self.sock.raw()).finish()
    }
}
