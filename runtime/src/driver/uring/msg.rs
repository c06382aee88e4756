//! Ring-to-ring wakes (`IORING_OP_MSG_RING`, 5.18): a loop that wakes
//! another io_uring loop posts a CQE into the target's ring from its own
//! ring, instead of writing the target's eventfd.
//!
//! The sender queues one `MSG_RING` SQE in its own SQ; it reaches the
//! kernel with the sender's next `io_uring_enter` (the end of its turn),
//! so a wake costs the sender no syscall of its own, and the target's wait
//! ends when the kernel posts the message: a CQE whose `user_data` is
//! [`RING_WAKE_TOKEN`], which the target's reap treats as the eventfd
//! read's completion (the wait is over; the loop drains its remote queue
//! at the start of its next turn), with nothing to re-arm.
//!
//! The SQE carries `IOSQE_CQE_SKIP_SUCCESS`: a wake that lands posts no
//! CQE in the sender's ring (a CQE there would end the sender's own wait at
//! once, one more enter per wake). The sender keeps each target it has
//! woken ([`WakeTarget`], one entry per target loop) so the target's ring
//! fd stays open while an SQE names it (the kernel looks the fd up when it
//! takes the SQE); entries nobody else holds any more (the target loop and
//! every handle to it are gone) are dropped when the SQ is empty. A
//! `MSG_RING` that fails (the target's ring gone, its CQ overflowing) does
//! post a CQE, and its target is then woken through its eventfd, so no wake
//! is lost. A driver dropped with messages it could not submit wakes its
//! targets through their eventfds too (a spare wake is harmless).

use std::os::fd::RawFd;
use std::sync::Arc;

use io_uring::{opcode, squeue, types};
use slab::Slab;

use super::{UringDriver, RING_WAKE_TOKEN};

/// Tag of a sent `MSG_RING`'s own `user_data` (bit 63; bit 62 clear, so it
/// is neither a slot, a cancel nor one of the special tokens): the rest is
/// the target's key in `UringDriver::msg_targets`.
pub(super) const MSG_TAG: u64 = 1 << 63;

/// A loop that can be woken ring to ring.
pub(crate) trait WakeTarget: Send + Sync {
    /// Its ring's fd, open for as long as this value lives.
    fn ring_fd(&self) -> RawFd;
    /// Wakes it through its eventfd (after a `MSG_RING` that failed).
    fn wake_fallback(&self);
}

impl UringDriver {
    /// Whether this ring sends ring-to-ring wakes (MSG_RING probed, and
    /// not turned off by `Builder::ring_wakes`).
    pub(crate) fn sends_ring_wakes(&self) -> bool {
        self.msg_ring
    }

    /// Queues a `MSG_RING` that wakes `target`; submitted at this loop's
    /// next enter. False (the caller writes the target's eventfd) when
    /// this ring sends no ring wakes or its SQ stays full.
    pub(crate) fn post_wake(&mut self, target: Arc<dyn WakeTarget>) -> bool {
        if !self.msg_ring {
            return false;
        }
        let fd = target.ring_fd();
        let key = match self
            .msg_targets
            .iter()
            .find(|(_, t)| std::ptr::addr_eq(Arc::as_ptr(t), Arc::as_ptr(&target)))
        {
            Some((k, _)) => k,
            None => self.msg_targets.insert(target),
        } as u64;
        let e = opcode::MsgRingData::new(types::Fd(fd), 0, RING_WAKE_TOKEN, None)
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(MSG_TAG | key);
        // SAFETY: MSG_RING with IORING_MSG_DATA carries no pointer; the fd
        // it names is kept open by `msg_targets[key]`, which stays while
        // the SQ holds an entry (`prune_msg_targets`).
        if unsafe { self.push(e) }.is_err() {
            return false;
        }
        self.ring_wakes_sent += 1;
        true
    }

    /// Drops the targets only this driver still holds, once no queued SQE
    /// can name their fds; cheap to call every turn.
    pub(super) fn prune_msg_targets(&mut self) {
        if self.msg_targets.len() > PRUNE_AT && self.ring.submission().is_empty() {
            self.msg_targets.retain(|_, t| Arc::strong_count(t) > 1);
        }
    }

    /// Teardown: messages that never reached the kernel (the SQ could not
    /// be flushed) would be lost; wake every target through its eventfd.
    pub(super) fn abandon_msgs(&mut self) {
        if !self.ring.submission().is_empty() {
            for (_, target) in &self.msg_targets {
                target.wake_fallback();
            }
        }
        self.msg_targets.clear();
    }
}

/// Targets kept before the ones nobody else holds are looked for.
const PRUNE_AT: usize = 8;

/// A failed `MSG_RING` (only failures post a CQE in the sender's ring):
/// its target, if still known, is woken through its eventfd. A key reused
/// since by another target wakes that one: a spare wake, harmless.
pub(super) fn failed(targets: &Slab<Arc<dyn WakeTarget>>, key: u64, res: i32) {
    if res < 0 {
        if let Some(t) = targets.get(key as usize) {
            t.wake_fallback();
        }
    }
}
