//! [`Timeout`]: `IORING_OP_TIMEOUT` on io_uring, a timerfd waited for
//! readiness on epoll; the runtime's own timers do not use it (their
//! deadline is the driver's wait), it exercises the seam and the benches.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use io_uring::{opcode, squeue, types};

use crate::driver::SharedFd;
use crate::driver::{Completion, Fallback, Interest, OpCode};

/// `IORING_OP_TIMEOUT` (5.4): completes after a relative duration.
///
/// This is the seam's timer operation, for tests and benches of the driver.
/// Application timers ([`sleep`](crate::time::sleep)) do not use it: they
/// live in the loop's timer table and their deadline bounds the driver's
/// wait, which costs no SQE.
///
/// On epoll it arms a `timerfd` and waits for it to become readable.
/// Dropping it before it fires cancels it; the timespec stays alive in the
/// driver's slot until the cancellation completes.
#[derive(Debug)]
pub struct Timeout {
    ts: types::Timespec,
    dur: Duration,
    timerfd: Option<SharedFd>,
}

impl Timeout {
    /// A timeout of `dur`.
    pub fn new(dur: Duration) -> Self {
        Timeout {
            ts: types::Timespec::from(dur),
            dur,
            timerfd: None,
        }
    }
}

// SAFETY: the SQE points to `self.ts`, an inline field of the boxed op value,
// which the runtime keeps alive and in place until the final CQE.
unsafe impl OpCode for Timeout {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Timeout::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Timeout::new(&self.ts).build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        // SAFETY: plain syscall.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        let fd = crate::sys::cvt(fd).map_err(|e| crate::sys::context(e, "timerfd_create"))?;
        // SAFETY: `fd` is new and owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // A zero it_value disarms a timerfd: use the smallest delay instead.
        let dur = self.dur.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: dur.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: dur.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `spec` is valid for the call; no old value requested.
        crate::sys::cvt(unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) })
            .map_err(|e| crate::sys::context(e, "timerfd_settime"))?;
        let shared = SharedFd::new(owned);
        let raw = shared.as_raw_fd();
        self.timerfd = Some(shared);
        Ok(Fallback::Readiness {
            fd: raw,
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let fd = self.timerfd.as_ref().map_or(-1, |f| f.as_raw_fd());
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into a local.
        crate::sys::cvt_len(unsafe { libc::read(fd, (&mut n as *mut u64).cast(), 8) }).map(|_| 0)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        match c.result {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
