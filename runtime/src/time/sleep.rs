//! [`Sleep`]: a deadline in the loop's timer table, never early.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{with_current, TimerKey};

/// Waits until `dur` has elapsed.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// ringloop::block_on(async {
///     let t = Instant::now();
///     ringloop::time::sleep(Duration::from_millis(5)).await;
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
            with_current(|t| {
                if t.id == id {
                    t.remove(key);
                }
            });
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
        let registered = with_current(|t| match key {
            Some((id, k)) if id == t.id && t.update(k, cx.waker()) => (id, k),
            _ => (t.id, t.insert(deadline, cx.waker().clone())),
        });
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
