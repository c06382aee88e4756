//! The io_uring backend: a proactor.
//!
//! SQEs accumulate in the submission queue during a loop tick; [`park`]
//! makes **one** `io_uring_enter` that submits them all and, when nothing is
//! runnable, waits for the first completion or the next timer deadline
//! (`IORING_ENTER_EXT_ARG` timeout, 5.11; a `TIMEOUT` SQE on older kernels).
//! A full SQ is flushed early. Each CQE is dispatched to its slot (see
//! [`lifecycle`](super::lifecycle)). With `IORING_FEAT_NODROP` an overflowing
//! CQ parks completions in the kernel; `park` flushes them with extra
//! `GETEVENTS` enters until the overflow flag clears, so none is lost.
//!
//! Cross-thread unpark: a `READ` of the runtime's eventfd is kept armed in
//! the ring; another thread writes the eventfd and the wait returns.
//!
//! Cancellation is certain, not best effort: an orphaned slot gets an
//! `ASYNC_CANCEL` aimed at its token, and the cancel's own CQE is read.
//! `-ENOENT` (the request was between its poll wake-up and its retry, and
//! may re-arm) and `-EALREADY` (it was running) mean "not cancelled": while
//! the slot is still orphaned the cancel is sent again, at once for the
//! first [`CANCEL_NOW`] tries, then with a doubling delay up to
//! [`CANCEL_BACKOFF_MAX`] (the wait's timeout covers the next retry). An op
//! whose cancel is lost would otherwise stay armed for ever, keeping its
//! socket open through the fd it holds.
//!
//! Drop cancels every slot the same way and waits for every final CQE
//! before the ring and the slots' memory are freed.
//!
//! [`park`]: UringDriver::park

mod setup;

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, IoUring, Probe};

use super::lifecycle::{AfterDrop, Slots};
use super::opcode::{Completion, Interest};
use super::orphan::{Done, Nothing, Orphan};
use crate::metrics::LoopMetrics;

/// `user_data` of the armed eventfd read.
const WAKE_TOKEN: u64 = u64::MAX - 1;
/// Tag of an `ASYNC_CANCEL`'s `user_data`: the rest is the target's token
/// (slot tokens use bits 0..62, see [`lifecycle`](super::lifecycle)).
const CANCEL_TAG: u64 = 1 << 62;
/// Cancels of one op retried on the next turn before the retries back off.
const CANCEL_NOW: u32 = 4;
/// The longest delay between two cancels of one op.
const CANCEL_BACKOFF_MAX: Duration = Duration::from_millis(100);
/// `user_data` of SQEs whose completion nobody needs (cancels, closes, timer
/// SQEs of the old-kernel wait path).
const IGNORE_TOKEN: u64 = u64::MAX;

/// `IORING_ENTER_GETEVENTS` (uapi value): wait for / reap completions.
const ENTER_GETEVENTS: u32 = 1 << 0;
/// `IORING_ENTER_EXT_ARG` (uapi value, 5.11): the argument is a
/// `io_uring_getevents_arg` carrying a timeout.
const ENTER_EXT_ARG: u32 = 1 << 3;

/// How long drop waits for the kernel to finish cancelled operations before
/// it gives up and leaks their memory rather than free it under the kernel.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

pub(crate) struct UringDriver {
    ring: IoUring,
    slots: Slots,
    probe: Probe,
    ext_arg: bool,
    flags: setup::SetupFlags,
    wake_fd: RawFd,
    /// The armed eventfd read writes here; boxed so the address is stable.
    wake_buf: Box<u64>,
    wake_armed: bool,
    /// Timespec of the old-kernel TIMEOUT SQE; boxed for a stable address.
    wait_ts: Box<types::Timespec>,
    wakes: Vec<Waker>,
    done: Vec<Done>,
    /// Orphans whose cancel came back "not cancelled": cancel again at the
    /// next turn.
    cancel_again: Vec<u64>,
    /// Orphans to cancel again once the instant has passed (backing off).
    cancel_later: Vec<(Instant, u64)>,
    metrics: Arc<LoopMetrics>,
}

impl UringDriver {
    pub(crate) fn new(entries: u32, wake_fd: RawFd, metrics: Arc<LoopMetrics>) -> io::Result<Self> {
        let s = setup::setup(entries)?;
        let ext_arg = s.ring.params().is_feature_ext_arg();
        let mut d = UringDriver {
            ring: s.ring,
            slots: Slots::default(),
            probe: s.probe,
            ext_arg,
            flags: s.flags,
            wake_fd,
            wake_buf: Box::new(0),
            wake_armed: false,
            wait_ts: Box::new(types::Timespec::new()),
            wakes: Vec::new(),
            done: Vec::new(),
            cancel_again: Vec::new(),
            cancel_later: Vec::new(),
            metrics,
        };
        d.arm_wake()?;
        Ok(d)
    }

    /// A short description of the setup, for diagnostics.
    pub(crate) fn describe(&self) -> String {
        format!(
            "io_uring sq={} cq={} single_issuer={} defer_taskrun={} coop_taskrun={} ext_arg={}",
            self.ring.params().sq_entries(),
            self.ring.params().cq_entries(),
            self.flags.single_issuer,
            self.flags.defer_taskrun,
            self.flags.coop_taskrun,
            self.ext_arg
        )
    }

    pub(crate) fn supports(&self, code: u8) -> bool {
        self.probe.is_supported(code)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len()
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        let buf: *mut u64 = &mut *self.wake_buf;
        let e = opcode::Read::new(types::Fd(self.wake_fd), buf.cast(), 8)
            .build()
            .user_data(WAKE_TOKEN);
        // SAFETY: `wake_buf` is a heap box owned by the driver, freed only
        // after drop has drained this read's CQE.
        unsafe { self.push(e) }?;
        self.wake_armed = true;
        Ok(())
    }

    /// Queues an SQE, flushing the SQ to the kernel first when it is full.
    ///
    /// # Safety
    ///
    /// Every pointer in `e` must stay valid until its final CQE.
    unsafe fn push(&mut self, e: squeue::Entry) -> io::Result<()> {
        for _ in 0..64 {
            // SAFETY: forwarded from the caller.
            if unsafe { self.ring.submission().push(&e) }.is_ok() {
                return Ok(());
            }
            match self.enter_with(false, None) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => return Err(e),
            }
            self.reap();
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "io_uring submission queue stays full",
        ))
    }

    /// Starts a single-shot (`multi == false`) or multishot operation.
    ///
    /// # Safety
    ///
    /// Every pointer in `e` must stay valid until its final CQE; the caller
    /// hands the memory to [`orphan`](Self::orphan) if it stops waiting.
    pub(crate) unsafe fn submit(&mut self, e: squeue::Entry, multi: bool) -> io::Result<u64> {
        let key = self.slots.insert(multi);
        // SAFETY: forwarded from the caller.
        if let Err(err) = unsafe { self.push(e.user_data(key)) } {
            // Never reached the SQ: the slot can go at once.
            let _ = self.slots.orphan(key, Box::new(Nothing));
            self.slots
                .complete(key, -libc::ECANCELED, 0, &mut self.wakes, &mut self.done);
            return Err(err);
        }
        self.metrics.ops_submitted.inc();
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
    /// Returns `data` when it may be freed now (the caller drops it after
    /// releasing the driver).
    pub(crate) fn orphan(&mut self, key: u64, data: Box<dyn Orphan>) -> Option<Done> {
        let (after, back) = self.slots.orphan(key, data);
        if after == AfterDrop::Cancel {
            self.cancel(key);
        }
        back
    }

    /// Queues an `ASYNC_CANCEL` for the orphaned slot `key`: at once for
    /// the first [`CANCEL_NOW`] tries, then after a doubling back-off;
    /// nothing when the slot is no longer orphaned.
    fn cancel(&mut self, key: u64) {
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

    fn send_cancel(&mut self, key: u64) {
        let e = opcode::AsyncCancel::new(key)
            .build()
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
    fn cancel_due(&mut self) -> Option<Duration> {
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
            if self.slots.is_orphaned(key) {
                self.send_cancel(key);
            }
        }
        self.cancel_later
            .iter()
            .map(|(at, _)| at.saturating_duration_since(now))
            .min()
    }

    /// Readiness wait for an op whose opcode the kernel lacks: a one-shot
    /// `POLL_ADD`. `wait` holds the slot key between polls.
    pub(crate) fn poll_ready(
        &mut self,
        fd: RawFd,
        interest: Interest,
        wait: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let key = match *wait {
            Some(k) => k,
            None => {
                let mask = match interest {
                    Interest::Readable => libc::POLLIN | libc::POLLRDHUP,
                    Interest::Writable => libc::POLLOUT,
                };
                let e = opcode::PollAdd::new(types::Fd(fd), mask as u32).build();
                // SAFETY: POLL_ADD carries no pointer.
                let k = unsafe { self.submit(e, false) }?;
                *wait = Some(k);
                k
            }
        };
        match self.slots.poll(key, cx) {
            Poll::Ready(c) => {
                *wait = None;
                Poll::Ready(c.result.map(drop))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Fire-and-forget `CLOSE`; falls back to `close(2)` when the SQ is stuck.
    pub(crate) fn close_fd(&mut self, fd: RawFd) {
        let e = opcode::Close::new(types::Fd(fd))
            .build()
            .user_data(IGNORE_TOKEN);
        // SAFETY: CLOSE carries no pointer.
        if !self.supports(opcode::Close::CODE) || unsafe { self.push(e) }.is_err() {
            // SAFETY: the caller owns `fd` and gives it up here.
            unsafe { libc::close(fd) };
        }
    }

    /// One `io_uring_enter`: submits what is queued; with `wait`, blocks for
    /// one completion or `timeout`.
    fn enter_with(&mut self, wait: bool, timeout: Option<Duration>) -> io::Result<()> {
        let to_submit = self.ring.submission().len() as u32;
        let min = u32::from(wait);
        let flags = ENTER_GETEVENTS;
        self.metrics.wait_syscalls.inc();
        if !wait && self.flags.defer_taskrun && self.ext_arg {
            // Without a wait, the kernel runs at most a few (20) deferred
            // completions per enter; asking for as many as the CQ holds,
            // with a zero timeout, makes it run them all and return at once
            // (-ETIME when fewer were ready).
            let ts = types::Timespec::new();
            let args = types::SubmitArgs::new().timespec(&ts);
            let min = self.ring.params().cq_entries();
            // SAFETY: `args` and `ts` outlive the call; the flags match the
            // argument type (EXT_ARG with a getevents_arg).
            let r = unsafe {
                self.ring
                    .submitter()
                    .enter(to_submit, min, flags | ENTER_EXT_ARG, Some(&args))
            };
            return match r {
                Ok(_) => Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
                Err(e) => Err(e),
            };
        }
        let r = match timeout {
            Some(t) if wait && self.ext_arg => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                // SAFETY: `args` and `ts` outlive the call; the flags match
                // the argument type (EXT_ARG with a getevents_arg).
                unsafe {
                    self.ring
                        .submitter()
                        .enter(to_submit, min, flags | ENTER_EXT_ARG, Some(&args))
                }
            }
            // SAFETY: no extra argument.
            _ => unsafe {
                self.ring
                    .submitter()
                    .enter::<libc::sigset_t>(to_submit, min, flags, None)
            },
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Submits everything queued and, unless `timeout` is zero, waits for a
    /// completion or the timeout (`None`: no deadline). Then dispatches every
    /// CQE. Wakers and freed memory are collected for [`take_deferred`].
    ///
    /// [`take_deferred`]: Self::take_deferred
    pub(crate) fn park(&mut self, timeout: Option<Duration>) -> io::Result<()> {
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
                    self.enter_with(true, None)?;
                }
                _ => self.enter_with(true, timeout)?,
            }
        } else if pending {
            self.enter_with(false, None)?;
        }
        self.reap();
        // A waiting enter runs only a few (20) of the deferred completions
        // ready by then; the kernel flags the rest (IORING_SQ_TASKRUN):
        // run them now, in one more enter, not one loop turn per 20.
        if wait && self.flags.defer_taskrun {
            for _ in 0..4 {
                if !self.ring.submission().taskrun() {
                    break;
                }
                self.enter_with(false, None)?;
                self.reap();
            }
        }
        // Completions parked in the kernel by a CQ overflow (FEAT_NODROP):
        // flush them now that there is room.
        for _ in 0..64 {
            if !self.ring.submission().cq_overflow() {
                break;
            }
            self.enter_with(false, None)?;
            self.reap();
        }
        if !self.wake_armed {
            self.arm_wake()?;
        }
        Ok(())
    }

    /// Submits whatever is queued, without waiting; completions are reaped
    /// at the next park.
    pub(crate) fn flush(&mut self) {
        if !self.ring.submission().is_empty() {
            let _ = self.enter_with(false, None);
            self.reap();
        }
    }

    fn reap(&mut self) {
        let mut cq = self.ring.completion();
        cq.sync();
        for cqe in &mut cq {
            match cqe.user_data() {
                WAKE_TOKEN => self.wake_armed = false,
                IGNORE_TOKEN => {}
                // -ENOENT / -EALREADY: not cancelled (see the module docs);
                // retried next turn if the op is still orphaned by then.
                cancel if cancel & CANCEL_TAG != 0 => {
                    if cqe.result() < 0 && !crate::mutant::on("cancel_result_ignored") {
                        self.cancel_again.push(cancel & !CANCEL_TAG);
                    }
                }
                key => {
                    if !io_uring::cqueue::more(cqe.flags()) {
                        self.metrics.ops_completed.inc();
                    }
                    self.slots.complete(
                        key,
                        cqe.result(),
                        cqe.flags(),
                        &mut self.wakes,
                        &mut self.done,
                    );
                }
            }
        }
    }

    /// Moves out the wakers to wake and the orphans to finish, so the
    /// caller can run them with the driver released.
    pub(crate) fn take_deferred(&mut self, wakes: &mut Vec<Waker>, done: &mut Vec<Done>) {
        wakes.append(&mut self.wakes);
        done.append(&mut self.done);
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        for key in self.slots.tokens() {
            self.cancel(key);
        }
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
            if start.elapsed() > DRAIN_LIMIT {
                // The kernel still owns memory we cannot reclaim safely:
                // leak it rather than free it under the kernel.
                std::mem::forget(std::mem::take(&mut self.slots));
                std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
                break;
            }
            if self
                .enter_with(true, Some(Duration::from_millis(5)))
                .is_err()
            {
                // Cannot wait any more: same choice as above.
                std::mem::forget(std::mem::take(&mut self.slots));
                std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
                break;
            }
            self.reap();
        }
        // Fire-and-forget SQEs queued last (CLOSEs of fds dropped during
        // teardown) must still reach the kernel, or those fds would leak.
        for _ in 0..8 {
            if self.ring.submission().is_empty() {
                break;
            }
            if self.enter_with(false, None).is_err() {
                break;
            }
            self.reap();
        }
        self.wakes.clear();
        // The driver is going away: fds these close go straight to close(2).
        self.done.drain(..).for_each(Done::finish);
    }
}
