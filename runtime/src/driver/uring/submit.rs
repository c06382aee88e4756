//! Getting SQEs to the kernel and CQEs back: [`push`](UringDriver::push)
//! (flushing a full SQ early), [`enter_with`](UringDriver::enter_with) (the
//! one `io_uring_enter` of a turn, and the few extra ones that drain
//! deferred completions), and [`reap`](UringDriver::reap), which dispatches
//! each CQE to its slot, to the cancel bookkeeping, or to the wake read.

use std::io;
use std::time::Duration;

use io_uring::{opcode, squeue, types};

use super::msg::MSG_TAG;
use super::{
    MinWait, UringDriver, CANCEL_TAG, CLOSE_TOKEN, IGNORE_TOKEN, RING_WAKE_TOKEN, WAKE_TOKEN,
};

/// `IORING_ENTER_GETEVENTS` (uapi value): wait for / reap completions.
const ENTER_GETEVENTS: u32 = 1 << 0;
/// `IORING_ENTER_EXT_ARG` (uapi value, 5.11): the argument is a
/// `io_uring_getevents_arg` carrying a timeout.
const ENTER_EXT_ARG: u32 = 1 << 3;
/// `IORING_ENTER_REGISTERED_RING` (uapi value, 5.18): the fd argument is an
/// index in the thread's registered-ring table.
const ENTER_REGISTERED_RING: u32 = 1 << 4;
/// `IORING_ENTER_NO_IOWAIT` (uapi value, 6.15): the wait is not iowait.
const ENTER_NO_IOWAIT: u32 = 1 << 7;
/// The timeout of a min-wait park with no timer: a min-wait without a
/// timeout ends after its minimum even with nothing to reap, so an idle
/// loop would wake every few µs; with this it wakes once a day.
const NO_TIMER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The `min_wait_usec` for a wait that must end by `timeout`: the
/// configured minimum, cut to the time left (rounded up to a whole µs),
/// because the kernel ends a min-wait at its minimum, not at an earlier
/// timeout.
pub(super) fn min_wait_usec(m: MinWait, timeout: Duration) -> u32 {
    let left = timeout.as_nanos().div_ceil(1000);
    let left = u32::try_from(left).unwrap_or(u32::MAX);
    m.usec.min(left).max(1)
}

impl UringDriver {
    pub(super) fn arm_wake(&mut self) -> io::Result<()> {
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
    pub(super) unsafe fn push(&mut self, e: squeue::Entry) -> io::Result<()> {
        for _ in 0..64 {
            // SAFETY: forwarded from the caller.
            if unsafe { self.ring.submission().push(&e) }.is_ok() {
                return Ok(());
            }
            match self.enter_with(false, None) {
                Ok(()) => {}
                // The CQ is overflowing (EBUSY) or the kernel is short of
                // memory for requests (EAGAIN): reap, and try again.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {}
                Err(e) => return Err(e),
            }
            if !self.faults.no_reap_on_full_sq() {
                self.reap();
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "io_uring submission queue stays full",
        ))
    }

    /// `io_uring_enter(2)` on this ring, through its registered index when
    /// it has one, and without iowait accounting where the kernel allows.
    ///
    /// # Safety
    ///
    /// `arg` must match `flags` (`ENTER_EXT_ARG` with a getevents argument,
    /// or none).
    unsafe fn sys_enter<T>(
        &self,
        to_submit: u32,
        min: u32,
        mut flags: u32,
        arg: Option<&T>,
    ) -> io::Result<()> {
        if let Some(e) = self.faults.enter() {
            return Err(e);
        }
        let t = self.enter;
        if t.registered {
            flags |= ENTER_REGISTERED_RING;
        }
        if t.no_iowait && min > 0 {
            flags |= ENTER_NO_IOWAIT;
        }
        let (ptr, size) = match arg {
            Some(a) => (
                (a as *const T).cast::<libc::c_void>(),
                std::mem::size_of::<T>(),
            ),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: `t.fd` is this ring's fd or its index registered by this
        // thread (the driver never leaves its thread); the caller vouches
        // for `arg` and `flags`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                t.fd,
                to_submit,
                min,
                flags,
                ptr,
                size,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One `io_uring_enter`: submits what is queued; with `wait`, blocks for
    /// one completion or `timeout`.
    pub(super) fn enter_with(&mut self, wait: bool, timeout: Option<Duration>) -> io::Result<()> {
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
            let r = unsafe { self.sys_enter(to_submit, min, flags | ENTER_EXT_ARG, Some(&args)) };
            return match r {
                Ok(_) => Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
                Err(e) => Err(e),
            };
        }
        let r = match (self.min_wait, timeout) {
            (Some(m), t) if wait => {
                // Min-wait batching: `m.completions` completions, or what
                // is there after the minimum; the timer bounds it all.
                let t = t.unwrap_or(NO_TIMER_WAIT);
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new()
                    .timespec(&ts)
                    .min_wait_usec(min_wait_usec(m, t));
                // SAFETY: `args` and `ts` outlive the call; the flags match
                // the argument type (EXT_ARG with a getevents_arg, whose
                // min_wait_usec the kernel reads: FEAT_MIN_TIMEOUT).
                unsafe {
                    self.sys_enter(to_submit, m.completions, flags | ENTER_EXT_ARG, Some(&args))
                }
            }
            (_, Some(t)) if wait && self.ext_arg => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                // SAFETY: `args` and `ts` outlive the call; the flags match
                // the argument type (EXT_ARG with a getevents_arg).
                unsafe { self.sys_enter(to_submit, min, flags | ENTER_EXT_ARG, Some(&args)) }
            }
            // SAFETY: no extra argument.
            _ => unsafe { self.sys_enter::<libc::sigset_t>(to_submit, min, flags, None) },
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn reap(&mut self) {
        let mut cq = self.ring.completion();
        cq.sync();
        for cqe in &mut cq {
            match cqe.user_data() {
                WAKE_TOKEN => self.wake_armed = false,
                // Another loop's MSG_RING: the wait is over, as with the
                // eventfd read, and there is no read to re-arm.
                RING_WAKE_TOKEN => self.ring_wakes_received += 1,
                IGNORE_TOKEN => {}
                CLOSE_TOKEN => self.closes = self.closes.saturating_sub(1),
                // -ENOENT / -EALREADY: not cancelled (see the module docs);
                // retried next turn if the op is still orphaned by then.
                cancel if cancel & CANCEL_TAG != 0 => {
                    let res = self
                        .faults
                        .cancel_result(cancel & !CANCEL_TAG, cqe.result());
                    if res < 0 && !crate::mutant::on("cancel_result_ignored") {
                        self.cancel_again.push(cancel & !CANCEL_TAG);
                    }
                }
                msg if msg & MSG_TAG != 0 => {
                    super::msg::failed(&self.msg_targets, msg & !MSG_TAG, cqe.result());
                }
                key => {
                    let mut flags = cqe.flags();
                    if io_uring::cqueue::buffer_select(flags).is_some() {
                        if let Some(pool) = &self.bufs {
                            flags = pool.kernel_took(cqe.result(), flags);
                        }
                    }
                    self.slots
                        .complete(key, cqe.result(), flags, &mut self.wakes, &mut self.done);
                }
            }
        }
    }
}
