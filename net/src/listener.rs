//! [`Listener`]: what TCP and Unix listeners share — the socket, the
//! [`Backlog`] of connections handed back by dropped accepts, `accept` and
//! `incoming`.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use ringloop_runtime::driver::Op;

use crate::backlog::Backlog;
use crate::incoming::Incoming;
use crate::ops;
use crate::socket::Socket;
use crate::sys::{self, RawAddr};

/// A listening socket and its backlog.
pub(crate) struct Listener {
    sock: Socket,
    backlog: Rc<Backlog>,
}

impl Listener {
    pub(crate) fn new(sock: Socket) -> Self {
        Listener {
            sock,
            backlog: Rc::default(),
        }
    }

    pub(crate) fn sock(&self) -> &Socket {
        &self.sock
    }

    /// One connection: a handed-back one first, else an accept. A
    /// connection handed back while the accept waits in the kernel is taken
    /// at once (the accept is cancelled; what it may still accept is handed
    /// back in turn).
    pub(crate) async fn accept(&self) -> io::Result<(OwnedFd, RawAddr)> {
        struct Waiting<'a>(&'a Backlog, Option<u64>);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.unregister(self.1);
            }
        }
        let mut waiting = Waiting(&self.backlog, None);
        let mut op = None;
        poll_fn(|cx| {
            if let Some(conn) = taken(&self.backlog) {
                return Poll::Ready(Ok(conn));
            }
            self.backlog.register(&mut waiting.1, cx.waker());
            let op = op.get_or_insert_with(|| {
                Op::new(ops::Accept::new(
                    self.sock.shared_fd().clone(),
                    Rc::downgrade(&self.backlog),
                ))
            });
            Pin::new(op).poll(cx)
        })
        .await
        .map_err(self.sock.ctx("accept"))
    }

    /// The listening socket for std (see `convert.rs`), refused while an
    /// `Incoming` of it lives: that stream would go on accepting, on a
    /// socket now in blocking mode.
    pub(crate) fn into_std(self) -> io::Result<OwnedFd> {
        if Rc::strong_count(&self.backlog) > 1 {
            let (kind, fd) = (self.sock.kind(), self.sock.raw());
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!(
                    "{kind} into_std (fd {fd}): an Incoming of this listener is still \
                     alive; drop it first (the listener was closed)"
                ),
            ));
        }
        drop(self.backlog);
        self.sock.into_std()
    }

    /// Closes the listener (and the connections handed back to it).
    pub(crate) async fn close(self) -> io::Result<()> {
        drop(self.backlog);
        self.sock.close().await
    }

    /// The accepted connections as a stream; see [`Incoming`].
    pub(crate) fn incoming<S>(&self, wrap: fn(OwnedFd) -> io::Result<S>) -> Incoming<S> {
        Incoming::new(self.sock.clone(), self.backlog.clone(), wrap)
    }
}

/// The oldest handed-back connection that is still connected, with its
/// peer's address (a connection reset meanwhile has none and is dropped).
pub(crate) fn taken(backlog: &Backlog) -> Option<(OwnedFd, RawAddr)> {
    while let Some(fd) = backlog.pop() {
        if let Ok(addr) = sys::peer_addr(fd.as_raw_fd()) {
            return Some((fd, addr));
        }
    }
    None
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("sock", &self.sock)
            .field("backlog", &self.backlog)
            .finish()
    }
}
