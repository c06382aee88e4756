//! The whole life of an operation: [`Op<T>`] (a future) and [`MultiOp<T>`]
//! (a stream) are thin wrappers over one private core, which starts the
//! operation, polls it on whichever path it took, counts it, and — when its
//! future is dropped early — hands what the kernel or a pool thread may
//! still touch to the driver.
//!
//! ```text
//!                 first poll: start
//!  Unsubmitted ─────────────┬──────────────────────────────────────────────┐
//!                           │ completion path (io_uring has the opcode)    │ Immediate: try_io
//!                           ├─▶ InFlight(slot) ── final CQE ──┐            │ (or an error)
//!                           │ readiness path (epoll; no opcode)            │
//!                           ├─▶ Readiness ⇄ try_io / wait for fd ──┤       │
//!                           │ pool path (the syscall may block)    │       │
//!                           └─▶ Pool(job) ── job returns ──────────┤       │
//!                                                                  ▼       ▼
//!                                     Done: OpCode::complete → output, buffers back
//!
//!  dropped in InFlight:  value → the driver's slot (an orphan), ASYNC_CANCEL,
//!                        retried until it lands … final CQE → OpCode::orphaned
//!  dropped in Pool:      value → the pool orphans … job returns → OpCode::orphaned
//!  dropped in Readiness: nothing is in flight; the value is freed at once
//!
//!  cancelled in place (its cancel scope's token fired, see [`scope`]; the
//!  future stays and gets its output, buffers and all):
//!    Unsubmitted → never started, ECANCELED      InFlight → ASYNC_CANCEL,
//!    retried until it lands, then the final CQE  Readiness → one last
//!    try_io, else ECANCELED                      Pool → runs to its end
//! ```
//!
//! A multishot operation ([`MultiOp`]) stays InFlight across many CQEs (or
//! loops Readiness ⇄ try_io); each completion is one stream item, and the
//! stream ends after the final CQE (or the first error on the readiness
//! path, which keeps the two paths alike).
//!
//! The value lives in an [`OpBox`] (a stable heap address, recycled per
//! thread, so steady-state operations allocate nothing).
//!
//! Every event is counted here and only here: an operation is *submitted*
//! when it starts (whichever path), *completed* when its final completion
//! is consumed — by its future, or by its orphan — or when it is dropped
//! with nothing in flight.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;

use super::opbox::OpBox;
use super::opcode::{Cached, Completion, Fallback, Interest, MultishotOpCode, OpCode};
use super::pool::PoolJob;
use super::scope::{self, AtStart, Registration};
use super::{DriverRef, ReadyWait};
use crate::metrics::LoopMetrics;

/// Where an operation is in its life.
enum State {
    /// Not polled yet: nothing submitted, nothing owned by anyone else.
    Unsubmitted,
    /// Completion path: the SQE is queued or in the kernel under this slot
    /// token; the kernel may read or write the value's memory.
    InFlight(u64),
    /// Readiness path: the last attempt said `WouldBlock`; waiting until
    /// `fd` may be ready (`wait` is the backend's own state for it).
    Readiness {
        fd: RawFd,
        interest: Interest,
        wait: ReadyWait,
    },
    /// Pool path: a pool thread may read or write the value's memory until
    /// the job returns.
    Pool(PoolJob),
    /// The final completion was handed out.
    Done,
}

/// The part of [`Op`] and [`MultiOp`] that is the same: the value at a
/// stable heap address, its state, and the driver it was started on.
struct Core<T> {
    data: Option<OpBox<T>>,
    state: State,
    driver: Option<DriverRef>,
    /// The cancel scopes it started under (see [`scope`]); `None` outside
    /// any, and once it is over.
    scope: Option<Registration>,
}

/// A completion, and whether it is the operation's last.
type Step = (Completion, bool);

fn failed(e: io::Error) -> Completion {
    Completion {
        result: Err(e),
        flags: 0,
    }
}

impl<T: OpCode> Core<T> {
    fn new(op: T) -> Self {
        Core {
            data: Some(OpBox::new(op)),
            state: State::Unsubmitted,
            driver: None,
            scope: None,
        }
    }

    fn value(&mut self) -> &mut T {
        self.data
            .as_deref_mut()
            .expect("ringloop: op value present until done")
    }

    /// The next completion; `None` once a multishot stream has ended.
    #[inline(always)]
    fn poll(&mut self, multi: bool, cx: &mut Context<'_>) -> Poll<Option<Step>> {
        if self.scope.is_none() {
            return self.poll_state(multi, cx);
        }
        self.poll_scoped(multi, cx)
    }

    /// [`poll`](Self::poll) of an op started under a cancel scope.
    #[inline(never)]
    fn poll_scoped(&mut self, multi: bool, cx: &mut Context<'_>) -> Poll<Option<Step>> {
        if let Some(c) = self.cancel_in_place() {
            return Poll::Ready(Some((c, true)));
        }
        let r = self.poll_state(multi, cx);
        if r.is_pending() {
            if let Some(s) = self.scope.as_ref().map(Registration::get) {
                if !s.acted {
                    s.set_waker(cx);
                }
            }
        }
        r
    }

    /// A scope this op started under was cancelled: acts on it once (see
    /// [`scope`]). `Some` is the op's completion when nothing is in flight.
    fn cancel_in_place(&mut self) -> Option<Completion> {
        let s = self.scope.as_mut()?.get_mut();
        if s.acted || !s.cancelled() {
            return None;
        }
        s.acted = true;
        let driver = self.driver.as_ref()?;
        match &mut self.state {
            State::InFlight(token) => {
                if let Some(ring) = driver.borrow_mut().ring() {
                    ring.cancel_live(*token);
                }
                None
            }
            State::Readiness { wait, .. } => {
                // Like a kernel op that had its data: one last attempt, so
                // what is there already is not left behind.
                let data = self.data.as_deref_mut()?;
                driver.borrow().metrics.io_syscalls.inc();
                let result = match data.try_io() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        Err(io::Error::from_raw_os_error(libc::ECANCELED))
                    }
                    r => r,
                };
                driver.borrow_mut().cancel_ready(std::mem::take(wait));
                Some(Completion { result, flags: 0 })
            }
            // A pool job cannot be stopped: its result is the op's.
            State::Pool(_) | State::Unsubmitted | State::Done => None,
        }
    }

    /// [`poll`](Self::poll) without the scope bookkeeping.
    #[inline(always)]
    fn poll_state(&mut self, multi: bool, cx: &mut Context<'_>) -> Poll<Option<Step>> {
        if let Some(d) = &self.driver {
            // Its completion can only arrive on the loop that started it.
            assert!(
                super::current::is_current(d),
                "ringloop: an operation started on one runtime was polled outside it \
                 (on another runtime, or after its block_on returned); it can only \
                 complete on the loop that started it"
            );
        }
        // A task that completed many operations without waiting yields.
        if crate::executor::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        if let State::Unsubmitted = self.state {
            if let Some(c) = self.start(multi, cx) {
                return Poll::Ready(Some((c, true)));
            }
        }
        let Core {
            data,
            state,
            driver,
            ..
        } = self;
        let Some(driver) = driver.as_ref() else {
            return Poll::Ready(None);
        };
        match state {
            State::InFlight(token) => {
                let mut d = driver.borrow_mut();
                let Some(ring) = d.ring() else {
                    let e = io::Error::other("ringloop: in-flight op on a driver without a ring");
                    return Poll::Ready(Some((failed(e), true)));
                };
                if multi {
                    ring.poll_multi(*token, cx).map(|c| c.map(|c| (c, false)))
                } else {
                    ring.poll_op(*token, cx).map(|c| Some((c, true)))
                }
            }
            State::Readiness { fd, interest, wait } => {
                let data = data.as_deref_mut().expect("value present until done");
                let c = ready!(poll_readiness(driver, data, *fd, *interest, wait, cx));
                // Like a kernel multishot, a readiness stream ends after an
                // error.
                let last = !multi || c.result.is_err();
                Poll::Ready(Some((c, last)))
            }
            State::Pool(job) => job
                .poll(cx)
                .map(|result| Some((Completion { result, flags: 0 }, true))),
            State::Done => Poll::Ready(None),
            State::Unsubmitted => unreachable!("started above"),
        }
    }

    /// Starts the op on the current loop: an SQE when the kernel has the
    /// opcode (its waker stored at once), else its fallback. `Some` is the
    /// completion of an op that finished on the spot or could not start.
    #[inline(always)]
    fn start(&mut self, multi: bool, cx: &mut Context<'_>) -> Option<Completion> {
        let Some(d) = super::current::current() else {
            let e = io::Error::other("ringloop operation polled outside a ringloop runtime");
            return Some(failed(e));
        };
        if T::CANCELLABLE && scope::active() {
            if let Some(c) = self.enter_scopes(cx) {
                return Some(c);
            }
        }
        let driver = &*self.driver.insert(d);
        let data = self.data.as_deref_mut().expect("value present");
        // The driver is borrowed only around its own calls: an op's methods
        // may reach the driver themselves (`Close`, `SharedFd::new`).
        let supported = {
            let d = driver.borrow();
            d.metrics.ops_submitted.inc();
            d.metrics.opcodes.started(T::CODE);
            d.supports(T::CODE) && data.completion_path()
        };
        if supported {
            let entry = data.sqe();
            let mut d = driver.borrow_mut();
            let r = match d.ring() {
                // SAFETY: the entry's pointers point into `*data` (OpCode
                // contract), a heap box whose address does not change; the
                // wrapper's `Drop` hands the box to the slot while the kernel
                // may use it.
                Some(ring) => unsafe { ring.submit(entry, multi, cx.waker()) },
                None => Err(io::Error::other("ringloop: no ring for a supported opcode")),
            };
            crate::trace::event!(
                target: "ringloop::op",
                tracing::Level::TRACE,
                opcode = crate::metrics::opcode_name(T::CODE),
                path = "ring",
                multi,
                "op started"
            );
            return match r {
                Ok(token) => {
                    self.state = State::InFlight(token);
                    None
                }
                Err(e) => Some(failed(e)),
            };
        }
        let fallback = data.fallback();
        crate::trace::event!(
            target: "ringloop::op",
            tracing::Level::TRACE,
            opcode = crate::metrics::opcode_name(T::CODE),
            path = match &fallback {
                Ok(Fallback::Readiness { .. }) => "readiness",
                Ok(Fallback::Blocking) => "pool",
                Ok(Fallback::Immediate) => "immediate",
                Err(_) => "none",
            },
            multi,
            "op started"
        );
        let d = driver.borrow();
        d.metrics.ops_fallback.inc();
        match fallback {
            Err(e) => Some(failed(e)),
            Ok(Fallback::Readiness { fd, interest }) => {
                self.state = State::Readiness {
                    fd,
                    interest,
                    wait: ReadyWait::default(),
                };
                None
            }
            Ok(other) if multi => Some(failed(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("multishot fallback must be Readiness, not {other:?}"),
            ))),
            Ok(Fallback::Blocking) => {
                let metrics = d.metrics.clone();
                let pool = d.pool.clone();
                drop(d);
                if pool.cached_first() {
                    match data.try_cached() {
                        Cached::Skipped => {}
                        Cached::WouldBlock => metrics.io_syscalls.inc(),
                        Cached::Done(result) => {
                            metrics.io_syscalls.inc();
                            metrics.ops_cached_inline.inc();
                            return Some(Completion { result, flags: 0 });
                        }
                    }
                }
                let job = data.blocking_job();
                metrics.io_syscalls.inc();
                self.state = State::Pool(PoolJob::start(&pool, job));
                None
            }
            Ok(Fallback::Immediate) => {
                d.metrics.io_syscalls.inc();
                drop(d);
                Some(Completion {
                    result: data.try_io(),
                    flags: 0,
                })
            }
        }
    }

    /// Registers the op with the cancel scopes it starts under; `Some` is
    /// its completion when one of them is cancelled already.
    #[cold]
    #[inline(never)]
    fn enter_scopes(&mut self, cx: &Context<'_>) -> Option<Completion> {
        match scope::at_start(cx) {
            AtStart::Free => None,
            // Never started: no driver, so nothing is counted; but it
            // spends budget, so a loop of them still yields.
            AtStart::Cancelled => {
                crate::executor::coop::spend();
                Some(failed(io::Error::from_raw_os_error(libc::ECANCELED)))
            }
            AtStart::Scoped(reg) => {
                self.scope = Some(reg);
                None
            }
        }
    }

    /// Counts one delivered completion; `last` ends the operation.
    fn delivered(&mut self, last: bool) {
        if let Some(d) = &self.driver {
            d.borrow().metrics.opcodes.completed(T::CODE);
            crate::executor::coop::spend();
        }
        if last {
            self.end();
        }
    }

    /// The operation is over (its final completion was consumed).
    fn end(&mut self) {
        if let Some(d) = &self.driver {
            d.borrow().metrics.ops_completed.inc();
        }
        self.state = State::Done;
        if let Some(s) = self.scope.take() {
            s.release();
        }
    }

    /// The future is gone: hands the value to whoever may still touch its
    /// memory (`wrap` makes the orphan), or frees it.
    fn release(&mut self, wrap: fn(OpBox<T>, Arc<LoopMetrics>) -> Box<dyn Orphan>) {
        let state = std::mem::replace(&mut self.state, State::Done);
        if let Some(s) = self.scope.take() {
            s.release();
        }
        let Some(driver) = self.driver.take() else {
            return;
        };
        let finish_now = match state {
            State::InFlight(token) => {
                let mut d = driver.borrow_mut();
                let data = wrap(self.data.take().expect("in flight"), d.metrics.clone());
                match d.ring() {
                    Some(ring) => ring.orphan(token, data),
                    // Unreachable by construction; leak rather than free
                    // memory a kernel might write.
                    None => {
                        std::mem::forget(data);
                        None
                    }
                }
            }
            State::Pool(job) => {
                let mut d = driver.borrow_mut();
                let data = wrap(self.data.take().expect("on the pool"), d.metrics.clone());
                d.orphan_job(job, data);
                None
            }
            State::Readiness { wait, .. } => {
                // Nothing in flight: the op ends here (cancelled).
                let mut d = driver.borrow_mut();
                d.metrics.ops_completed.inc();
                d.cancel_ready(wait);
                None
            }
            State::Unsubmitted | State::Done => None,
        };
        // The value's destructors run with the driver released.
        if let Some(f) = finish_now {
            f.finish();
        }
    }

    fn state_name(&self) -> &'static str {
        match self.state {
            State::Unsubmitted => "Unsubmitted",
            State::InFlight(_) => "InFlight",
            State::Readiness { .. } => "Readiness",
            State::Pool(_) => "Pool",
            State::Done => "Done",
        }
    }
}

/// The readiness path: try the syscall; on `WouldBlock` wait until `fd` may
/// be ready and try again. Ready with the outcome of the first attempt that
/// did not block, or with the wait's error.
fn poll_readiness<T: OpCode>(
    driver: &DriverRef,
    data: &mut T,
    fd: RawFd,
    interest: Interest,
    wait: &mut ReadyWait,
    cx: &mut Context<'_>,
) -> Poll<Completion> {
    loop {
        // Known not ready (an EAGAIN or a drained result since the last
        // event): wait without trying the syscall.
        if driver.borrow().maybe_ready(fd, interest) {
            driver.borrow().metrics.io_syscalls.inc();
            match data.try_io() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => {
                    let mut d = driver.borrow_mut();
                    if let Ok(n) = result {
                        if data.drained(n) {
                            // The fd was registered by now or is registered
                            // here; failing that, the next op just tries.
                            let _ = d.not_ready(fd, interest);
                        }
                    }
                    d.cancel_ready(std::mem::take(wait));
                    return Poll::Ready(Completion { result, flags: 0 });
                }
            }
        }
        match ready!(driver.borrow_mut().poll_ready(fd, interest, wait, cx)) {
            Ok(()) => continue,
            Err(e) => return Poll::Ready(failed(e)),
        }
    }
}

/// The future of one [`OpCode`]: resolves to `T::Output`.
///
/// The first poll starts the operation on the current loop's driver: an SQE
/// on io_uring when the kernel has the opcode, else its [`Fallback`].
///
/// **Dropping an `Op` before it completes** cancels the operation, never
/// frees memory under the kernel: on the completion path the value (with
/// its buffers) moves into the driver's slot and an `ASYNC_CANCEL` is
/// queued (and retried until it lands); it is freed at the final CQE. On
/// the pool path it is freed when the job returns. On the readiness path
/// nothing is in flight and it is freed at once. Whether the operation took
/// effect before the cancellation reached it (bytes read into the buffer, a
/// connection accepted) depends on the operation; each op documents it, and
/// its [`OpCode::orphaned`] consumes such a late result.
///
/// # Panics
///
/// When polled outside the loop that started it (on another runtime of
/// the same thread, or after that runtime's `block_on` returned): its
/// completion can only arrive on that loop. The same on both backends.
#[must_use = "an Op does nothing until awaited"]
pub struct Op<T: OpCode> {
    core: Core<T>,
}

impl<T: OpCode> Unpin for Op<T> {}

impl<T: OpCode> Op<T> {
    /// Wraps an operation value; nothing happens until the first poll.
    pub fn new(op: T) -> Self {
        Op {
            core: Core::new(op),
        }
    }
}

impl<T: OpCode> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let core = &mut self.get_mut().core;
        match ready!(core.poll(false, cx)) {
            Some((c, _)) => {
                crate::trace::event!(
                    target: "ringloop::op",
                    tracing::Level::TRACE,
                    opcode = crate::metrics::opcode_name(T::CODE),
                    ok = c.result.is_ok(),
                    "op completed"
                );
                core.delivered(true);
                let data = core.data.take().expect("ringloop: Op value taken twice");
                Poll::Ready(data.into_inner().complete(c))
            }
            None => panic!("ringloop: Op polled after it completed"),
        }
    }
}

impl<T: OpCode> Drop for Op<T> {
    fn drop(&mut self) {
        self.core.release(Single::<T>::boxed);
    }
}

impl<T: OpCode> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("state", &self.core.state_name())
            .finish()
    }
}

/// The stream of a [`MultishotOpCode`]: one item per completion.
///
/// On io_uring it is one multishot SQE; the kernel ends it (a CQE without
/// `IORING_CQE_F_MORE`, usually after an error or when it runs out of
/// resources) and the stream ends after yielding that last item — the caller
/// may start a new one. On the fallback path every item is one `try_io`, and
/// the stream ends after the first error it yields, which keeps the two
/// paths alike.
///
/// Dropping the stream cancels the operation; its value stays in the
/// driver's slot until the kernel's final CQE. Completions queued and not
/// yet yielded, and those that arrive before the final one, still go
/// through [`MultishotOpCode::orphaned_item`] — so a connection a multishot
/// accept returned too late is handed back or closed, never leaked.
#[must_use = "streams do nothing unless polled"]
pub struct MultiOp<T: MultishotOpCode> {
    core: Core<T>,
}

impl<T: MultishotOpCode> Unpin for MultiOp<T> {}

impl<T: MultishotOpCode> MultiOp<T> {
    /// Wraps a multishot operation; nothing happens until the first poll.
    pub fn new(op: T) -> Self {
        MultiOp {
            core: Core::new(op),
        }
    }
}

impl<T: MultishotOpCode> Stream for MultiOp<T> {
    type Item = T::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        let core = &mut self.get_mut().core;
        match ready!(core.poll(true, cx)) {
            Some((c, last)) => {
                crate::trace::event!(
                    target: "ringloop::op",
                    tracing::Level::TRACE,
                    opcode = crate::metrics::opcode_name(T::CODE),
                    ok = c.result.is_ok(),
                    last,
                    "op completed"
                );
                core.delivered(last);
                Poll::Ready(Some(core.value().item(c)))
            }
            None => {
                if !matches!(core.state, State::Done) {
                    // The kernel ended the multishot: the op is complete.
                    core.end();
                }
                Poll::Ready(None)
            }
        }
    }
}

impl<T: MultishotOpCode> Drop for MultiOp<T> {
    fn drop(&mut self) {
        self.core.release(Multi::<T>::boxed);
    }
}

impl<T: MultishotOpCode> fmt::Debug for MultiOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiOp")
            .field("state", &self.core.state_name())
            .finish()
    }
}

/// An operation value whose future was dropped, type-erased: it must
/// outlive the kernel's (or the pool's) use of its memory, and its results
/// must still be *consumed* (an accept or open that completed after the
/// cancellation returns an fd nobody else would close).
pub(crate) trait Orphan {
    /// Consumes the value with every completion it received.
    fn finish(self: Box<Self>, cqes: Vec<Completion>);
}

/// An orphaned single-shot operation.
struct Single<T: OpCode>(OpBox<T>, Arc<LoopMetrics>);

impl<T: OpCode> Single<T> {
    fn boxed(data: OpBox<T>, metrics: Arc<LoopMetrics>) -> Box<dyn Orphan> {
        Box::new(Single(data, metrics))
    }
}

impl<T: OpCode> Orphan for Single<T> {
    fn finish(self: Box<Self>, cqes: Vec<Completion>) {
        // A zero-copy send reports its result first and the buffer release
        // last: the first completion is the result.
        let c = cqes.into_iter().next().unwrap_or(Completion {
            result: Err(io::Error::from_raw_os_error(libc::ECANCELED)),
            flags: 0,
        });
        self.1.ops_completed.inc();
        self.0.into_inner().orphaned(c);
    }
}

/// An orphaned multishot operation.
struct Multi<T: MultishotOpCode>(OpBox<T>, Arc<LoopMetrics>);

impl<T: MultishotOpCode> Multi<T> {
    fn boxed(data: OpBox<T>, metrics: Arc<LoopMetrics>) -> Box<dyn Orphan> {
        Box::new(Multi(data, metrics))
    }
}

impl<T: MultishotOpCode> Orphan for Multi<T> {
    fn finish(mut self: Box<Self>, cqes: Vec<Completion>) {
        self.1.ops_completed.inc();
        for c in cqes {
            self.0.orphaned_item(c);
        }
    }
}

/// An orphan whose final completion arrived: ready to be finished with the
/// driver released (finishing runs user-visible destructors, such as a
/// `SharedFd` closing through the driver). The driver hands these out with
/// `take_deferred`, and the loop finishes them.
pub(crate) struct Finished {
    data: Box<dyn Orphan>,
    cqes: Vec<Completion>,
}

impl Finished {
    pub(crate) fn new(data: Box<dyn Orphan>, cqes: Vec<Completion>) -> Self {
        Finished { data, cqes }
    }

    /// Consumes the orphan's completions and frees it.
    pub(crate) fn finish(self) {
        if crate::mutant::on("late_result_dropped") {
            return;
        }
        self.data.finish(self.cqes);
    }
}

/// A payload with nothing to finish (a readiness `POLL_ADD`).
pub(crate) struct Nothing;

impl Orphan for Nothing {
    fn finish(self: Box<Self>, _cqes: Vec<Completion>) {}
}

#[cfg(test)]
#[path = "op_tests.rs"]
mod tests;
