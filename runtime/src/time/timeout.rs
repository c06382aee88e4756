//! [`Timeout`]: a future bounded by a deadline; at the deadline the inner
//! future is dropped (which cancels what it was doing) and
//! [`Elapsed`] is returned.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::sleep::{sleep_until, Sleep};

/// The deadline of a [`timeout`] passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline has elapsed")
    }
}

/// Runs `fut` for at most `dur`.
///
/// When the time runs out first, the inner future is **dropped at once**
/// (cancelling its operations; see [`Op`](crate::driver::Op)) and the result
/// is `Err(Elapsed)`. The inner future is polled first, so an already-ready
/// future wins over an elapsed deadline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringloop::time::{sleep, timeout};
///
/// ringloop::block_on(async {
///     let r = timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await;
///     assert!(r.is_err());
/// });
/// ```
pub fn timeout<F: Future>(dur: Duration, fut: F) -> Timeout<F> {
    let deadline = Instant::now()
        .checked_add(dur)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365 * 30));
    timeout_at(deadline, fut)
}

/// Runs `fut` until `deadline` at most; see [`timeout`].
pub fn timeout_at<F: Future>(deadline: Instant, fut: F) -> Timeout<F> {
    Timeout {
        fut: Some(fut),
        sleep: sleep_until(deadline),
    }
}

pin_project! {
    /// Future of [`timeout`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        fut: Option<F>,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The inner future, unless the deadline already dropped it.
    pub fn get_ref(&self) -> Option<&F> {
        self.fut.as_ref()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Elapsed(())));
        };
        if let Poll::Ready(v) = fut.poll(cx) {
            this.fut.set(None);
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => {
                this.fut.set(None);
                Poll::Ready(Err(Elapsed(())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
