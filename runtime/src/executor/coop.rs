//! The cooperative budget: within one poll, a task may complete at most
//! [`OPS_PER_POLL`] operations without waiting; after that its next
//! operation yields (wakes itself and returns `Pending`), so a task reading
//! an always-ready socket on epoll cannot starve I/O, timers and the other
//! tasks. The loop resets the budget before each task poll.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may complete in one poll before it must yield.
pub(crate) const OPS_PER_POLL: u32 = 128;

thread_local! {
    static BUDGET: Cell<u32> = const { Cell::new(OPS_PER_POLL) };
}

/// A task is about to be polled: it gets a full budget.
#[inline]
pub(crate) fn reset() {
    BUDGET.set(OPS_PER_POLL);
}

/// At the start of an operation's poll: `Pending` (with a self-wake) when
/// the task has used up its budget.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    if BUDGET.get() == 0 {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(())
    }
}

/// An operation completed: spend one unit of the task's budget.
#[inline]
pub(crate) fn spend() {
    BUDGET.set(BUDGET.get().saturating_sub(1));
}
