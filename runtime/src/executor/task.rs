//! Task headers (what a waker holds) and the wrapper future that delivers a
//! task's output to its [`JoinHandle`](super::JoinHandle).
//!
//! A task's future lives in its loop's task table and never leaves that
//! thread, so it may be `!Send`. Its waker holds only the [`Header`], which
//! is `Send + Sync`:
//!
//! - `scheduled` is set by whoever queues the task and cleared by the loop
//!   just before it polls it, so a wake during the poll queues it again and
//!   a task is never queued twice. Only the loop clears it.
//! - A wake on the owning loop's thread pushes to its local run queue; from
//!   any other thread it goes to the loop's remote queue and unparks the
//!   driver (see [`Shared`](super::shared::Shared)).
//! - A header can outlive its task (a stale waker); the loop then finds the
//!   table slot empty or owned by another header and skips it.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Wake;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::join::{JoinError, JoinInner};
use super::shared::{Remote, Shared};

/// The part of a task that wakers share.
pub(crate) struct Header {
    pub(crate) key: usize,
    pub(crate) scheduled: AtomicBool,
    /// When it was last queued, in its loop's clock (ns since the loop's
    /// loop-health clock, ticks, from the loop's cached reading): the loop-lag sample is the
    /// gap until it is polled.
    pub(crate) scheduled_at: AtomicU64,
    pub(crate) owner: Arc<Shared>,
    pub(crate) spawned_at: &'static Location<'static>,
}

impl Header {
    pub(crate) fn new(
        key: usize,
        owner: Arc<Shared>,
        spawned_at: &'static Location<'static>,
    ) -> Arc<Self> {
        Arc::new(Header {
            key,
            scheduled: AtomicBool::new(true),
            scheduled_at: AtomicU64::new(0),
            owner,
            spawned_at,
        })
    }

    fn schedule(self: Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        if !super::push_local(self.owner.id, &self) {
            self.owner.push_remote(Remote::Wake(self.clone()));
        }
    }
}

impl Wake for Header {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.clone().schedule();
    }
}

pin_project! {
    /// Polls the user's future, catches its panic, honours `abort`, and
    /// hands the result to the join state. Dropped unfinished (runtime
    /// shutdown, or a remote spawn that never ran) it reports cancellation.
    pub(crate) struct TaskFuture<F: Future> {
        #[pin]
        fut: Option<F>,
        join: Arc<JoinInner<F::Output>>,
    }

    impl<F: Future> PinnedDrop for TaskFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.fut.is_some() {
                this.join.complete(Err(JoinError::cancelled()));
            }
        }
    }
}

impl<F: Future> TaskFuture<F> {
    pub(crate) fn new(fut: F, join: Arc<JoinInner<F::Output>>) -> Self {
        TaskFuture {
            fut: Some(fut),
            join,
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if this.join.is_aborted() {
            this.fut.set(None);
            this.join.complete(Err(JoinError::cancelled()));
            return Poll::Ready(());
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let out = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(panic) => Err(JoinError::panicked(panic)),
        };
        this.fut.set(None);
        this.join.complete(out);
        Poll::Ready(())
    }
}
