//! [`Socket`]: the fd and the operations every socket type shares.
//!
//! The public types (TCP, UDP, Unix) are thin wrappers that pick the
//! address type and the calls that make sense for them. Each method here
//! builds one operation from [`ops`](crate::ops), awaits it, and adds
//! context to its error.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::driver::{Interest, Op, OpCode};

use crate::error::context;
use crate::ops;
use crate::pooled::Pending;
use crate::sys::{self, RawAddr};

/// A socket fd owned by the current loop, shared by the operations on it.
#[derive(Clone)]
pub(crate) struct Socket {
    fd: SharedFd,
    /// "tcp", "udp", "unix stream", ...: names the socket in errors.
    kind: &'static str,
    /// Bytes pooled receives got for dropped futures (see `pooled.rs`).
    pending: Rc<Pending>,
}

impl Socket {
    /// A new non-blocking, close-on-exec socket on the current loop.
    pub(crate) fn new(
        domain: libc::c_int,
        ty: libc::c_int,
        kind: &'static str,
    ) -> io::Result<Socket> {
        let fd = sys::socket(domain, ty).map_err(|e| context(e, format!("{kind} socket()")))?;
        Socket::from_owned(fd, kind)
    }

    /// Takes ownership of `fd` for the current loop's driver.
    ///
    /// Sockets must be made on the loop that uses them: the driver closes
    /// (and on epoll deregisters) them when the last clone drops, so one made
    /// outside any loop would be closed behind the driver's back.
    pub(crate) fn from_owned(fd: OwnedFd, kind: &'static str) -> io::Result<Socket> {
        if ringloop_runtime::current_backend().is_none() {
            return Err(io::Error::other(format!(
                "{kind} sockets must be created inside a ringloop runtime"
            )));
        }
        Ok(Socket {
            fd: SharedFd::new(fd),
            kind,
            pending: Rc::default(),
        })
    }

    pub(crate) fn pending(&self) -> &Rc<Pending> {
        &self.pending
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    /// Whether `other` is a clone of this socket (same fd).
    pub(crate) fn same(&self, other: &Socket) -> bool {
        self.raw() == other.raw()
    }

    /// Adds "which socket, which call" to an error; nothing is built
    /// unless an error happens (this is on every send and recv).
    pub(crate) fn ctx(&self, call: &'static str) -> impl Fn(io::Error) -> io::Error + 'static {
        let (kind, fd) = (self.kind, self.raw());
        move |e| context(e, format_args!("{kind} {call} (fd {fd})"))
    }

    pub(crate) fn bind(&self, addr: &RawAddr, shown: &dyn fmt::Display) -> io::Result<()> {
        sys::bind(self.raw(), addr)
            .map_err(|e| context(e, format!("{} bind to {shown}", self.kind)))
    }

    pub(crate) fn listen(&self, backlog: i32) -> io::Result<()> {
        sys::listen(self.raw(), backlog).map_err(self.ctx("listen"))
    }

    pub(crate) fn set_opt<T: Copy>(
        &self,
        level: i32,
        name: i32,
        val: T,
        what: &'static str,
    ) -> io::Result<()> {
        sys::setsockopt(self.raw(), level, name, val).map_err(self.ctx(what))
    }

    pub(crate) fn get_opt<T: Copy + Default>(
        &self,
        level: i32,
        name: i32,
        what: &'static str,
    ) -> io::Result<T> {
        sys::getsockopt(self.raw(), level, name).map_err(self.ctx(what))
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        sys::take_error(self.raw()).map_err(self.ctx("getsockopt(SO_ERROR)"))
    }

    pub(crate) fn local_addr(&self) -> io::Result<RawAddr> {
        sys::local_addr(self.raw()).map_err(self.ctx("getsockname"))
    }

    pub(crate) fn peer_addr(&self) -> io::Result<RawAddr> {
        sys::peer_addr(self.raw()).map_err(self.ctx("getpeername"))
    }

    /// Connects a datagram socket (never waits).
    pub(crate) fn connect_now(&self, addr: &RawAddr, shown: &dyn fmt::Display) -> io::Result<()> {
        sys::connect_now(self.raw(), addr)
            .map_err(|e| context(e, format!("{} connect to {shown}", self.kind)))
    }

    /// Connects a stream socket (see [`ops::Connect`]).
    pub(crate) async fn connect(&self, addr: RawAddr, shown: &dyn fmt::Display) -> io::Result<()> {
        Op::new(ops::Connect::new(self.fd.clone(), addr))
            .await
            .map_err(|e| context(e, format!("{} connect to {shown}", self.kind)))
    }

    pub(crate) fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    pub(crate) fn recv<B: IoBufMut>(
        &self,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> + '_ {
        let stream = matches!(self.kind, "tcp" | "unix stream");
        let op = Op::new(ops::Recv::new(self.fd.clone(), buf, 0, stream));
        async move {
            let (r, buf) = op.await;
            (r.map_err(self.ctx("recv")), buf)
        }
    }

    pub(crate) fn send<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> + '_ {
        let op = Op::new(ops::Send::new(self.fd.clone(), buf));
        async move {
            let (r, buf) = self.in_progress_retry(op.await, ops::Send::new).await;
            (r.map_err(self.ctx("send")), buf)
        }
    }

    /// A zero-copy send (see [`ops::SendZc`]).
    pub(crate) async fn send_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let first = Op::new(ops::SendZc::new(self.fd.clone(), buf)).await;
        let (r, buf) = self.in_progress_retry(first, ops::SendZc::new).await;
        (r.map_err(self.ctx("send_zc")), buf)
    }

    /// Zero-copy sends of the rest of `buf` until all of it is sent.
    pub(crate) async fn send_zc_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut done = 0;
        let mut buf = buf;
        while done < total {
            let (res, slice) = self.send_zc(buf.slice(done..total)).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("send_zc returned 0 after {done} of {total} bytes"),
                    );
                    return (Err(self.ctx("send_zc")(e)), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    pub(crate) async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let first = Op::new(ops::SendVectored::new(self.fd.clone(), bufs)).await;
        let (r, bufs) = self.in_progress_retry(first, ops::SendVectored::new).await;
        (r.map_err(self.ctx("sendmsg")), bufs)
    }

    /// The first send on a TCP Fast Open connection (`TCP_FASTOPEN_CONNECT`,
    /// whose `connect` returned before any SYN went out) fails with
    /// `EINPROGRESS` when the kernel sent the SYN without the bytes (they
    /// did not fit, or the cookie went missing): then wait until the
    /// handshake is over (writable, or in error) and send once more, which
    /// cannot be in progress again. Any other outcome is `first` itself.
    pub(crate) async fn in_progress_retry<B, T>(
        &self,
        first: BufResult<usize, B>,
        op: impl FnOnce(SharedFd, B) -> T,
    ) -> BufResult<usize, B>
    where
        T: OpCode<Output = BufResult<usize, B>>,
    {
        match first {
            (Err(e), buf) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                let ready = Op::new(ops::Ready::new(self.fd.clone(), Interest::Writable)).await;
                if let Err(e) = ready {
                    return (Err(e), buf);
                }
                Op::new(op(self.fd.clone(), buf)).await
            }
            first => first,
        }
    }

    /// A scattering read of a stream socket (see [`ops::RecvVectored`]).
    pub(crate) async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let op = ops::RecvVectored::new(self.fd.clone(), bufs);
        if op.is_empty() {
            return (Ok(0), op.into_bufs());
        }
        let (r, bufs) = Op::new(op).await;
        (r.map_err(self.ctx("recvmsg")), bufs)
    }

    pub(crate) async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, RawAddr), B> {
        let (r, buf) = Op::new(ops::RecvFrom::new(self.fd.clone(), buf)).await;
        (r.map_err(self.ctx("recvmsg")), buf)
    }

    pub(crate) async fn send_to<B: IoBuf>(
        &self,
        buf: B,
        addr: RawAddr,
        shown: &dyn fmt::Display,
    ) -> BufResult<usize, B> {
        let (r, buf) = Op::new(ops::SendTo::new(self.fd.clone(), buf, addr)).await;
        let kind = self.kind;
        (
            r.map_err(|e| context(e, format!("{kind} send to {shown}"))),
            buf,
        )
    }

    /// Waits until the socket is ready for `interest` (see [`ops::Ready`]).
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<()> {
        let call = match interest {
            Interest::Readable => "readable",
            Interest::Writable => "writable",
        };
        Op::new(ops::Ready::new(self.fd.clone(), interest))
            .await
            .map_err(self.ctx(call))
    }

    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        Op::new(ops::Shutdown::new(self.fd.clone(), how))
            .await
            .map_err(|e| {
                let (kind, fd) = (self.kind, self.raw());
                context(e, format_args!("{kind} shutdown({how:?}) (fd {fd})"))
            })
    }

    /// Closes the fd now if this is the last clone, reporting the error;
    /// otherwise it closes when the last clone (an in-flight op, another
    /// half) goes.
    pub(crate) async fn close(self) -> io::Result<()> {
        let f = self.ctx("close");
        let r = self.fd.close().await;
        r.map_err(f)
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} socket (fd {})", self.kind, self.raw())
    }
}
