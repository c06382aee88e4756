//! The loop itself.

use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::task::Header;
use super::BUDGET;
use crate::context::LoopCtx;
use crate::driver::Finished;

/// Key of the future passed to `block_on` (never a task-table key).
const MAIN_KEY: usize = usize::MAX;

/// Runs `fut` to completion on the loop `lc`, which is current.
#[track_caller]
pub(crate) fn run<F: Future>(lc: &LoopCtx, fut: F) -> F::Output {
    let main = Header::new(MAIN_KEY, lc.shared.clone(), Location::caller());
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    lc.exec.push(main.clone());
    let mut wakes = Vec::new();
    let mut drops = Vec::new();
    let timing = lc.health.timing;
    lc.clock();
    main.scheduled_at
        .store(lc.now_ticks.get(), Ordering::Relaxed);
    loop {
        lc.metrics.loop_iterations.inc();
        lc.exec.drain_remote(lc);
        for _ in 0..BUDGET {
            let Some(h) = lc.exec.pop() else {
                break;
            };
            if h.key != MAIN_KEY {
                lc.exec.poll_task(h, lc);
            } else if Arc::ptr_eq(&h, &main) {
                h.scheduled.store(false, Ordering::Release);
                let queued_at = h.scheduled_at.load(Ordering::Relaxed);
                let at = h.spawned_at;
                let ready = super::timed(lc, at, queued_at, || fut.as_mut().poll(&mut cx));
                if let Poll::Ready(v) = ready {
                    return v;
                }
            }
        }
        let now = Instant::now();
        lc.timers
            .borrow_mut()
            .fire(now, &lc.metrics, timing, &mut wakes);
        if timing {
            lc.clock();
        }
        wakes.drain(..).for_each(Waker::wake);
        let timeout = if lc.exec.has_ready() {
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
            lc.clock();
        }
        wakes.drain(..).for_each(Waker::wake);
        drops.drain(..).for_each(Finished::finish);
    }
}

fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR | libc::EAGAIN | libc::ENOMEM | libc::EBUSY)
    )
}
