//! [`Interval`]: ticks at a fixed period; a tick the loop was late for is
//! delivered at once, and missed ticks are not replayed in a burst.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::{sleep_until, Sleep};

/// A ticker that completes at `start`, `start + period`, `start + 2·period`…
///
/// The first tick completes at once. When ticks are missed (the task was
/// busy), the next deadlines are moved forward so the ticker does not burst
/// to catch up: the next tick is one `period` after the late one.
///
/// # Panics
///
/// When `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// ringloop::block_on(async {
///     let mut iv = ringloop::time::interval(Duration::from_millis(1));
///     for _ in 0..3 {
///         iv.tick().await;
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Like [`interval`], with the first tick at `start`.
///
/// # Panics
///
/// When `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "ringloop: interval period must be non-zero"
    );
    Interval {
        period,
        sleep: sleep_until(start),
    }
}

/// Ticker returned by [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let at = self.sleep.deadline();
                let now = Instant::now();
                let mut next = at + self.period;
                if next <= now {
                    next = now + self.period;
                }
                self.sleep.reset(next);
                Poll::Ready(at)
            }
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

use std::future::Future;
