//! The loop-health wrapper around each poll: the cooperative budget reset,
//! the task's lag since it was queued (sampled), the poll's duration, the
//! longest poll with its spawn site, and the stall detector. One clock read
//! per poll: a poll starts when the previous one ended.

use std::panic::Location;

use super::LoopCtx;
use crate::metrics::StallReport;

/// Runs one poll with the loop-health bookkeeping: the cooperative budget,
/// the lag since the task was queued, the poll's duration, the longest
/// poll and the stall detector.
#[inline]
pub(crate) fn poll_timed<R>(
    lc: &LoopCtx,
    at: &'static Location<'static>,
    queued_at: u64,
    poll: impl FnOnce() -> R,
) -> R {
    crate::executor::coop::reset();
    lc.metrics.tasks_polled.inc();
    if !lc.health.timing {
        return poll();
    }
    let start = lc.exec.now();
    // Task lag is sampled, one poll in 16 (timer lateness is always
    // recorded): enough for the percentiles, at a sixteenth of the cost.
    if lc.metrics.tasks_polled.get() & 15 == 0 {
        lc.metrics.lag.record(start.saturating_sub(queued_at));
    }
    let r = poll();
    let ticks = lc.clock().saturating_sub(start);
    if ticks > lc.slow_ticks.get() {
        slow_poll(lc, ticks, at);
    }
    r
}

/// A poll longer than the longest so far or than the stall threshold.
#[cold]
fn slow_poll(lc: &LoopCtx, ticks: u64, at: &'static Location<'static>) {
    lc.metrics.poll_took(ticks, at);
    let longest = lc.metrics.longest_poll_ticks();
    lc.slow_ticks
        .set(lc.stall_ticks.map_or(longest, |s| s.min(longest)));
    if let Some(limit) = lc.stall_ticks {
        if ticks > limit {
            lc.metrics.stalls.inc();
            if let Some(hook) = &lc.health.on_stall {
                hook(&StallReport {
                    duration: std::time::Duration::from_nanos(crate::metrics::clock::to_ns(ticks)),
                    spawned_at: at,
                    loop_index: lc.index,
                });
            }
        }
    }
}
