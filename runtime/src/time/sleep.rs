use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::TimerKey;
use crate::context;

/// Waits until `dur` has elapsed.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// ringloop_runtime::block_on(async {
///     let t = Instant::now();
///     ringloop_runtime::time::sleep(Duration::from_millis(5)).await;
///     assert!(t.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(dur: Duration) -> Sleep {
    // A duration too large for Instant means "never" in practice.
    let deadline = Instant::now()
        .checked_add(dur)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365 * 30));
    sleep_until(deadline)
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        key: None,
    }
}

/// Future of [`sleep`] and [`sleep_until`]. `Send`, so it can live in a
/// future spawned through a [`Handle`](crate::Handle); it registers with the
/// loop that first polls it.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// Loop id and timer key, once registered.
    key: Option<(usize, TimerKey)>,
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline; the sleep completes at the new one.
    pub fn reset(&mut self, deadline: Instant) {
        self.unregister();
        self.deadline = deadline;
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn unregister(&mut self) {
        if let Some((id, key)) = self.key.take() {
            context::with_local(id, |cx| cx.timers.borrow_mut().remove(key));
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut now = Instant::now();
        if crate::mutant::on("sleep_early") {
            now += std::time::Duration::from_micros(200);
        }
        if now >= self.deadline {
            self.unregister();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let key = self.key;
        let registered = context::with(|lc| {
            let mut timers = lc.timers.borrow_mut();
            match key {
                Some((id, k)) if id == lc.shared.id && timers.update(k, cx.waker()) => {
                    Some((id, k))
                }
                _ => {
                    lc.metrics.timers_armed.inc();
                    Some((lc.shared.id, timers.insert(deadline, cx.waker().clone())))
                }
            }
        })
        .flatten();
        match registered {
            Some(k) => {
                self.key = Some(k);
                Poll::Pending
            }
            None => panic!("ringloop: sleep polled outside a ringloop runtime"),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}
