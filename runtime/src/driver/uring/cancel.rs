//! Cancellation that always finishes.
//!
//! An orphaned slot (and a live one whose cancel scope was cancelled, see
//! [`scope`](crate::driver::scope)) gets an `ASYNC_CANCEL` aimed at its token (the
//! cancel's own `user_data` is the token with [`CANCEL_TAG`]), and the
//! cancel's CQE is read: `-ENOENT` (the request was between its poll
//! wake-up and its retry, and may re-arm) and `-EALREADY` (it was running)
//! mean "not cancelled", so while the slot is still orphaned the cancel is
//! sent again, at once for the first [`CANCEL_NOW`] tries, then with a
//! doubling delay up to [`CANCEL_BACKOFF_MAX`] (the wait's timeout covers
//! the next retry). An op whose cancel is lost would otherwise stay armed
//! for ever, keeping its socket open through the fd it holds.

use std::time::{Duration, Instant};

use io_uring::opcode;

use super::{UringDriver, CANCEL_TAG};

/// Cancels of one op sent on the next turns before the retries back off.
const CANCEL_NOW: u32 = 4;
/// The longest delay between two cancels of one op.
const CANCEL_BACKOFF_MAX: Duration = Duration::from_millis(100);

impl UringDriver {
    /// Queues an `ASYNC_CANCEL` for the slot `key` (orphaned, or live with
    /// its cancel wanted): at once for the first [`CANCEL_NOW`] tries, then
    /// after a doubling back-off; nothing once its final CQE came.
    pub(super) fn cancel(&mut self, key: u64) {
        let Some(tries) = self.slots.note_cancel(key) else {
            return;
        };
        if tries > 1 {
            self.metrics.cancel_retries.inc();
        }
        if tries > CANCEL_NOW {
            let shift = (tries - CANCEL_NOW - 1).min(16);
            let delay = (Duration::from_millis(1) * (1u32 << shift)).min(CANCEL_BACKOFF_MAX);
            self.cancel_later.push((Instant::now() + delay, key));
        } else {
            self.send_cancel(key);
        }
    }

    /// A cancel scope asks to cancel the live (not orphaned) operation
    /// `key`: queues its `ASYNC_CANCEL`, retried like an orphan's until the
    /// final CQE; the operation's future receives that CQE as usual.
    pub(crate) fn cancel_live(&mut self, key: u64) {
        if self.slots.want_cancel(key) {
            self.cancel(key);
        }
    }

    fn send_cancel(&mut self, key: u64) {
        let e = if self.faults.cancel_lands(key) {
            opcode::AsyncCancel::new(key).build()
        } else {
            // An injected miss: a NOP in the cancel's place, whose result
            // `reap` turns into "not cancelled".
            opcode::Nop::new().build()
        }
        .user_data(CANCEL_TAG | key);
        // SAFETY: ASYNC_CANCEL carries no pointer.
        if unsafe { self.push(e) }.is_err() {
            // The SQ stays full: try again in a moment.
            self.cancel_later
                .push((Instant::now() + Duration::from_millis(1), key));
        }
    }

    /// Sends the cancels that are due; returns how long until the next one
    /// is (`None`: none is waiting).
    pub(super) fn cancel_due(&mut self) -> Option<Duration> {
        for key in std::mem::take(&mut self.cancel_again) {
            self.cancel(key);
        }
        if self.cancel_later.is_empty() {
            return None;
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.cancel_later)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.cancel_later = later;
        for (_, key) in due {
            if self.slots.wants_cancel(key) {
                self.send_cancel(key);
            }
        }
        self.cancel_later
            .iter()
            .map(|(at, _)| at.saturating_duration_since(now))
            .min()
    }
}
