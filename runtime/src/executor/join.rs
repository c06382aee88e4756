//! [`JoinHandle`]: the output side of a task or a blocking job, and the
//! lock-free join state both share with it.
//!
//! The join state lives inside the task's own allocation (a task is one
//! allocation, see [`task`](super::task)), or alone for a blocking job. It is
//! three fields and a state word:
//!
//! - `CLAIMED`: a completer has taken the right to write the output (the
//!   first call to `complete` wins: a blocking job's result and an abort
//!   race, the rest is dropped);
//! - `COMPLETE`: the output is written; from then on only the handle reads
//!   it;
//! - `JOIN_WAKER`: the join waker is written and owned, read-only, by the
//!   completing side; the handle writes it only while the bit is clear (it
//!   clears the bit with a CAS that fails once `COMPLETE` is set);
//! - `DETACHED`: the handle is gone; whoever sees the other side's bit
//!   drops the output, on its own thread (a `!Send` output of a local task
//!   never crosses threads: its handle is `!Send`);
//! - `ABORTED`: the handle asked the task to stop.
//!
//! No lock, no condition variable: a spawn + join on one loop is a handful
//! of uncontended atomic operations.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

pub use super::join_error::JoinError;

const CLAIMED: usize = 1;
const COMPLETE: usize = 2;
const JOIN_WAKER: usize = 4;
const DETACHED: usize = 8;
const ABORTED: usize = 16;

/// The state a task (or blocking job) shares with its [`JoinHandle`].
pub(crate) struct JoinState<T> {
    state: AtomicUsize,
    /// Written once by the completer before `COMPLETE`; then the handle's.
    output: UnsafeCell<Option<Result<T, JoinError>>>,
    /// Written by the handle while `JOIN_WAKER` is clear; read by the
    /// completer when it sets `COMPLETE` with `JOIN_WAKER` set.
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the fields behind `UnsafeCell` are handed between threads by the
// state word's protocol (module docs): each is written by one side at a
// time, with Release/Acquire on the bit that hands it over. `T` moves from
// the completing thread to the handle's, hence `T: Send`.
unsafe impl<T: Send> Send for JoinState<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for JoinState<T> {}

impl<T> JoinState<T> {
    pub(crate) fn new() -> Self {
        JoinState {
            state: AtomicUsize::new(0),
            output: UnsafeCell::new(None),
            waker: UnsafeCell::new(None),
        }
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.state.load(Ordering::Acquire) & ABORTED != 0
    }

    /// Sets `ABORTED`; `false` when the output is already there.
    pub(crate) fn set_aborted(&self) -> bool {
        self.state.fetch_or(ABORTED, Ordering::AcqRel) & COMPLETE == 0
    }

    fn is_complete(&self) -> bool {
        self.state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Stores the output (the first call wins; later ones drop theirs) and
    /// wakes the joiner. A detached handle's output is dropped here.
    pub(crate) fn complete(&self, out: Result<T, JoinError>) {
        let prev = self.state.fetch_or(CLAIMED, Ordering::AcqRel);
        if prev & CLAIMED != 0 || prev & DETACHED != 0 {
            return;
        }
        // SAFETY: `CLAIMED` makes us the only writer, and the handle reads
        // `output` only after it sees `COMPLETE`, set below.
        unsafe { *self.output.get() = Some(out) };
        let prev = self.state.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & DETACHED != 0 {
            // The handle went between our two steps and saw no `COMPLETE`:
            // the output is ours to drop.
            // SAFETY: the handle is gone; nobody else reads `output`.
            drop(unsafe { (*self.output.get()).take() });
            return;
        }
        if prev & JOIN_WAKER != 0 {
            // SAFETY: with `JOIN_WAKER` set the handle does not write the
            // waker, and after `COMPLETE` it never will: shared read only.
            if let Some(w) = unsafe { &*self.waker.get() } {
                w.wake_by_ref();
            }
        }
    }

    /// The handle's side: the output once it is there. Only the handle
    /// calls this (one handle per state).
    fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut cur = self.state.load(Ordering::Acquire);
        if cur & COMPLETE == 0 {
            if cur & JOIN_WAKER != 0 {
                // SAFETY: the completer only reads the waker: a shared
                // read here is fine.
                let same = unsafe { &*self.waker.get() }
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()));
                if same {
                    return Poll::Pending;
                }
                // Take the waker back to replace it (fails once complete).
                match self.update_unless_complete(cur, |s| s & !JOIN_WAKER) {
                    Ok(s) => cur = s,
                    Err(_) => return Poll::Ready(self.take_output()),
                }
            }
            // SAFETY: `JOIN_WAKER` is clear: the waker is ours to write.
            unsafe { *self.waker.get() = Some(cx.waker().clone()) };
            if self.update_unless_complete(cur, |s| s | JOIN_WAKER).is_ok() {
                return Poll::Pending;
            }
        }
        Poll::Ready(self.take_output())
    }

    /// CAS loop: applies `f` unless `COMPLETE` is set (then `Err`).
    fn update_unless_complete(
        &self,
        mut cur: usize,
        f: impl Fn(usize) -> usize,
    ) -> Result<usize, usize> {
        loop {
            if cur & COMPLETE != 0 {
                return Err(cur);
            }
            let next = f(cur);
            match self
                .state
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(next),
                Err(actual) => cur = actual,
            }
        }
    }

    fn take_output(&self) -> Result<T, JoinError> {
        // SAFETY: `COMPLETE` was observed with Acquire: the completer's
        // write happened before and it no longer touches `output`; only the
        // handle (us) reads it.
        let out = unsafe { (*self.output.get()).take() };
        out.expect("ringloop: JoinHandle polled after it returned its output")
    }

    /// The handle is dropped: the output (if it is there) is dropped now,
    /// on the handle's thread; otherwise the completer drops it.
    fn detach(&self) {
        let prev = self.state.fetch_or(DETACHED, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // SAFETY: complete: the output is the handle's alone.
            drop(unsafe { (*self.output.get()).take() });
        }
    }
}

/// What a [`JoinHandle`] reaches: the join state and how to abort.
pub(crate) trait Join<T>: Send + Sync {
    fn state(&self) -> &JoinState<T>;
    /// Asks the work to stop (a task at its next poll; a blocking job's
    /// output is discarded and the handle resolves at once).
    fn abort(self: Arc<Self>);
}

/// The join state of a blocking job (the job runs on a pool thread; there
/// is nothing to poll, so abort resolves the handle at once).
pub(crate) struct BlockingJoin<T> {
    state: JoinState<T>,
}

impl<T: Send> BlockingJoin<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(BlockingJoin {
            state: JoinState::new(),
        })
    }

    pub(crate) fn complete(&self, out: Result<T, JoinError>) {
        self.state.complete(out);
    }
}

impl<T: Send> Join<T> for BlockingJoin<T> {
    fn state(&self) -> &JoinState<T> {
        &self.state
    }
    fn abort(self: Arc<Self>) {
        if self.state.set_aborted() {
            self.state.complete(Err(JoinError::cancelled()));
        }
    }
}

/// Awaits the output of a spawned task or blocking job.
///
/// Resolves to `Ok(output)`, or a [`JoinError`] when the task panicked, was
/// aborted, or never ran (runtime shut down, blocking queue full). Dropping
/// the handle detaches the task: it runs on, and its output is dropped.
pub struct JoinHandle<T> {
    inner: Arc<dyn Join<T>>,
    /// A handle is `Send` only for a `Send` output (a local task's `!Send`
    /// output must stay on its thread); see the impls below.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: the handle reaches only the join state (thread-safe by its
// protocol) and `Join::abort` (wakes its task through its thread-safe
// header); the output moves to the handle's thread, hence `T: Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` exposes only `is_finished` and `abort`, which touch
// atomics and the task's header.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(inner: Arc<dyn Join<T>>) -> Self {
        JoinHandle {
            inner,
            _not_send: PhantomData,
        }
    }

    /// Asks the task to stop: at its next scheduling it is dropped without
    /// being polled again, and the handle resolves to a cancelled
    /// [`JoinError`]. A task that already finished keeps its output. A
    /// blocking job cannot be interrupted: it runs to its end, but its
    /// output is discarded.
    pub fn abort(&self) {
        self.inner.clone().abort();
    }

    /// Whether the task has finished (output, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.inner.state().is_complete()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.state().poll_output(cx)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.inner.state().detach();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! The join protocol without a loop: completion before and after the
    //! first poll, a replaced waker, detach on either side of completion,
    //! first completion wins.
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<CountWake>, Waker) {
        let c = Arc::new(CountWake(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    /// A drop-counting output.
    struct Out(Arc<AtomicUsize>);
    impl Drop for Out {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn completion_after_the_first_poll_wakes_the_joiner_once() {
        let j = BlockingJoin::<u32>::new();
        let mut h = JoinHandle::new(j.clone());
        let (c, w) = counter();
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut h).poll(&mut cx).is_pending(), "same waker");
        j.complete(Ok(7));
        j.complete(Ok(8));
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert!(h.is_finished());
        match Pin::new(&mut h).poll(&mut cx) {
            Poll::Ready(Ok(7)) => {}
            other => panic!("first completion wins, got {other:?}"),
        }
    }

    #[test]
    fn a_replaced_waker_is_the_one_woken() {
        let j = BlockingJoin::<u32>::new();
        let mut h = JoinHandle::new(j.clone());
        let (c1, w1) = counter();
        let (c2, w2) = counter();
        assert!(Pin::new(&mut h)
            .poll(&mut Context::from_waker(&w1))
            .is_pending());
        assert!(Pin::new(&mut h)
            .poll(&mut Context::from_waker(&w2))
            .is_pending());
        j.complete(Ok(1));
        assert_eq!(c1.0.load(Ordering::SeqCst), 0);
        assert_eq!(c2.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_detached_output_is_dropped_exactly_once_either_way() {
        let drops = Arc::new(AtomicUsize::new(0));
        // Completed before the handle goes: the handle drops it.
        let j = BlockingJoin::<Out>::new();
        let h = JoinHandle::new(j.clone());
        j.complete(Ok(Out(drops.clone())));
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(h);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Handle gone first: the completer drops it.
        let j = BlockingJoin::<Out>::new();
        drop(JoinHandle::new(j.clone()));
        j.complete(Ok(Out(drops.clone())));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        drop(j);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn abort_resolves_a_blocking_handle_and_loses_the_late_result() {
        let drops = Arc::new(AtomicUsize::new(0));
        let j = BlockingJoin::<Out>::new();
        let mut h = JoinHandle::new(j.clone());
        h.abort();
        j.complete(Ok(Out(drops.clone())));
        assert_eq!(drops.load(Ordering::SeqCst), 1, "late result dropped");
        let (_c, w) = counter();
        match Pin::new(&mut h).poll(&mut Context::from_waker(&w)) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("abort must resolve the handle"),
        }
    }

    #[test]
    fn completion_racing_the_joiner_from_another_thread_is_never_lost() {
        for _ in 0..2000 {
            let j = BlockingJoin::<u32>::new();
            let mut h = JoinHandle::new(j.clone());
            let t = std::thread::spawn(move || j.complete(Ok(3)));
            let (c, w) = counter();
            let mut cx = Context::from_waker(&w);
            let first = Pin::new(&mut h).poll(&mut cx);
            t.join().unwrap();
            let got = match first {
                Poll::Ready(v) => v.unwrap(),
                Poll::Pending => {
                    // The completion came after our Pending: it must have
                    // woken us, and the output must be there.
                    assert_eq!(c.0.load(Ordering::SeqCst), 1, "lost wake");
                    match Pin::new(&mut h).poll(&mut cx) {
                        Poll::Ready(v) => v.unwrap(),
                        Poll::Pending => panic!("woken but not complete"),
                    }
                }
            };
            assert_eq!(got, 3);
        }
    }
}
