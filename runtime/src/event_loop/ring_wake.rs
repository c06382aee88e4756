//! Ring-to-ring wakes, joined here because the loop is the one part that
//! knows both sides: the executor's [`RingWake`] hook (how a wake from this
//! thread reaches another loop) and the io_uring driver's
//! [`WakeTarget`] (what a `MSG_RING` needs of its target).
//!
//! A loop on io_uring whose kernel has `MSG_RING` installs a
//! [`LoopRingWake`] while it is entered; a wake from this thread of another
//! loop that takes ring wakes then queues a `MSG_RING` in this loop's ring
//! instead of writing the target's eventfd. Anything else (this loop's own
//! wake, a driver busy on this thread, an SQ that stays full) goes through
//! the eventfd, as do wakes from threads that run no loop and from epoll
//! loops.

use std::os::fd::RawFd;
use std::sync::Arc;

use crate::driver::{DriverRef, WakeTarget};
use crate::executor::shared::{RingWake, Shared};

/// This thread's loop, as a sender of ring-to-ring wakes.
pub(crate) struct LoopRingWake {
    pub(crate) driver: DriverRef,
    /// The loop's own `Shared::id` (its own wakes use the eventfd).
    pub(crate) own: usize,
}

impl RingWake for LoopRingWake {
    fn post(&self, target: &Arc<Shared>) -> bool {
        if target.id == self.own {
            return false;
        }
        // Busy: a wake from inside the driver (a drop it runs).
        let Ok(mut d) = self.driver.try_borrow_mut() else {
            return false;
        };
        match d.ring() {
            Some(r) => r.post_wake(target.clone()),
            None => false,
        }
    }
}

impl WakeTarget for Shared {
    fn ring_fd(&self) -> RawFd {
        // Set before any sender can see this loop, and kept open by `self`.
        Shared::ring_fd(self).unwrap_or(-1)
    }

    fn wake_fallback(&self) {
        self.write_eventfd();
    }
}
