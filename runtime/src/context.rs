//! The loop that runs on the current thread, reachable by `spawn`, `sleep`
//! and every operation without passing it around.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::blocking::Pool;
use crate::driver::DriverRef;
use crate::executor::{shared::Shared, Executor};
use crate::metrics::stall::HealthConfig;
use crate::metrics::LoopMetrics;
use crate::time::Timers;
use crate::Backend;

/// Everything one loop thread owns.
pub(crate) struct LoopCtx {
    pub(crate) exec: Executor,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) driver: DriverRef,
    pub(crate) shared: Arc<Shared>,
    pub(crate) pool: Arc<Pool>,
    pub(crate) metrics: Arc<LoopMetrics>,
    pub(crate) backend: Backend,
    /// Position of this loop in its runtime (0 = the `block_on` thread).
    pub(crate) index: usize,
    pub(crate) health: HealthConfig,
    /// The last loop-health clock reading (ticks, see
    /// [`metrics::clock`](crate::metrics::clock)): a poll starts when the
    /// previous one ended, so each poll costs one clock read.
    pub(crate) now_ticks: Cell<u64>,
    /// The stall threshold in ticks.
    pub(crate) stall_ticks: Option<u64>,
    /// Polls longer than this take the slow path (a new longest poll, or a
    /// stall): `min(longest so far, stall threshold)`, so the common case
    /// is one compare.
    pub(crate) slow_ticks: Cell<u64>,
    /// Whether the clock is the TSC (cached from `metrics::clock`).
    pub(crate) tsc: bool,
    /// Cooperative budget of the task being polled: operations that
    /// complete without waiting spend it; at zero they yield.
    pub(crate) coop: Cell<u32>,
}

/// Operations a task may complete in one poll before it must yield.
pub(crate) const COOP_BUDGET: u32 = 128;

impl LoopCtx {
    /// Reads the clock, caches and returns it (ticks).
    #[inline]
    pub(crate) fn clock(&self) -> u64 {
        let t = crate::metrics::clock::now_with(self.tsc);
        self.now_ticks.set(t);
        t
    }
}

/// At the start of an operation's poll: `Pending` (with a self-wake) when
/// the current task used up its cooperative budget, so one always-ready
/// task cannot starve I/O, timers and other tasks.
///
/// `started_on` is the driver the operation was started on, if it was:
/// polling it anywhere else cannot work (its completion goes to that
/// driver's ring or readiness table, which this loop never reads), so it
/// panics, the same on both backends.
#[inline]
pub(crate) fn coop_poll(started_on: Option<&DriverRef>, cx: &mut Context<'_>) -> Poll<()> {
    let here = with(|lc| {
        let same = started_on.is_none_or(|d| Rc::ptr_eq(d, &lc.driver));
        (lc.coop.get() == 0, same)
    });
    if let (Some((_, false)), _) | (None, Some(_)) = (here, started_on) {
        panic!(
            "ringloop: an operation started on one runtime was polled outside it \
             (on another runtime, or after its block_on returned); it can only \
             complete on the loop that started it"
        );
    }
    if here.is_some_and(|(exhausted, _)| exhausted) {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(())
    }
}

/// An operation completed: spend one unit of the task's budget.
#[inline]
pub(crate) fn coop_spend() {
    with(|lc| lc.coop.set(lc.coop.get().saturating_sub(1)));
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<LoopCtx>>> = const { RefCell::new(None) };
}

/// Runs `f` with the current loop, if this thread is running one.
pub(crate) fn with<R>(f: impl FnOnce(&LoopCtx) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| c.try_borrow().ok().and_then(|c| c.as_deref().map(f)))
        .ok()
        .flatten()
}

/// Runs `f` with the current loop if it is the loop `id`.
pub(crate) fn with_local<R>(id: usize, f: impl FnOnce(&LoopCtx) -> R) -> Option<R> {
    with(|cx| (cx.shared.id == id).then(|| f(cx))).flatten()
}

/// The current loop's driver.
pub(crate) fn driver() -> Option<DriverRef> {
    with(|cx| cx.driver.clone())
}

/// Makes `cx` the current loop until the guard drops.
pub(crate) struct Enter {
    _private: (),
}

impl Enter {
    /// Fails when the thread already runs a loop: a loop cannot block on
    /// another (or on itself) without stalling every task it owns.
    pub(crate) fn new(cx: &Rc<LoopCtx>) -> Result<Enter, &'static str> {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_some() {
                return Err(
                    "cannot start or block on a ringloop runtime from inside a ringloop runtime",
                );
            }
            *c = Some(cx.clone());
            Ok(Enter { _private: () })
        })
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
    }
}
