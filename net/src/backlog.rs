//! [`Backlog`]: connections the kernel accepted for a listener that no
//! caller has taken yet.
//!
//! On io_uring a multishot accept drains the kernel's accept queue as fast
//! as connections arrive, and a single-shot accept may complete just as
//! its future is dropped. Those connections were accepted for the
//! *listener*, not for the stream or future that happened to ask: when an
//! [`Incoming`](crate::Incoming) or an `accept()` future is dropped, its
//! unyielded and late connections land here (through
//! `OpCode::orphaned`), and the listener's next `accept()` or
//! `incoming()` hands them out first, as the kernel's own queue would on
//! epoll. Only the listener's drop closes them.
//!
//! Waiting accepts register a waker, so a connection handed back while
//! they wait in the kernel wakes them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::os::fd::OwnedFd;
use std::task::Waker;

/// A listener's queue of handed-back connections; shared (`Rc`) by the
/// listener and its `Incoming` streams, and held weakly by accept ops.
#[derive(Default)]
pub(crate) struct Backlog {
    conns: RefCell<VecDeque<OwnedFd>>,
    waiters: RefCell<Vec<(u64, Waker)>>,
    next_id: Cell<u64>,
}

impl Backlog {
    /// Queues a connection and wakes every waiting accept.
    pub(crate) fn push(&self, fd: OwnedFd) {
        self.conns.borrow_mut().push_back(fd);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, w) in waiters {
            w.wake();
        }
    }

    /// The oldest handed-back connection.
    pub(crate) fn pop(&self) -> Option<OwnedFd> {
        self.conns.borrow_mut().pop_front()
    }

    /// Connections waiting here.
    pub(crate) fn len(&self) -> usize {
        self.conns.borrow().len()
    }

    /// Registers (or refreshes) the waker of the waiter `id`, allotting an
    /// id on the first call.
    pub(crate) fn register(&self, id: &mut Option<u64>, waker: &Waker) {
        let id = *id.get_or_insert_with(|| {
            let n = self.next_id.get();
            self.next_id.set(n + 1);
            n
        });
        let mut ws = self.waiters.borrow_mut();
        match ws.iter_mut().find(|(i, _)| *i == id) {
            Some((_, w)) if w.will_wake(waker) => {}
            Some((_, w)) => w.clone_from(waker),
            None => ws.push((id, waker.clone())),
        }
    }

    /// Forgets the waiter `id` (its future is done or dropped).
    pub(crate) fn unregister(&self, id: Option<u64>) {
        if let Some(id) = id {
            self.waiters.borrow_mut().retain(|(i, _)| *i != id);
        }
    }
}

impl fmt::Debug for Backlog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backlog")
            .field("conns", &self.len())
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}
