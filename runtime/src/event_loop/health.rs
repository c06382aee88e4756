//! The loop-health wrapper around each poll: the cooperative budget reset,
//! the task's lag since it was queued (sampled), the poll's duration, the
//! longest poll with its spawn site, and the stall detector. One clock read
//! per poll: a poll starts when the previous one ended. Also the per-turn
//! figures (events and tasks per turn) and the busy-spin detector, fed by
//! the run loop once per turn.

use std::panic::Location;
use std::sync::atomic::Ordering;

use std::time::{Duration, Instant};

use super::LoopCtx;
use crate::metrics::{StallKind, StallReport};

/// Records one loop turn: the events the park before it harvested and the
/// tasks it polled.
#[inline]
pub(crate) fn turn_done(lc: &LoopCtx, polled: u64, events: u64) {
    lc.metrics.tasks_per_turn.record(polled);
    lc.metrics.events_per_turn.record(events);
}

/// A park that could have slept returned, and the turn after it found no
/// task to poll and no timer due. Counts it; one that follows another
/// (`in_a_row`) counts toward the spin window, and a spin is reported the
/// first time a window's count reaches the limit.
///
/// Only empty wakes in a row count toward a spin: an edge-triggered epoll
/// loop serving one request at a time sees many isolated ones (the edge of
/// data a recv already took), each followed by a wake-up with work; a
/// spinning loop sees nothing but empty wakes.
#[cold]
pub(crate) fn empty_wake(
    lc: &LoopCtx,
    now: Instant,
    at: &'static Location<'static>,
    in_a_row: bool,
) {
    lc.metrics.empty_wakes.inc();
    let Some(limit) = lc.spin_limit else {
        return;
    };
    if !in_a_row {
        return;
    }
    let window = lc.health.spin_window;
    let start = match lc.spin_since.get() {
        Some(s) if now.saturating_duration_since(s) < window => s,
        _ => {
            lc.spin_since.set(Some(now));
            lc.spin_count.set(0);
            now
        }
    };
    let n = lc.spin_count.get() + 1;
    lc.spin_count.set(n);
    if n == limit {
        lc.metrics.spins.inc();
        crate::trace::event!(
            target: "ringloop::health",
            tracing::Level::WARN,
            loop_index = lc.index,
            empty_wakes = n,
            window_ms = now.saturating_duration_since(start).as_secs_f64() * 1e3,
            spawned_at = %at,
            "event loop is spinning: it wakes again and again with nothing to do"
        );
        if let Some(hook) = &lc.health.on_stall {
            hook(&StallReport {
                kind: StallKind::Spin { empty_wakes: n },
                duration: now
                    .saturating_duration_since(start)
                    .max(Duration::from_nanos(1)),
                spawned_at: at,
                loop_index: lc.index,
                backtrace: None,
            });
        }
    }
}

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
        let waited = start.saturating_sub(queued_at);
        lc.metrics.lag.record(waited);
        // Queued by the last park's completions or events (stamped with its
        // wake-up tick, the one clock read for the whole batch).
        if queued_at == lc.woke_at.get() {
            lc.metrics.completion_to_poll.record(waited);
        }
    }
    if let Some(w) = &lc.watch {
        w.poll_start.store(start, Ordering::Release);
    }
    let r = poll();
    if let Some(w) = &lc.watch {
        w.poll_start.store(0, Ordering::Release);
    }
    let ticks = lc.clock().saturating_sub(start);
    if ticks > lc.slow_ticks.get() {
        slow_poll(lc, start, ticks, at);
    }
    r
}

/// A poll longer than the longest so far or than the stall threshold.
#[cold]
fn slow_poll(lc: &LoopCtx, start: u64, ticks: u64, at: &'static Location<'static>) {
    lc.metrics.poll_took(ticks, at);
    crate::trace::event!(
        target: "ringloop::health",
        tracing::Level::DEBUG,
        loop_index = lc.index,
        poll_us = crate::metrics::clock::to_ns(ticks) as f64 / 1e3,
        spawned_at = %at,
        "slowest poll so far"
    );
    let longest = lc.metrics.longest_poll_ticks();
    lc.slow_ticks
        .set(lc.stall_ticks.map_or(longest, |s| s.min(longest)));
    if let Some(limit) = lc.stall_ticks {
        if ticks > limit {
            lc.metrics.stalls.inc();
            // Caught by the watchdog while the poll was running?
            let backtrace = lc
                .watch
                .as_ref()
                .and_then(|w| w.take(start))
                .map(|(frames, took)| crate::metrics::backtrace::resolve(&frames, took));
            if backtrace.is_some() {
                lc.metrics.stall_backtraces.inc();
            }
            crate::trace::event!(
                target: "ringloop::health",
                tracing::Level::WARN,
                loop_index = lc.index,
                poll_ms = crate::metrics::clock::to_ns(ticks) as f64 / 1e6,
                spawned_at = %at,
                backtrace = backtrace.as_ref().map(tracing::field::display),
                "event loop stalled: one poll ran past the stall threshold"
            );
            if let Some(hook) = &lc.health.on_stall {
                hook(&StallReport {
                    kind: StallKind::Poll,
                    duration: std::time::Duration::from_nanos(crate::metrics::clock::to_ns(ticks)),
                    spawned_at: at,
                    loop_index: lc.index,
                    backtrace,
                });
            }
        }
    }
}
