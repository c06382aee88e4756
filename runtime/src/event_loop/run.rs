//! The run/park cycle of one loop.
//!
//! A turn polls at most [`TASKS_PER_TURN`] queued tasks (and the future
//! given to `block_on`, which lives here, not in the task table), fires the
//! due timers, then turns the driver: without waiting when tasks are still
//! ready, else until the next timer deadline or the next completion. What
//! the driver hands back (wakers, finished orphans) runs with the driver
//! released.
//!
//! Loop health per turn (with poll timing on; the empty-wake count always),
//! with no clock read beyond the two the turn already
//! makes (before the park, to stamp timer wakes; after it, to stamp driver
//! wakes): the busy/parked split (ELU), the events the park harvested and
//! the tasks the turn polled (histograms), and whether the park was an
//! empty wake — it could have slept, and the turn after it found no task
//! and no due timer (the spin detector's input).

use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::health::{empty_wake, poll_timed, turn_done};
use super::LoopCtx;
use crate::driver::Finished;
use crate::executor::{MainTask, Task, TaskRef, MAIN_KEY};

/// Task polls per loop turn before I/O and timers are checked again.
pub(crate) const TASKS_PER_TURN: usize = 128;

/// Runs `fut` to completion on the loop `lc`, which is current.
#[track_caller]
pub(crate) fn run<F: Future>(lc: &LoopCtx, fut: F) -> F::Output {
    let main = MainTask::new(lc.shared.clone(), Location::caller());
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let timing = lc.health.timing;
    let started = lc.clock();
    if timing {
        lc.metrics.time.run_begin(started);
    }
    main.header().scheduled.store(true, Ordering::Release);
    let main: TaskRef = main;
    lc.exec.push(main.clone());
    let mut wakes = Vec::new();
    let mut drops = Vec::new();
    // Whether the last park could have slept (no task was ready), and the
    // events counter before it.
    let mut could_sleep = false;
    let mut last_empty = false;
    let mut events_before = lc.metrics.events.get();
    loop {
        lc.metrics.loop_iterations.inc();
        lc.metrics
            .remote_wakes
            .add(lc.exec.drain_remote(&lc.shared));
        let mut polled = 0u64;
        for _ in 0..TASKS_PER_TURN {
            let Some(t) = lc.exec.pop() else {
                break;
            };
            polled += 1;
            let h = t.header();
            if h.key() != MAIN_KEY {
                poll_task(lc, t);
            } else if Arc::ptr_eq(&t, &main) {
                h.scheduled.store(false, Ordering::Release);
                let queued_at = h.scheduled_at.load(Ordering::Relaxed);
                let at = h.spawned_at;
                let ready = poll_timed(lc, at, queued_at, || fut.as_mut().poll(&mut cx));
                if let Poll::Ready(v) = ready {
                    if timing {
                        lc.metrics.time.run_end(lc.exec.now());
                    }
                    return v;
                }
            }
        }
        let now = Instant::now();
        lc.timers
            .borrow_mut()
            .fire(now, &lc.metrics, timing, &mut wakes);
        let events = lc.metrics.events.get();
        if timing {
            turn_done(lc, polled, events - events_before);
        }
        let empty = could_sleep && polled == 0 && wakes.is_empty();
        if empty {
            empty_wake(lc, now, main.header().spawned_at, last_empty);
        }
        last_empty = empty;
        if timing {
            lc.metrics.time.park_begin(lc.clock());
        }
        wakes.drain(..).for_each(Waker::wake);
        could_sleep = !lc.exec.has_ready();
        events_before = events;
        let timeout = if !could_sleep {
            Some(Duration::ZERO)
        } else {
            lc.timers
                .borrow()
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()))
        };
        {
            let mut d = lc.driver.borrow_mut();
            if let Err(e) = d.park(timeout) {
                if !transient(&e) {
                    panic!("ringloop: the {:?} driver failed: {e}", d.kind());
                }
            }
            d.take_deferred(&mut wakes, &mut drops);
        }
        if timing {
            // Tasks the driver wakes were queued now.
            let woke = lc.clock();
            lc.metrics.time.park_end(woke);
            lc.woke_at.set(woke);
        }
        wakes.drain(..).for_each(Waker::wake);
        drops.drain(..).for_each(Finished::finish);
    }
}

/// Polls one queued task, if it still exists.
fn poll_task(lc: &LoopCtx, t: TaskRef) {
    let h = t.header();
    if h.is_done() {
        // A wake that outlived its task.
        return;
    }
    let key = h.key();
    h.scheduled.store(false, Ordering::Release);
    let at = h.spawned_at;
    let queued_at = h.scheduled_at.load(Ordering::Relaxed);
    if poll_timed(lc, at, queued_at, || t.poll()) {
        lc.metrics.tasks_completed.inc();
        lc.exec.finish(key);
    }
}

fn transient(e: &io::Error) -> bool {
    matches!(
        crate::sys::os_error(e),
        Some(libc::EINTR | libc::EAGAIN | libc::ENOMEM | libc::EBUSY)
    )
}
