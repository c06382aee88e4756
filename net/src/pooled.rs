//! Pooled receives: [`recv_pooled`](crate::TcpStream::recv_pooled) and
//! [`RecvStream`], which take no buffer from the caller and yield
//! loop-owned [`PooledBuf`]s, so an idle connection holds no buffer on
//! either backend (see `ringloop::driver::BufPool` for how).
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
use ringloop_runtime::driver::{BufPool, MultiOp, Op, PooledBuf};

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
                Rc::downgrade(sock.pending()),
            ))
        });
        let r = std::task::ready!(Pin::new(armed).poll(cx));
        // Finished: a new op next time round.
        op = None;
        match r {
            Err(e) if is_enobufs(&e) => starved = true,
            r => return Poll::Ready(r.map_err(sock.ctx("recv (pooled)"))),
        }
    })
    .await
}

/// The stream of a connection's bytes in loop-owned buffers: one multishot
/// receive on io_uring (re-armed when the kernel ends it), repeated
/// receives after readiness on epoll. Ends at the end of the stream; an
/// error is an item, after which it ends too.
///
/// Dropping it cancels the receive; bytes already received for it are
/// kept for the socket's next pooled receive.
#[must_use = "streams do nothing unless polled"]
pub struct RecvStream {
    sock: Socket,
    pool: Option<Rc<BufPool>>,
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

impl RecvStream {
    pub(crate) fn new(sock: Socket) -> Self {
        RecvStream {
            sock,
            pool: None,
            op: None,
            single: None,
            single_mode: false,
            multi_works: false,
            starved: false,
            done: false,
        }
    }

    fn poll_buf(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<PooledBuf>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(b) = self.sock.pending().pop() {
            return Poll::Ready(Some(Ok(b)));
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
            let op = self.op.get_or_insert_with(|| {
                MultiOp::new(RecvPooled::new(
                    sock.shared_fd().clone(),
                    pool.clone(),
                    true,
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
}

impl RecvStream {
    fn ctx(&self, e: io::Error) -> io::Error {
        let (kind, fd) = (self.sock.kind(), self.sock.raw());
        context(e, format_args!("{kind} recv (pooled, fd {fd})"))
    }
}

impl Stream for RecvStream {
    type Item = io::Result<PooledBuf>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_buf(cx)
    }
}

impl Unpin for RecvStream {}

impl fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("sock", &self.sock)
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
                RecvStream::new(self.sock.clone())
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
