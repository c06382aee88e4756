//! The io_uring backend: a proactor.
//!
//! SQEs accumulate in the submission queue during a loop tick; [`park`]
//! makes **one** `io_uring_enter` that submits them all and, when nothing is
//! runnable, waits for the first completion or the next timer deadline
//! (`IORING_ENTER_EXT_ARG` timeout, 5.11; a `TIMEOUT` SQE on older kernels).
//! A full SQ is flushed early (`submit.rs`). Each CQE is dispatched to its
//! slot (`slots.rs`: the table of in-flight operations, indexed by
//! `user_data`). With `IORING_FEAT_NODROP` an overflowing CQ parks
//! completions in the kernel; `park` flushes them with extra `GETEVENTS`
//! enters until the overflow flag clears, so none is lost.
//!
//! With `DEFER_TASKRUN` a waiting enter runs only a few (20) of the
//! completions ready by then; while the kernel flags more
//! (`IORING_SQ_TASKRUN`), `park` enters again without waiting, asking for a
//! whole CQ, so 1,000 ready operations cost a few enters, not fifty.
//!
//! Cross-thread unpark: a `READ` of the runtime's eventfd is kept armed in
//! the ring; another thread writes the eventfd and the wait returns.
//! Another io_uring loop instead posts a CQE straight into this ring with
//! `MSG_RING` (`msg.rs`), which ends the wait the same way.
//!
//! Min-wait batching (`Builder::min_wait`, `IORING_FEAT_MIN_TIMEOUT`,
//! 6.12): the waiting enter asks for N completions and gives the kernel a
//! minimum wait of M µs (`min_wait_usec` of `io_uring_getevents_arg`):
//! the kernel returns once N are there, or once M µs have passed with at
//! least one; with none by then it sleeps on until the first completion or
//! the timeout. The timeout stays the next timer deadline and bounds the
//! whole wait: M is cut to the time left before it (the kernel does not
//! end a min-wait early for the general timeout), and with no timer at all
//! the timeout is a day, because a min-wait with no timeout ends at M
//! even with no completion (an idle loop would wake every M µs).
//!
//! Cancellation is certain, not best effort (`cancel.rs`). Drop cancels
//! every slot the same way and waits for every final CQE before the ring
//! and the slots' memory are freed.
//!
//! [`park`]: UringDriver::park

mod bufring;
mod cancel;
mod fixed;
mod msg;
mod setup;
mod slots;
mod submit;

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, IoUring, Probe};

use super::op::{Finished, Nothing, Orphan};
use super::opcode::{Completion, Interest};
use super::BufPool;
use super::{IoDriver, MinWait, ReadyWait, RingConfig};
use crate::metrics::LoopMetrics;
pub(crate) use bufring::BufRing;
pub(crate) use msg::WakeTarget;
use slots::{AfterDrop, Slots};
use std::rc::Rc;

/// `user_data` of the armed eventfd read.
const WAKE_TOKEN: u64 = u64::MAX - 1;
/// `user_data` of SQEs whose completion nobody needs (timer SQEs of the
/// old-kernel wait path, cancels of the wake read and injected ones).
const IGNORE_TOKEN: u64 = u64::MAX;
/// `user_data` of fire-and-forget `CLOSE`s: only counted, so the driver's
/// drop can wait for them (a dropped runtime has closed its fds).
const CLOSE_TOKEN: u64 = u64::MAX - 2;
/// `user_data` of the CQE another loop posts into this ring with
/// `MSG_RING` to wake it (`msg.rs`).
const RING_WAKE_TOKEN: u64 = u64::MAX - 3;
/// Tag of an `ASYNC_CANCEL`'s `user_data`: the rest is the target's token
/// (slot tokens use bits 0..62, see `slots.rs`).
const CANCEL_TAG: u64 = 1 << 62;

pub(crate) struct UringDriver {
    ring: IoUring,
    slots: Slots,
    probe: Probe,
    ext_arg: bool,
    flags: setup::SetupFlags,
    /// How `io_uring_enter` reaches the ring (registered index, no iowait).
    enter: setup::EnterTarget,
    wake_fd: RawFd,
    /// The armed eventfd read writes here; boxed so the address is stable.
    wake_buf: Box<u64>,
    wake_armed: bool,
    /// Timespec of the old-kernel TIMEOUT SQE; boxed for a stable address.
    wait_ts: Box<types::Timespec>,
    wakes: Vec<Waker>,
    done: Vec<Finished>,
    /// Orphans whose cancel came back "not cancelled": cancel again at the
    /// next turn.
    cancel_again: Vec<u64>,
    /// Orphans to cancel again once the instant has passed (backing off).
    cancel_later: Vec<(Instant, u64)>,
    /// The receive-buffer pool registered as a provided-buffer ring.
    bufs: Option<Rc<BufPool>>,
    /// Fire-and-forget `CLOSE`s submitted or queued, not completed yet.
    closes: usize,
    metrics: Arc<LoopMetrics>,
    /// Faults to inject (feature `fault-injection`; a unit otherwise).
    faults: crate::faults::Injector,
    /// The kernel has `IORING_FEAT_MIN_TIMEOUT` (6.12).
    min_timeout: bool,
    /// Min-wait batching as asked for (`Builder::min_wait`), when the
    /// kernel has it: what the waiting enter uses.
    min_wait: Option<MinWait>,
    /// Whether this ring sends ring-to-ring wakes (MSG_RING probed and
    /// allowed by the builder).
    msg_ring: bool,
    /// The loops this ring has sent ring-to-ring wakes to (`msg.rs`).
    msg_targets: slab::Slab<Arc<dyn WakeTarget>>,
    /// Ring-to-ring wakes sent and received (for tests and `describe`).
    ring_wakes_sent: u64,
    ring_wakes_received: u64,
}

impl UringDriver {
    /// Reaps the CQ, counting its entries for the loop-health figures
    /// (one load of the CQ tail).
    fn harvest(&mut self) {
        let n = self.ring.completion().len() as u64;
        self.metrics.events.add(n);
        self.reap();
    }

    pub(crate) fn new(
        cfg: &RingConfig<'_>,
        wake_fd: RawFd,
        metrics: Arc<LoopMetrics>,
    ) -> io::Result<Self> {
        let faults = crate::faults::Injector::new(cfg.faults);
        let s = setup::setup(cfg.entries, &faults)?;
        let ext_arg = s.ring.params().is_feature_ext_arg();
        let enter = setup::EnterTarget::new(&s.ring);
        // The kernel caps a wait's completion count at the CQ's size.
        let min_wait_asked = cfg.min_wait.map(|m| MinWait {
            completions: m.completions.clamp(1, s.ring.params().cq_entries()),
            usec: m.usec,
        });
        let min_timeout = ext_arg && setup::has_min_timeout(&s.ring, &faults);
        let min_wait = min_wait_asked.filter(|_| min_timeout);
        let msg_ring = cfg.ring_wakes
            && s.probe.is_supported(opcode::MsgRingData::CODE)
            && !faults.missing(opcode::MsgRingData::CODE);
        let mut d = UringDriver {
            ring: s.ring,
            slots: Slots::default(),
            probe: s.probe,
            ext_arg,
            flags: s.flags,
            enter,
            wake_fd,
            wake_buf: Box::new(0),
            wake_armed: false,
            wait_ts: Box::new(types::Timespec::new()),
            wakes: Vec::new(),
            done: Vec::new(),
            cancel_again: Vec::new(),
            cancel_later: Vec::new(),
            bufs: None,
            closes: 0,
            metrics,
            faults,
            min_timeout,
            min_wait,
            msg_ring,
            msg_targets: slab::Slab::new(),
            ring_wakes_sent: 0,
            ring_wakes_received: 0,
        };
        d.arm_wake()?;
        Ok(d)
    }

    pub(crate) fn supports(&self, code: u8) -> bool {
        self.probe.is_supported(code) && !self.faults.missing(code)
    }

    /// Whether min-wait batching was asked for and the kernel does it.
    pub(crate) fn min_wait_in_effect(&self) -> bool {
        self.min_wait.is_some()
    }

    /// This ring's fd, for other loops' ring-to-ring wakes.
    pub(crate) fn ring_fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.ring.as_raw_fd()
    }

    /// Ring-to-ring wakes this ring sent and received so far.
    pub(crate) fn ring_wakes(&self) -> (u64, u64) {
        (self.ring_wakes_sent, self.ring_wakes_received)
    }

    /// Registers `pool`'s buffers as a provided-buffer ring (5.19); `Err`
    /// (the pool then serves the readiness path) where the kernel has none.
    pub(crate) fn attach_buffers(&mut self, pool: &Rc<BufPool>) -> io::Result<()> {
        let count = u16::try_from(pool.count())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many buffers"))?;
        if self.faults.no_buf_ring() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let ring = BufRing::new(count, 0)?;
        let register = |flags| {
            // SAFETY: the ring memory is valid for `count` entries and stays
            // valid until the group is unregistered in this driver's drop
            // (the pool that owns it is kept alive by `self.bufs` until then).
            unsafe {
                self.ring.submitter().register_buf_ring_with_flags(
                    ring.addr(),
                    ring.entries(),
                    ring.group(),
                    flags,
                )
            }
        };
        // Incremental consumption (6.12) where the kernel takes the flag.
        let incremental = !self.faults.no_buf_inc()
            && match register(bufring::IOU_PBUF_RING_INC) {
                Ok(()) => true,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => false,
                Err(e) => return Err(e),
            };
        if !incremental {
            register(0)?;
        }
        let bundles = self.ring.params().is_feature_recvsend_bundle() && !self.faults.no_bundles();
        pool.attach_ring(ring, bundles, incremental);
        self.bufs = Some(pool.clone());
        Ok(())
    }

    /// Starts a single-shot (`multi == false`) or multishot operation whose
    /// future is woken with `waker`; returns its slot token.
    ///
    /// # Safety
    ///
    /// Every pointer in `e` must stay valid until its final CQE; the caller
    /// hands the memory to [`orphan`](Self::orphan) if it stops waiting.
    pub(crate) unsafe fn submit(
        &mut self,
        e: squeue::Entry,
        multi: bool,
        waker: &Waker,
    ) -> io::Result<u64> {
        let key = self.slots.insert(multi, Some(waker));
        // SAFETY: forwarded from the caller.
        if let Err(err) = unsafe { self.push(e.user_data(key)) } {
            // Never reached the SQ: the slot can go at once.
            let _ = self.slots.orphan(key, Box::new(Nothing));
            self.slots
                .complete(key, -libc::ECANCELED, 0, &mut self.wakes, &mut self.done);
            return Err(err);
        }
        if self.faults.cancel_live() {
            // An injected cancel racing the op's own completion; its CQE
            // is ignored like any fire-and-forget SQE's.
            let c = opcode::AsyncCancel::new(key)
                .build()
                .user_data(IGNORE_TOKEN);
            // SAFETY: ASYNC_CANCEL carries no pointer.
            let _ = unsafe { self.push(c) };
        }
        Ok(key)
    }

    pub(crate) fn poll_op(&mut self, key: u64, cx: &mut Context<'_>) -> Poll<Completion> {
        self.slots.poll(key, cx)
    }

    pub(crate) fn poll_multi(
        &mut self,
        key: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Completion>> {
        self.slots.poll_multi(key, cx)
    }

    /// The future of `key` was dropped; `data` is what the kernel may touch.
    /// Returns the orphan when it may be finished now (the caller does it
    /// after releasing the driver); else it stays in the slot, and a cancel
    /// is on its way.
    pub(crate) fn orphan(&mut self, key: u64, data: Box<dyn Orphan>) -> Option<Finished> {
        let (after, back) = self.slots.orphan(key, data);
        if after == AfterDrop::Cancel {
            self.cancel(key);
        }
        back
    }
}

/// An `io_uring_enter` that failed with `EBUSY` (the CQ overflowed and
/// the kernel wants it reaped first) or `EAGAIN` (the kernel was short of
/// memory for requests) submitted what it could: the caller reaps, and
/// the SQEs left are submitted by the next enter. Any other error stands.
fn busy_is_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => Ok(()),
        r => r,
    }
}

impl IoDriver for UringDriver {
    /// Submits everything queued and, unless `timeout` is zero, waits for a
    /// completion or the timeout (`None`: no deadline). Then dispatches every
    /// CQE. Wakers and freed memory are collected for [`take_deferred`].
    ///
    /// [`take_deferred`]: Self::take_deferred
    fn park(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // Cancels waiting for a retry shorten the wait to their due time.
        let timeout = match (timeout, self.cancel_due()) {
            (Some(t), Some(r)) => Some(t.min(r)),
            (None, r) => r,
            (t, None) => t,
        };
        let wait = timeout != Some(Duration::ZERO) && self.ring.completion().is_empty();
        let sq = self.ring.submission();
        let pending = !sq.is_empty() || sq.taskrun() || sq.cq_overflow();
        drop(sq);
        if wait {
            match timeout {
                Some(t) if !self.ext_arg => {
                    *self.wait_ts = types::Timespec::from(t);
                    let e = opcode::Timeout::new(&*self.wait_ts)
                        .build()
                        .user_data(IGNORE_TOKEN);
                    // SAFETY: `wait_ts` is boxed and owned by the driver, and
                    // the kernel copies the timespec when it prepares the SQE,
                    // which happens inside the enter just below.
                    unsafe { self.push(e) }?;
                    busy_is_ok(self.enter_with(true, None))?;
                }
                _ => busy_is_ok(self.enter_with(true, timeout))?,
            }
        } else if pending {
            busy_is_ok(self.enter_with(false, None))?;
        }
        self.harvest();
        // A waiting enter runs only a few (20) of the deferred completions
        // ready by then; the kernel flags the rest (IORING_SQ_TASKRUN):
        // run them now, in one more enter, not one loop turn per 20.
        if wait && self.flags.defer_taskrun {
            for _ in 0..4 {
                if !self.ring.submission().taskrun() {
                    break;
                }
                busy_is_ok(self.enter_with(false, None))?;
                self.harvest();
            }
        }
        // Completions parked in the kernel by a CQ overflow (FEAT_NODROP):
        // flush them now that there is room.
        for _ in 0..64 {
            if !self.ring.submission().cq_overflow() {
                break;
            }
            busy_is_ok(self.enter_with(false, None))?;
            self.harvest();
        }
        if !self.wake_armed {
            self.arm_wake()?;
        }
        self.prune_msg_targets();
        Ok(())
    }

    /// Submits whatever is queued, without waiting; completions are reaped
    /// at the next park.
    fn flush(&mut self) {
        if !self.ring.submission().is_empty() {
            let _ = self.enter_with(false, None);
            self.harvest();
        }
    }

    /// Readiness wait for an op whose opcode the kernel lacks: a one-shot
    /// `POLL_ADD`. `wait` holds the slot key between polls.
    fn poll_ready(
        &mut self,
        fd: RawFd,
        interest: Interest,
        wait: &mut ReadyWait,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let key = match wait.0 {
            Some(k) => k,
            None => {
                let mask = match interest {
                    Interest::Readable => libc::POLLIN | libc::POLLRDHUP,
                    Interest::Writable => libc::POLLOUT,
                };
                let e = opcode::PollAdd::new(types::Fd(fd), mask as u32).build();
                // SAFETY: POLL_ADD carries no pointer.
                let k = unsafe { self.submit(e, false, cx.waker()) }?;
                wait.0 = Some(k);
                return Poll::Pending;
            }
        };
        match self.slots.poll(key, cx) {
            Poll::Ready(c) => {
                wait.0 = None;
                Poll::Ready(c.result.map(drop))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn cancel_ready(&mut self, wait: ReadyWait) {
        if let Some(key) = wait.0 {
            // A POLL_ADD owns no memory; the slot goes at its final CQE.
            drop(self.orphan(key, Box::new(Nothing)));
        }
    }

    /// A POLL_ADD per wait: nothing cached, always try first.
    #[inline]
    fn maybe_ready(&self, _fd: RawFd, _interest: Interest) -> bool {
        true
    }

    fn not_ready(&mut self, _fd: RawFd, _interest: Interest) -> io::Result<()> {
        Ok(())
    }

    /// Fire-and-forget `CLOSE`; falls back to `close(2)` when the SQ is stuck.
    fn close_fd(&mut self, fd: RawFd) {
        let e = opcode::Close::new(types::Fd(fd))
            .build()
            .user_data(CLOSE_TOKEN);
        // SAFETY: CLOSE carries no pointer.
        if !self.supports(opcode::Close::CODE) || unsafe { self.push(e) }.is_err() {
            // SAFETY: the caller owns `fd` and gives it up here.
            unsafe { libc::close(fd) };
        } else {
            self.closes += 1;
        }
    }

    fn forget_fd(&mut self, _fd: RawFd) {}

    fn take_deferred(&mut self, wakes: &mut Vec<Waker>, done: &mut Vec<Finished>) {
        wakes.append(&mut self.wakes);
        done.append(&mut self.done);
    }

    fn in_flight(&self) -> usize {
        self.slots.len()
    }

    fn registered_fds(&self) -> usize {
        0
    }

    fn describe(&self) -> String {
        format!(
            "io_uring sq={} cq={} single_issuer={} defer_taskrun={} coop_taskrun={} ext_arg={} \
             registered_ring={} no_iowait={} msg_ring={} min_timeout={}",
            self.ring.params().sq_entries(),
            self.ring.params().cq_entries(),
            self.flags.single_issuer,
            self.flags.defer_taskrun,
            self.flags.coop_taskrun,
            self.ext_arg,
            self.enter.registered,
            self.enter.no_iowait,
            self.msg_ring,
            self.min_timeout,
        )
    }

    #[inline]
    fn ring(&mut self) -> Option<&mut UringDriver> {
        Some(self)
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        // Every slot left is an orphan whose cancel is queued (a live op
        // keeps the driver alive); cancels that come back "not cancelled"
        // are retried by `cancel_due` below.
        if crate::mutant::on("drop_frees_without_draining") {
            drop(std::mem::take(&mut self.slots));
        }
        let start = Instant::now();
        while self.slots.len() > 0 || self.wake_armed {
            // Retries of cancels that came back "not cancelled", and of the
            // wake read's (idempotent: a second one finds nothing).
            self.cancel_due();
            if self.wake_armed {
                let e = opcode::AsyncCancel::new(WAKE_TOKEN)
                    .build()
                    .user_data(IGNORE_TOKEN);
                // SAFETY: ASYNC_CANCEL carries no pointer.
                let _ = unsafe { self.push(e) };
            }
            if start.elapsed() > crate::driver::DRAIN_LIMIT {
                // The kernel still owns memory we cannot reclaim safely:
                // leak it rather than free it under the kernel.
                std::mem::forget(std::mem::take(&mut self.slots));
                std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
                break;
            }
            if busy_is_ok(self.enter_with(true, Some(Duration::from_millis(5)))).is_err() {
                // Cannot wait any more: same choice as above.
                std::mem::forget(std::mem::take(&mut self.slots));
                std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
                break;
            }
            self.reap();
        }
        // Fire-and-forget SQEs queued last (CLOSEs of fds dropped during
        // teardown) must still reach the kernel, or those fds would leak;
        // and a CLOSE the kernel runs asynchronously is waited for, so a
        // dropped runtime has closed its fds.
        let start = Instant::now();
        while !self.ring.submission().is_empty() || self.closes > 0 {
            if start.elapsed() > crate::driver::DRAIN_LIMIT {
                break;
            }
            let wait = self.ring.submission().is_empty();
            let timeout = wait.then_some(Duration::from_millis(5));
            if busy_is_ok(self.enter_with(wait, timeout)).is_err() {
                break;
            }
            self.reap();
        }
        self.wakes.clear();
        self.abandon_msgs();
        // No receive is left: take the buffer ring back from the kernel.
        if let Some(pool) = self.bufs.take() {
            if let Some(ring) = pool.detach_ring() {
                if self
                    .ring
                    .submitter()
                    .unregister_buf_ring(ring.group())
                    .is_err()
                {
                    // The kernel may still read it: leak it rather than free.
                    std::mem::forget(ring);
                }
            }
        }
        // The driver is going away: fds these close go straight to close(2).
        self.done.drain(..).for_each(Finished::finish);
        // The thread's registered-ring slot goes back (the ring closes
        // only when no table holds it).
        self.enter.unregister(&self.ring);
    }
}
