//! The epoll backend: a reactor that emulates completions.
//!
//! An operation tries its syscall non-blocking on the loop thread; only on
//! `EAGAIN` does it wait for an edge of its fd (see [`fds`]), then tries
//! again. Operations without readiness (regular files, `open`, `statx`,
//! `fsync`) run on the blocking pool, handled by the common
//! [`Driver`](super::Driver). The next timer deadline is the wait's timeout:
//! `epoll_pwait2` with nanoseconds (5.11), else `epoll_wait` rounded up to
//! the next millisecond so a timer never fires early. The runtime's eventfd
//! is registered like any fd and unparks the wait from other threads.

mod fds;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::driver::opcode::Interest;
use crate::driver::uring::UringDriver;
use crate::driver::{Finished, IoDriver, ReadyWait};
use crate::metrics::LoopMetrics;

const WAKE_TOKEN: u64 = u64::MAX;
const EVENTS: usize = 1024;

pub(crate) struct EpollDriver {
    epfd: OwnedFd,
    fds: fds::Fds,
    events: Vec<libc::epoll_event>,
    wake_fd: RawFd,
    pwait2: bool,
    wakes: Vec<Waker>,
    metrics: Arc<LoopMetrics>,
}

impl EpollDriver {
    pub(crate) fn new(wake_fd: RawFd, metrics: Arc<LoopMetrics>) -> io::Result<Self> {
        // SAFETY: plain syscall.
        let fd = crate::sys::cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
            .map_err(|e| crate::sys::context(e, "epoll_create1"))?;
        // SAFETY: `fd` was just returned by epoll_create1 and is owned by no one else.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: `ev` is valid for the call.
        crate::sys::cvt(unsafe { libc::epoll_ctl(fd, libc::EPOLL_CTL_ADD, wake_fd, &mut ev) })
            .map_err(|e| crate::sys::context(e, "epoll_ctl(ADD, eventfd)"))?;
        Ok(EpollDriver {
            epfd,
            fds: fds::Fds::default(),
            events: Vec::with_capacity(EVENTS),
            wake_fd,
            pwait2: true,
            wakes: Vec::new(),
            metrics,
        })
    }

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let epfd = self.epfd.as_raw_fd();
        let ptr = self.events.as_mut_ptr();
        if self.pwait2 {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: t.subsec_nanos() as libc::c_long,
            });
            let tsp = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: `ptr` has room for EVENTS entries; `tsp` is null or
            // points to a live timespec; no signal mask.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    epfd,
                    ptr,
                    EVENTS as libc::c_int,
                    tsp,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            match crate::sys::cvt_len(r as libc::ssize_t) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => return Ok(0),
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => self.pwait2 = false,
                Err(e) => return Err(crate::sys::context(e, "epoll_pwait2")),
            }
        }
        let ms = match timeout {
            None => -1,
            // Round up: waking a little late is fine, early is not.
            Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        };
        // SAFETY: `ptr` has room for EVENTS entries.
        let r = unsafe { libc::epoll_wait(epfd, ptr, EVENTS as libc::c_int, ms) };
        match crate::sys::cvt(r) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(0),
            Err(e) => Err(crate::sys::context(e, "epoll_wait")),
        }
    }
}

impl IoDriver for EpollDriver {
    fn describe(&self) -> String {
        format!("epoll pwait2={}", self.pwait2)
    }

    fn registered_fds(&self) -> usize {
        self.fds.len()
    }

    fn in_flight(&self) -> usize {
        // Nothing is in flight on a reactor: an op waits for readiness and
        // then makes its own syscall.
        0
    }

    fn ring(&mut self) -> Option<&mut UringDriver> {
        None
    }

    fn poll_ready(
        &mut self,
        fd: RawFd,
        interest: Interest,
        _wait: &mut ReadyWait,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let syscalls = &self.metrics.io_syscalls;
        self.fds
            .poll_ready(self.epfd.as_raw_fd(), fd, interest, syscalls, cx)
    }

    #[inline]
    fn maybe_ready(&self, fd: RawFd, interest: Interest) -> bool {
        self.fds.maybe_ready(fd, interest)
    }

    fn not_ready(&mut self, fd: RawFd, interest: Interest) -> io::Result<()> {
        let syscalls = &self.metrics.io_syscalls;
        self.fds
            .not_ready(self.epfd.as_raw_fd(), fd, interest, syscalls)
    }

    fn close_fd(&mut self, fd: RawFd) {
        self.metrics.io_syscalls.add(2); // epoll_ctl(DEL) + close
        self.fds
            .deregister(self.epfd.as_raw_fd(), fd, &mut self.wakes);
        // SAFETY: the caller owns `fd` and gives it up here.
        unsafe { libc::close(fd) };
    }

    fn forget_fd(&mut self, fd: RawFd) {
        self.fds
            .deregister(self.epfd.as_raw_fd(), fd, &mut self.wakes);
    }

    /// Waits for events (not at all when `timeout` is zero, for ever when
    /// `None`) and applies them.
    fn park(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.metrics.wait_syscalls.inc();
        let n = self.wait(timeout)?;
        self.metrics.events.add(n as u64);
        // SAFETY: the kernel initialised the first `n` entries.
        unsafe { self.events.set_len(n) };
        for i in 0..n {
            let ev = self.events[i];
            let (token, events) = (ev.u64, ev.events);
            if token == WAKE_TOKEN {
                let mut buf = 0u64;
                // SAFETY: reads 8 bytes into a local; non-blocking eventfd.
                unsafe { libc::read(self.wake_fd, (&mut buf as *mut u64).cast(), 8) };
            } else {
                self.fds.event(token as RawFd, events, &mut self.wakes);
            }
        }
        self.events.clear();
        Ok(())
    }

    fn take_deferred(&mut self, wakes: &mut Vec<Waker>, _done: &mut Vec<Finished>) {
        wakes.append(&mut self.wakes);
    }

    fn cancel_ready(&mut self, _wait: ReadyWait) {
        // The waker stays parked until the fd's next edge or its close; a
        // stale one wakes its task for nothing at most once.
    }

    fn flush(&mut self) {}
}
