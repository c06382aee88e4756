//! The loop that runs on the current thread, reachable by `spawn`, `sleep`
//! and every operation without passing it around.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::blocking::Pool;
use crate::driver::DriverRef;
use crate::executor::{shared::Shared, Executor};
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
