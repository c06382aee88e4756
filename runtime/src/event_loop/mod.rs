//! The loop of one thread: what it owns ([`LoopCtx`]), the run/park cycle
//! (`run.rs`), the timing of each poll and the spin detector (`health.rs`),
//! the stall watchdog that captures a stalled thread's stack
//! (`watchdog.rs`), building a loop and the worker threads of a runtime
//! (`worker.rs`), and the graceful drain (`drained.rs`).
//!
//! The loop knows the executor, the driver, the timers and the blocking
//! pool; none of them knows the loop. Each keeps its own "current on this
//! thread" (the executor's run queue for same-thread wakes, the driver for
//! operations, the timer table for sleeps), which [`Enter`] sets for the
//! loop it enters, so `spawn`, `sleep` and every operation work without
//! passing the loop around.

mod drained;
mod health;
mod ring_wake;
mod run;
pub(crate) mod watchdog;
mod worker;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use crate::blocking::Pool;
use crate::driver::DriverRef;
use crate::executor::{shared::Shared, Executor};
use crate::metrics::stall::HealthConfig;
use crate::metrics::LoopMetrics;
use crate::time::Timers;
use crate::Backend;

pub(crate) use drained::Drained;
pub(crate) use run::run;
pub(crate) use worker::LoopConfig;
pub(crate) use worker::{allowed_cpus, build_loop, drain, pin_to_cpu, spawn_worker, teardown};

/// Everything one loop thread owns.
pub(crate) struct LoopCtx {
    pub(crate) exec: Executor,
    pub(crate) timers: Rc<RefCell<Timers>>,
    pub(crate) driver: DriverRef,
    pub(crate) shared: Arc<Shared>,
    pub(crate) pool: Arc<Pool>,
    pub(crate) metrics: Arc<LoopMetrics>,
    pub(crate) backend: Backend,
    /// Position of this loop in its runtime (0 = the `block_on` thread).
    pub(crate) index: usize,
    pub(crate) health: HealthConfig,
    /// The stall threshold in ticks.
    pub(crate) stall_ticks: Option<u64>,
    /// Polls longer than this take the slow path (a new longest poll, or a
    /// stall): `min(longest so far, stall threshold)`, so the common case
    /// is one compare.
    pub(crate) slow_ticks: Cell<u64>,
    /// Whether the clock is the TSC (cached from `metrics::clock`).
    pub(crate) tsc: bool,
    /// The tick the last park returned at: tasks its events woke carry it
    /// as their queue time.
    pub(crate) woke_at: Cell<u64>,
    /// Empty wakes within one window that make a spin (from the builder).
    pub(crate) spin_limit: Option<u64>,
    /// The spin window in progress: when it started and its empty wakes.
    pub(crate) spin_since: Cell<Option<std::time::Instant>>,
    pub(crate) spin_count: Cell<u64>,
    /// This thread's slot in the stall watchdog's table, when stall
    /// backtraces are on.
    pub(crate) watch: Option<watchdog::Claim>,
    /// How wakes from this thread reach other io_uring loops while this
    /// loop is entered (ring to ring), when its ring can send them.
    pub(crate) ring_wake: Option<Rc<dyn crate::executor::shared::RingWake>>,
}

impl LoopCtx {
    /// Reads the loop-health clock ([`metrics::clock`](crate::metrics::clock)
    /// ticks) and caches it with the executor: a poll starts when the
    /// previous one ended, so each poll costs one clock read.
    #[inline]
    pub(crate) fn clock(&self) -> u64 {
        let t = crate::metrics::clock::now_with(self.tsc);
        self.exec.set_now(t);
        t
    }
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

/// Makes `cx` the current loop until the guard drops: the loop itself, its
/// executor, driver and timers.
pub(crate) struct Enter {
    _exec: crate::executor::Entered,
    _ring_wake: crate::executor::shared::RingWakeEntered,
    _driver: crate::driver::current::Entered,
    _timers: crate::time::Entered,
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
            Ok(())
        })?;
        Ok(Enter {
            _exec: cx.exec.enter(),
            _ring_wake: crate::executor::shared::enter_ring_wake(cx.ring_wake.clone()),
            _driver: crate::driver::current::enter(&cx.driver),
            _timers: Timers::enter(&cx.timers),
        })
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
    }
}
