//! A task is one allocation: its scheduling header, its join state and its
//! future live in one [`TaskCell`], which is also its waker and what its
//! [`JoinHandle`](super::JoinHandle) holds.
//!
//! ```text
//!   Arc<TaskCell<F>> ── the task table (one strong ref while alive)
//!        │           ── the run queue (one per queued wake)
//!        │           ── every Waker cloned from it
//!        │           ── the JoinHandle (as Arc<dyn Join<F::Output>>)
//!        ├ header: scheduled flag, queue time, owner loop, spawn site, key
//!        ├ join:   output and join waker (the JoinState protocol)
//!        └ stage:  Empty → Running(F) → Done          (owner thread only)
//! ```
//!
//! The future is touched only on its loop's thread: it is installed there
//! (at once for a local spawn, from the remote drain for
//! [`Handle::spawn_with`](crate::Handle::spawn_with)), polled there, and
//! dropped there, when it finishes, when it is aborted, or when the loop
//! shuts down (the task table drops every future in place before it lets
//! go of its references). So a cell may be shared with other threads
//! (wakers, a `Send` join handle) even when `F` is `!Send`: what they reach
//! is the header and the join state, both thread-safe, and by the time a
//! reference on another thread can be the last one the future is gone.
//!
//! Scheduling: `scheduled` is set by whoever queues the task and cleared by
//! the loop just before it polls it, so a wake during the poll queues it
//! again and a task is never queued twice. A wake on the owning loop's
//! thread pushes to its local run queue; from any other thread it goes to
//! the loop's remote queue and unparks the driver (see
//! [`Shared`](super::shared::Shared)). A wake that arrives after the task
//! finished (a stale waker) finds the stage `Done` and is skipped.

use std::cell::UnsafeCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::join::{Join, JoinError, JoinState};
use super::shared::{Remote, Shared};

/// The part of a task that the loop and every waker read.
pub(crate) struct Header {
    /// The task-table key (set when the task is inserted).
    key: AtomicUsize,
    pub(crate) scheduled: AtomicBool,
    /// Set (on the loop thread) when the future is gone: a later wake is
    /// stale and skipped.
    done: AtomicBool,
    /// When it was last queued, in its loop's clock ticks (from the loop's
    /// cached reading): the loop-lag sample is the gap until it is polled.
    pub(crate) scheduled_at: AtomicU64,
    pub(crate) owner: Arc<Shared>,
    pub(crate) spawned_at: &'static Location<'static>,
}

impl Header {
    pub(crate) fn new(owner: Arc<Shared>, spawned_at: &'static Location<'static>) -> Self {
        Header {
            key: AtomicUsize::new(usize::MAX),
            scheduled: AtomicBool::new(false),
            done: AtomicBool::new(false),
            scheduled_at: AtomicU64::new(0),
            owner,
            spawned_at,
        }
    }

    #[inline]
    pub(crate) fn key(&self) -> usize {
        self.key.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn set_key(&self, key: usize) {
        self.key.store(key, Ordering::Relaxed);
    }

    /// Whether the task finished (its future is gone).
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    fn set_done(&self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// A task as the loop sees it: the run queue and the task table hold
/// `Arc<dyn Task>`.
pub(crate) trait Task: Send + Sync {
    fn header(&self) -> &Header;
    /// Polls the future once with this task as its waker; `true` when it
    /// finished (output, panic or abort: its table slot goes). Loop thread
    /// only, and only for a task that is not done.
    fn poll(self: Arc<Self>) -> bool;
    /// Drops the future in place if it is still there, reporting the task
    /// as cancelled. Loop thread only.
    fn drop_future(&self);
}

/// Queues `t` on its loop, unless it is queued already.
fn schedule(t: Arc<dyn Task>) {
    let h = t.header();
    if h.scheduled.swap(true, Ordering::AcqRel) {
        return;
    }
    let id = h.owner.id;
    if let Err(t) = super::push_local(id, t) {
        let owner = t.header().owner.clone();
        owner.push_remote(Remote::Wake(t));
    }
}

/// Whether `t` needs queueing (cheap check before cloning its `Arc`).
#[inline]
fn is_scheduled(h: &Header) -> bool {
    h.scheduled.load(Ordering::Acquire)
}

enum Stage<F> {
    /// Allocated for a remote spawn; the future is made on the loop.
    Empty,
    Running(F),
    Done,
}

/// One spawned task: header, join state and future in one allocation.
pub(crate) struct TaskCell<F: Future> {
    header: Header,
    join: JoinState<F::Output>,
    /// Owner thread only (see the module docs).
    stage: UnsafeCell<Stage<F>>,
}

// SAFETY: other threads reach only `header` (atomics and an `Arc<Shared>`,
// both thread-safe) and `join` (its own protocol; output values cross
// threads only through a `JoinHandle`, which is `Send` only for a `Send`
// output). `stage`, which holds the possibly `!Send` future, is read and
// written only on the owning loop's thread, and the loop drops the future
// there before the cell can be freed elsewhere (module docs).
unsafe impl<F: Future> Send for TaskCell<F> {}
// SAFETY: as for `Send`: shared access from other threads touches only the
// thread-safe header and join state.
unsafe impl<F: Future> Sync for TaskCell<F> {}

impl<F: Future + 'static> TaskCell<F> {
    /// A task with its future, for a spawn on the loop's own thread.
    pub(crate) fn new(fut: F, owner: Arc<Shared>, at: &'static Location<'static>) -> Arc<Self> {
        Arc::new(TaskCell {
            header: Header::new(owner, at),
            join: JoinState::new(),
            stage: UnsafeCell::new(Stage::Running(fut)),
        })
    }

    /// A task whose future is made later, on its loop ([`Self::install`]).
    pub(crate) fn empty(owner: Arc<Shared>, at: &'static Location<'static>) -> Arc<Self> {
        Arc::new(TaskCell {
            header: Header::new(owner, at),
            join: JoinState::new(),
            stage: UnsafeCell::new(Stage::Empty),
        })
    }

    /// Puts the future into an empty cell. Must run on the owning loop's
    /// thread; a cell that already has one (or finished) keeps its stage.
    pub(crate) fn install(&self, fut: F) {
        // SAFETY: called on the owning loop's thread (the remote drain),
        // the only thread that touches `stage`; not during a poll.
        let stage = unsafe { &mut *self.stage.get() };
        if matches!(stage, Stage::Empty) {
            *stage = Stage::Running(fut);
        }
    }

    /// Drops the future in place, then hands `out` to the join state.
    /// Loop thread only, outside any borrow of `stage`.
    fn finish(&self, out: Result<F::Output, JoinError>) {
        self.header.set_done();
        // SAFETY: loop thread only; the caller holds no reference into
        // `stage` (the poll's `fut` is dead by now).
        unsafe { *self.stage.get() = Stage::Done };
        self.join.complete(out);
    }

    /// Reports the task cancelled if it never got its future (a remote
    /// spawn refused or dropped before it ran). Any thread: touches only
    /// the join state.
    pub(crate) fn cancel_unstarted(&self) {
        self.join.complete(Err(JoinError::cancelled()));
    }
}

impl<F: Future + 'static> Task for TaskCell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn poll(self: Arc<Self>) -> bool {
        let this: *const Self = Arc::as_ptr(&self);
        // The waker takes over the queue's reference; it lives until this
        // poll returns, so `this` stays valid.
        let waker = Waker::from(self);
        // SAFETY: `waker` holds a strong reference for the rest of this
        // function.
        let this = unsafe { &*this };
        // SAFETY: loop thread only, and polls never nest (a loop cannot
        // run inside a task), so this is the only reference to `stage`.
        let stage = unsafe { &mut *this.stage.get() };
        let Stage::Running(fut) = stage else {
            // Never installed (cannot be queued so) or already done.
            return false;
        };
        if this.join.is_aborted() {
            this.finish(Err(JoinError::cancelled()));
            return true;
        }
        // SAFETY: the future lives in the cell's heap allocation and is
        // never moved: it is dropped in place (`*stage = Done`).
        let fut = unsafe { Pin::new_unchecked(fut) };
        let mut cx = Context::from_waker(&waker);
        let out = match catch_unwind(AssertUnwindSafe(|| fut.poll(&mut cx))) {
            Ok(Poll::Pending) => return false,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(panic) => Err(JoinError::panicked(panic)),
        };
        this.finish(out);
        true
    }

    fn drop_future(&self) {
        // SAFETY: loop thread only, not during a poll of this task (the
        // loop drops futures from its teardown or the executor's drop).
        if matches!(unsafe { &*self.stage.get() }, Stage::Running(_)) {
            self.finish(Err(JoinError::cancelled()));
        }
    }
}

impl<F: Future + 'static> Wake for TaskCell<F> {
    fn wake(self: Arc<Self>) {
        schedule(self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !is_scheduled(&self.header) {
            schedule(self.clone());
        }
    }
}

impl<F: Future + 'static> Join<F::Output> for TaskCell<F> {
    fn state(&self) -> &JoinState<F::Output> {
        &self.join
    }

    fn abort(self: Arc<Self>) {
        if self.join.set_aborted() {
            // The task sees the flag at its next poll.
            schedule(self);
        }
    }
}

/// The future given to `block_on`: it lives on the loop's stack, not in the
/// task table; this is only its header, so that its waker queues it like a
/// task. The loop recognises it in the queue and polls it itself.
pub(crate) struct MainTask {
    header: Header,
}

impl MainTask {
    pub(crate) fn new(owner: Arc<Shared>, at: &'static Location<'static>) -> Arc<Self> {
        let header = Header::new(owner, at);
        header.set_key(super::MAIN_KEY);
        Arc::new(MainTask { header })
    }
}

impl Task for MainTask {
    fn header(&self) -> &Header {
        &self.header
    }
    /// Never called: the loop polls the `block_on` future itself.
    fn poll(self: Arc<Self>) -> bool {
        false
    }
    fn drop_future(&self) {}
}

impl Wake for MainTask {
    fn wake(self: Arc<Self>) {
        schedule(self);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !is_scheduled(&self.header) {
            schedule(self.clone());
        }
    }
}
