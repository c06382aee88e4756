//! Pooled receives: [`recv_pooled`](crate::TcpStream::recv_pooled),
//! [`RecvStream`] and [`RecvBundles`], which take no buffer from the caller
//! and yield loop-owned [`PooledBuf`]s, so an idle connection holds no
//! buffer on either backend (see `ringloop::driver::BufPool` for how).
//!
//! [`RecvBundles`] asks the kernel for receive bundles
//! (`IORING_RECVSEND_BUNDLE`, 6.10): one completion for every buffer the
//! bytes queued on the socket fill, yielded as one [`PooledBufs`] (the
//! buffers in order). Where the kernel has no bundles, and on epoll, each
//! item is one buffer: the same bytes. [`RecvStream`] yields one buffer per
//! item, as it always did.
//!
//! Nothing received is lost: bytes the kernel put in a buffer for a
//! receive whose future (or stream) was dropped wait in the socket's
//! [`Pending`] queue and come out of the next pooled receive first; an
//! empty pool (`ENOBUFS`) makes the receive wait for a buffer to come back,
//! with the data waiting in the socket.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use ringloop_runtime::driver::{BufPool, MultiOp, Op, PooledBuf, PooledBufs};

use crate::error::context;
use crate::ops::RecvPooled;
use crate::socket::Socket;

/// Bytes received for dropped pooled receives, kept for the next one, and
/// the receives to wake when some arrive (the late completion of a dropped
/// receive lands while the next one waits in the kernel).
#[derive(Default)]
pub(crate) struct Pending {
    bufs: RefCell<VecDeque<PooledBuf>>,
    waiters: RefCell<Vec<Waker>>,
}

impl Pending {
    pub(crate) fn push(&self, b: PooledBuf) {
        self.bufs.borrow_mut().push_back(b);
        let w = std::mem::take(&mut *self.waiters.borrow_mut());
        w.into_iter().for_each(Waker::wake);
    }

    fn pop(&self) -> Option<PooledBuf> {
        self.bufs.borrow_mut().pop_front()
    }

    fn watch(&self, waker: &Waker) {
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(waker)) {
            w.push(waker.clone());
        }
    }
}

fn is_enobufs(e: &io::Error) -> bool {
    ringloop_runtime::sys::os_error(e) == Some(libc::ENOBUFS)
}

/// One pooled receive on `sock`; `Ok(None)` at the end of the stream.
pub(crate) async fn recv_pooled(sock: &Socket) -> io::Result<Option<PooledBuf>> {
    let pool = BufPool::current()?;
    let mut op: Option<Op<RecvPooled>> = None;
    let mut starved = false;
    poll_fn(|cx| loop {
        if let Some(b) = sock.pending().pop() {
            return Poll::Ready(Ok(Some(b)));
        }
        sock.pending().watch(cx.waker());
        if starved {
            std::task::ready!(pool.poll_available(cx));
            starved = false;
        }
        let armed = op.get_or_insert_with(|| {
            Op::new(RecvPooled::new(
                sock.shared_fd().clone(),
                pool.clone(),
                false,
                false,
                Rc::downgrade(sock.pending()),
            ))
        });
        let r = std::task::ready!(Pin::new(armed).poll(cx));
        // Finished: a new op next time round.
        op = None;
        match r {
            Err(e) if is_enobufs(&e) => starved = true,
            Ok(Some(mut bufs)) => {
                let first = bufs.next();
                // A one-shot receive fills one buffer; more would wait here.
                bufs.for_each(|b| sock.pending().push(b));
                return Poll::Ready(Ok(first));
            }
            r => return Poll::Ready(r.map(|_| None).map_err(sock.ctx("recv (pooled)"))),
        }
    })
    .await
}

/// The stream of a connection's bytes in loop-owned buffers, one buffer
/// per item: a [`RecvBundles`] without bundles (a multishot receive on
/// io_uring, re-armed when the kernel ends it; repeated receives after
/// readiness on epoll). Ends at the end of the stream; an error is an
/// item, after which it ends too.
///
/// Dropping it cancels the receive; bytes already received for it are
/// kept for the socket's next pooled receive.
#[must_use = "streams do nothing unless polled"]
pub struct RecvStream {
    inner: RecvBundles,
    /// The buffers of the last item of `inner` not yielded yet.
    rest: Option<PooledBufs>,
}

impl Stream for RecvStream {
    type Item = io::Result<PooledBuf>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(b) = this.rest.as_mut().and_then(Iterator::next) {
                return Poll::Ready(Some(Ok(b)));
            }
            this.rest = None;
            match std::task::ready!(this.inner.poll_bufs(cx)) {
                Some(Ok(bufs)) => this.rest = Some(bufs),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl Drop for RecvStream {
    fn drop(&mut self) {
        // Received and not yielded: the socket's next receive starts there.
        if let Some(rest) = self.rest.take() {
            rest.for_each(|b| self.inner.sock.pending().push(b));
        }
    }
}

impl fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("inner", &self.inner)
            .field("rest", &self.rest)
            .finish()
    }
}

/// The stream of a connection's bytes as receive bundles: each item is the
/// [`PooledBufs`] one completion filled, several buffers in order where the
/// kernel has bundles (`IORING_RECVSEND_BUNDLE`, 6.10; see
/// `BufPool::bundles`), one buffer otherwise and on epoll. Otherwise a
/// [`RecvStream`]: one multishot receive, re-armed when the kernel ends
/// it; the end of the stream ends it; an error is its last item.
///
/// Dropping it cancels the receive; bytes already received for it are
/// kept for the socket's next pooled receive.
///
/// # Examples
///
/// ```
/// use futures_core::Stream;
/// use ringloop::io::AsyncWrite;
/// use ringloop::net::{TcpListener, TcpStream};
/// use std::future::poll_fn;
/// use std::pin::Pin;
///
/// ringloop::block_on(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     c.write_all(b"hello".to_vec()).await.0.unwrap();
///     drop(c);
///     let mut got = Vec::new();
///     let mut bundles = s.recv_bundles();
///     while let Some(bufs) = poll_fn(|cx| Pin::new(&mut bundles).poll_next(cx)).await {
///         // Every buffer one completion filled, in order.
///         for buf in bufs.unwrap() {
///             got.extend_from_slice(&buf);
///         }
///     }
///     assert_eq!(got, b"hello");
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct RecvBundles {
    sock: Socket,
    pool: Option<Rc<BufPool>>,
    /// Ask for bundles (where the pool has them).
    bundle: bool,
    op: Option<MultiOp<RecvPooled>>,
    /// One single-shot receive at a time instead (a kernel with buffer rings
    /// but without multishot receive, 5.19, rejects it with `EINVAL`).
    single: Option<Op<RecvPooled>>,
    single_mode: bool,
    /// A multishot receive has yielded: `EINVAL` is then a real error.
    multi_works: bool,
    /// Waiting for a buffer to come back before re-arming.
    starved: bool,
    done: bool,
}

impl RecvBundles {
    pub(crate) fn new(sock: Socket, bundle: bool) -> Self {
        RecvBundles {
            sock,
            pool: None,
            bundle,
            op: None,
            single: None,
            single_mode: false,
            multi_works: false,
            starved: false,
            done: false,
        }
    }

    fn poll_bufs(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<PooledBufs>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(b) = self.sock.pending().pop() {
            return Poll::Ready(Some(Ok(b.into())));
        }
        self.sock.pending().watch(cx.waker());
        let pool = match &self.pool {
            Some(p) => p.clone(),
            None => match BufPool::current() {
                Ok(p) => self.pool.insert(p).clone(),
                Err(e) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            },
        };
        loop {
            if self.starved {
                std::task::ready!(pool.poll_available(cx));
                self.starved = false;
            }
            let sock = &self.sock;
            if self.single_mode {
                let op = self.single.get_or_insert_with(|| {
                    Op::new(RecvPooled::new(
                        sock.shared_fd().clone(),
                        pool.clone(),
                        false,
                        false,
                        Rc::downgrade(sock.pending()),
                    ))
                });
                let r = std::task::ready!(Pin::new(op).poll(cx));
                self.single = None;
                match r {
                    Ok(Some(b)) => return Poll::Ready(Some(Ok(b))),
                    Ok(None) => {
                        self.done = true;
                        return Poll::Ready(None);
                    }
                    Err(e) if is_enobufs(&e) => self.starved = true,
                    Err(e) => {
                        self.done = true;
                        return Poll::Ready(Some(Err(self.ctx(e))));
                    }
                }
                continue;
            }
            let bundle = self.bundle;
            let op = self.op.get_or_insert_with(|| {
                MultiOp::new(RecvPooled::new(
                    sock.shared_fd().clone(),
                    pool.clone(),
                    true,
                    bundle,
                    Rc::downgrade(sock.pending()),
                ))
            });
            match std::task::ready!(Pin::new(op).poll_next(cx)) {
                Some(Ok(Some(b))) => {
                    self.multi_works = true;
                    return Poll::Ready(Some(Ok(b)));
                }
                Some(Err(e)) if e.raw_os_error() == Some(libc::EINVAL) && !self.multi_works => {
                    self.op = None;
                    self.single_mode = true;
                }
                Some(Ok(None)) => {
                    self.op = None;
                    self.done = true;
                    return Poll::Ready(None);
                }
                // The ring (or the free list) ran dry: the receive ended;
                // wait for a buffer, then re-arm. The data waits in the
                // socket.
                Some(Err(e)) if is_enobufs(&e) => {
                    self.op = None;
                    self.starved = true;
                }
                Some(Err(e)) => {
                    self.op = None;
                    self.done = true;
                    return Poll::Ready(Some(Err(self.ctx(e))));
                }
                // The kernel ended the multishot for its own reasons: re-arm.
                None => self.op = None,
            }
        }
    }

    /// The same receive, one buffer per item (a bundle's buffers in
    /// order): a [`RecvStream`] that still takes bundles from the kernel.
    pub fn into_buffers(self) -> RecvStream {
        RecvStream {
            inner: self,
            rest: None,
        }
    }

    fn ctx(&self, e: io::Error) -> io::Error {
        let (kind, fd) = (self.sock.kind(), self.sock.raw());
        context(e, format_args!("{kind} recv (pooled, fd {fd})"))
    }
}

impl Stream for RecvBundles {
    type Item = io::Result<PooledBufs>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_bufs(cx)
    }
}

impl Unpin for RecvBundles {}

impl fmt::Debug for RecvBundles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBundles")
            .field("sock", &self.sock)
            .field("bundle", &self.bundle)
            .field("armed", &self.op.is_some())
            .field("done", &self.done)
            .finish()
    }
}

macro_rules! pooled_receives {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// Receives the next bytes into a loop-owned buffer (no buffer
            /// is held while the peer is silent; see `BufPool`); `Ok(None)`
            /// at the end of the stream. Cancel-safe: bytes received for a
            /// dropped call come out of the next one.
            pub async fn recv_pooled(&self) -> io::Result<Option<PooledBuf>> {
                recv_pooled(&self.sock).await
            }

            /// The connection's bytes as a [`RecvStream`] of loop-owned
            /// buffers (a multishot receive on io_uring).
            pub fn recv_stream(&self) -> RecvStream {
                RecvBundles::new(self.sock.clone(), false).into_buffers()
            }

            /// The connection's bytes as [`RecvBundles`]: each item holds
            /// every buffer one completion filled, in order (receive
            /// bundles, Linux 6.10; one buffer per item elsewhere).
            pub fn recv_bundles(&self) -> RecvBundles {
                RecvBundles::new(self.sock.clone(), true)
            }
        }
    )*};
}

pooled_receives!(
    crate::tcp::TcpStream,
    crate::unix::UnixStream,
    crate::split::ReadHalf<crate::tcp::TcpStream>,
    crate::split::ReadHalf<crate::unix::UnixStream>,
);
