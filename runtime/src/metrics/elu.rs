//! Event-loop utilization (ELU): how much of its wall time a loop spent
//! running tasks and dispatching completions (busy) versus parked in the
//! kernel waiting for them.
//!
//! The loop already reads the clock just before it parks and just after
//! (the ticks that stamp timer and driver wakes), so the split costs no
//! extra clock read: at each park the time since the last wake-up is added
//! to `busy`, at each wake-up the time since the park to `parked`. The
//! phase the loop is in now and since when are kept too, so a reader on
//! another thread sees a stuck poll (or a long park) as it grows, not only
//! once it ends. The fields are separate relaxed atomics: a snapshot taken
//! while the loop crosses a phase boundary can be off by that one phase
//! change (a few microseconds), never more.
//!
//! Measured only while poll timing is on
//! ([`Builder::poll_timing`](crate::Builder::poll_timing)); time outside
//! the loop (between two `block_on` calls) counts as neither.

use super::{clock, Counter};

const IDLE: u64 = 0;
const BUSY: u64 = 1;
const PARKED: u64 = 2;

/// The loop-side busy/parked accounting (ticks).
#[derive(Debug, Default)]
pub(crate) struct LoopTime {
    busy: Counter,
    parked: Counter,
    phase: Counter,
    since: Counter,
}

impl LoopTime {
    /// The loop starts running at `now`.
    pub(crate) fn run_begin(&self, now: u64) {
        self.since.set(now);
        self.phase.set(BUSY);
    }

    /// The loop parks at `now`.
    #[inline]
    pub(crate) fn park_begin(&self, now: u64) {
        self.busy.add(now.saturating_sub(self.since.get()));
        self.since.set(now);
        self.phase.set(PARKED);
    }

    /// The loop woke up at `now`.
    #[inline]
    pub(crate) fn park_end(&self, now: u64) {
        self.phase.set(BUSY);
        self.parked.add(now.saturating_sub(self.since.get()));
        self.since.set(now);
    }

    /// The loop stops running (its `block_on` returned) at `now`.
    pub(crate) fn run_end(&self, now: u64) {
        if self.phase.get() == BUSY {
            self.phase.set(IDLE);
            self.busy.add(now.saturating_sub(self.since.get()));
        }
    }

    /// `(busy, parked)` in nanoseconds, the phase in progress included.
    pub(crate) fn snapshot(&self) -> (u64, u64) {
        let (mut busy, mut parked) = (self.busy.get(), self.parked.get());
        let since = self.since.get();
        match self.phase.get() {
            BUSY | PARKED if since != 0 => {
                let now = clock::now_with(clock::is_tsc()).saturating_sub(since);
                if self.phase.get() == BUSY {
                    busy += now;
                } else {
                    parked += now;
                }
            }
            _ => {}
        }
        (clock::to_ns(busy), clock::to_ns(parked))
    }
}

/// `busy / (busy + parked)`, 0 when both are 0.
pub(crate) fn ratio(busy_ns: u64, parked_ns: u64) -> f64 {
    let total = busy_ns.saturating_add(parked_ns);
    if total == 0 {
        0.0
    } else {
        busy_ns as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_busy_and_parked() {
        clock::init();
        let t = LoopTime::default();
        t.run_begin(1_000);
        t.park_begin(1_300); // busy 300
        t.park_end(2_000); // parked 700
        t.run_end(2_100); // busy 100
        assert_eq!(t.busy.get(), 400);
        assert_eq!(t.parked.get(), 700);
        // Idle: nothing in progress is added.
        let (b, p) = t.snapshot();
        assert_eq!((b, p), (clock::to_ns(400), clock::to_ns(700)));
        assert!((ratio(400, 600) - 0.4).abs() < 1e-9);
        assert_eq!(ratio(0, 0), 0.0);
    }
}
