//! [`Incoming`]: a listener's connections as a `futures_core::Stream`.
//!
//! On io_uring it is one multishot accept (5.19): a single SQE yields a CQE
//! per connection, so a busy listener costs no submission per accept. The
//! kernel ends a multishot accept on an error (and may end it for its own
//! reasons); the stream then yields that error, if any, and **re-arms** a
//! new multishot accept at the next poll, so it never ends by itself. The
//! ring's probe cannot tell multishot support apart from plain `ACCEPT`
//! (same opcode): a kernel before 5.19 rejects the flag with `EINVAL`, and
//! the stream then switches for good to one single-shot accept per item.
//! On epoll every item is one non-blocking `accept4` after readiness.
//!
//! Dropping the stream cancels the accept and loses no connection: those
//! the kernel accepted and the stream did not yield (queued, or late
//! completions) go back to the listener's backlog, which the next
//! `accept()` or `incoming()` serves first (see `backlog.rs`). Only the
//! listener's drop closes them.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_core::Stream;
use ringloop_runtime::driver::{MultiOp, Op};

use crate::backlog::Backlog;
use crate::error::context;
use crate::ops::{Accept, AcceptMulti};
use crate::socket::Socket;

enum Mode {
    /// A multishot accept, armed on the next poll when `None`.
    Multi(Option<MultiOp<AcceptMulti>>),
    /// One single-shot accept per item (kernels without multishot accept).
    Single(Option<Op<Accept>>),
}

/// A stream of accepted connections; see the module docs. Made by
/// `TcpListener::incoming` and `UnixListener::incoming`. It never ends:
/// errors (for example `EMFILE`) are items, after which it keeps accepting.
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<S> {
    listener: Socket,
    backlog: Rc<Backlog>,
    /// This stream's waiter id in the backlog.
    waiter: Option<u64>,
    mode: Mode,
    /// A multishot accept has yielded a connection: `EINVAL` is then a real
    /// error, not a kernel without multishot support.
    multi_works: bool,
    wrap: fn(OwnedFd) -> io::Result<S>,
}

impl<S> Incoming<S> {
    pub(crate) fn new(
        listener: Socket,
        backlog: Rc<Backlog>,
        wrap: fn(OwnedFd) -> io::Result<S>,
    ) -> Self {
        Incoming {
            listener,
            backlog,
            waiter: None,
            mode: Mode::Multi(None),
            multi_works: false,
            wrap,
        }
    }

    fn poll_fd(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        // Connections handed back by dropped accepts come first.
        if let Some((fd, _)) = crate::listener::taken(&self.backlog) {
            return Poll::Ready(Ok(fd));
        }
        self.backlog.register(&mut self.waiter, cx.waker());
        let back = Rc::downgrade(&self.backlog);
        loop {
            match &mut self.mode {
                Mode::Multi(slot) => {
                    let fd = self.listener.shared_fd();
                    let op = slot.get_or_insert_with(|| {
                        MultiOp::new(AcceptMulti::new(fd.clone(), back.clone()))
                    });
                    match Pin::new(op).poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        // The kernel ended the multishot: re-arm.
                        Poll::Ready(None) => *slot = None,
                        Poll::Ready(Some(Err(e)))
                            if e.raw_os_error() == Some(libc::EINVAL) && !self.multi_works =>
                        {
                            self.mode = Mode::Single(None);
                        }
                        Poll::Ready(Some(r)) => {
                            self.multi_works |= r.is_ok();
                            return Poll::Ready(r);
                        }
                    }
                }
                Mode::Single(slot) => {
                    let fd = self.listener.shared_fd();
                    let op =
                        slot.get_or_insert_with(|| Op::new(Accept::new(fd.clone(), back.clone())));
                    let r = std::task::ready!(Pin::new(op).poll(cx));
                    *slot = None;
                    return Poll::Ready(r.map(|(fd, _)| fd));
                }
            }
        }
    }
}

use std::future::Future as _;

impl<S> Stream for Incoming<S> {
    type Item = io::Result<S>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<S>>> {
        let this = self.get_mut();
        let r = std::task::ready!(this.poll_fd(cx));
        let (kind, fd) = (this.listener.kind(), this.listener.raw());
        let r = r
            .map_err(|e| context(e, format!("{kind} accept (fd {fd})")))
            .and_then(this.wrap);
        Poll::Ready(Some(r))
    }
}

impl<S> Unpin for Incoming<S> {}

impl<S> Drop for Incoming<S> {
    fn drop(&mut self) {
        self.backlog.unregister(self.waiter);
    }
}

impl<S> fmt::Debug for Incoming<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Multi(_) => "multishot",
            Mode::Single(_) => "single-shot",
        };
        f.debug_struct("Incoming")
            .field("listener", &self.listener)
            .field("mode", &mode)
            .finish()
    }
}
