//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Deadlines are [`Instant`]s, std's own type re-exported here (so code
//! ported from tokio that names `time::Instant` compiles, and an `Instant`
//! from anywhere in the program works as a deadline).
//!
//! Each loop keeps its timers in an ordered table (a `BTreeMap` keyed by
//! deadline and a sequence number: O(log n) insert and exact removal when a
//! timer is dropped early, as per-request timeouts usually are). The nearest
//! deadline bounds the driver's wait — the `io_uring_enter` timeout or the
//! `epoll_pwait2` timeout — so timers cost no SQE and no syscall of their
//! own. A timer fires only once `Instant::now() >= deadline`: never early;
//! late by the loop's lag at most.

mod interval;
mod sleep;
mod timeout;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
/// Std's monotonic clock and durations: what every deadline here is.
pub use std::time::{Duration, Instant};

pub use interval::{interval, interval_at, Interval};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};

use crate::metrics::LoopMetrics;

/// Key of one registered timer.
pub(crate) type TimerKey = (Instant, u64);

/// One loop's timer table.
pub(crate) struct Timers {
    /// The loop it belongs to (its `Shared::id`).
    id: usize,
    map: BTreeMap<TimerKey, Waker>,
    seq: u64,
    metrics: Arc<LoopMetrics>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<Timers>>>> = const { RefCell::new(None) };
}

/// Runs `f` with the timers of the loop running on this thread.
fn with_current<R>(f: impl FnOnce(&mut Timers) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| {
            let c = c.borrow();
            let t = c.as_ref()?;
            let mut t = t.try_borrow_mut().ok()?;
            Some(f(&mut t))
        })
        .ok()
        .flatten()
}

/// While alive, sleeps polled on this thread register with these timers.
pub(crate) struct Entered {
    prev: Option<Rc<RefCell<Timers>>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}

impl Timers {
    pub(crate) fn new(id: usize, metrics: Arc<LoopMetrics>) -> Rc<RefCell<Timers>> {
        Rc::new(RefCell::new(Timers {
            id,
            map: BTreeMap::new(),
            seq: 0,
            metrics,
        }))
    }

    /// Makes `timers` the ones sleeps on this thread register with.
    pub(crate) fn enter(timers: &Rc<RefCell<Timers>>) -> Entered {
        let prev = CURRENT.with(|c| c.borrow_mut().replace(timers.clone()));
        Entered { prev }
    }

    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        self.metrics.timers_armed.inc();
        self.seq += 1;
        let key = (deadline, self.seq);
        self.map.insert(key, waker);
        key
    }

    /// Refreshes the waker of a live timer; false when it already fired.
    pub(crate) fn update(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.map.get_mut(&key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&mut self, key: TimerKey) {
        self.map.remove(&key);
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let next = self.map.first_key_value().map(|(k, _)| k.0);
        if crate::mutant::on("sleep_early") {
            return next.map(|d| d - std::time::Duration::from_micros(200));
        }
        next
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Removes every timer due at `now` and collects its waker; with
    /// `lag`, records how late each fired (loop lag).
    pub(crate) fn fire(
        &mut self,
        now: Instant,
        metrics: &LoopMetrics,
        lag: bool,
        out: &mut Vec<Waker>,
    ) {
        let now = if crate::mutant::on("sleep_early") {
            now + std::time::Duration::from_micros(200)
        } else {
            now
        };
        while let Some(entry) = self.map.first_entry() {
            let deadline = entry.key().0;
            if deadline > now {
                break;
            }
            out.push(entry.remove());
            metrics.timers_fired.inc();
            if lag {
                let late = (now - deadline).as_nanos().min(u64::MAX as u128) as u64;
                metrics.lag.record(crate::metrics::clock::from_ns(late));
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}
