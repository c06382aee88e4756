//! `OpCode`s written outside the runtime, as a user or the net/fs crates
//! would, for the drop-safety tests: a pipe read, a raw accept, an open, a
//! pool job, and [`Counted`], which wraps any of them and records whether
//! its value was freed only after its final completion.
#![allow(dead_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringloop::driver::io_uring::{opcode, squeue, types};
use ringloop::driver::SharedFd;
use ringloop::driver::{BlockingJob, Completion, Fallback, Interest, OpCode, NO_OPCODE};

/// A read of a pipe into an owned buffer, of at most `len` bytes.
pub struct PipeRead {
    pub fd: SharedFd,
    pub buf: Vec<u8>,
}

impl PipeRead {
    fn len(&self) -> usize {
        self.buf.capacity()
    }
}

// SAFETY: the SQE points into `self.buf`, a heap buffer owned by the op
// value, which the runtime keeps alive until the final CQE.
unsafe impl OpCode for PipeRead {
    type Output = (io::Result<usize>, Vec<u8>);
    const CODE: u8 = opcode::Read::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Read::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.as_mut_ptr(),
            self.len() as u32,
        )
        .build()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }
    fn try_io(&mut self) -> io::Result<u32> {
        // SAFETY: reads into the op's own buffer, within its capacity.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as u32)
    }
    fn complete(mut self, c: Completion) -> Self::Output {
        let r = c.result.map(|n| n as usize);
        if let Ok(n) = r {
            // SAFETY: the kernel or read(2) initialised `n` bytes.
            unsafe { self.buf.set_len(n) };
        }
        (r, self.buf)
    }
}

/// A non-blocking pipe; the write end is returned so it stays open.
pub fn pipe() -> (SharedFd, OwnedFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for two fds.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: both fds are new and owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    (SharedFd::new(r), w)
}

/// `accept4` on a listening socket; the new connection as an `OwnedFd`.
pub struct RawAccept {
    pub fd: SharedFd,
}

// SAFETY: the SQE carries no pointer (no peer address is asked for).
unsafe impl OpCode for RawAccept {
    type Output = io::Result<OwnedFd>;
    const CODE: u8 = opcode::Accept::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Accept::new(
            types::Fd(self.fd.as_raw_fd()),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
        .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
        .build()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }
    fn try_io(&mut self) -> io::Result<u32> {
        // SAFETY: null address pointers are allowed.
        let r = unsafe {
            libc::accept4(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as u32)
    }
    fn complete(self, c: Completion) -> Self::Output {
        // SAFETY: a successful accept returns a new fd only we own.
        c.result
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

/// `openat(AT_FDCWD, path, O_RDONLY)`: `OPENAT` on io_uring, the pool on
/// epoll.
pub struct RawOpen {
    pub path: CString,
}

// SAFETY: the SQE points to `self.path`, a heap string owned by the value.
unsafe impl OpCode for RawOpen {
    type Output = io::Result<OwnedFd>;
    const CODE: u8 = opcode::OpenAt::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(libc::O_RDONLY | libc::O_CLOEXEC)
            .build()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }
    fn blocking_job(&mut self) -> BlockingJob {
        let p = self.path.as_ptr() as usize;
        // SAFETY: the pointer is into `self.path`, which the runtime keeps
        // alive and in place until the job returns.
        unsafe {
            BlockingJob::new(move || {
                let fd = libc::openat(
                    libc::AT_FDCWD,
                    p as *const libc::c_char,
                    libc::O_RDONLY | libc::O_CLOEXEC,
                );
                if fd < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(fd as u32)
                }
            })
        }
    }
    fn complete(self, c: Completion) -> Self::Output {
        // SAFETY: a successful open returns a new fd only we own.
        c.result
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

/// A job for the blocking pool (no opcode on either backend) that takes
/// `dur` and writes into the value's own buffer.
pub struct PoolJob {
    pub dur: Duration,
    pub out: Box<u64>,
}

// SAFETY: no SQE (`NO_OPCODE`); the job writes only `*self.out`, a heap
// value the runtime keeps alive until the job returns.
unsafe impl OpCode for PoolJob {
    type Output = io::Result<u64>;
    const CODE: u8 = NO_OPCODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }
    fn blocking_job(&mut self) -> BlockingJob {
        let (dur, out) = (self.dur, &mut *self.out as *mut u64 as usize);
        // SAFETY: `out` points into the boxed value, alive until the job
        // returns.
        unsafe {
            BlockingJob::new(move || {
                std::thread::sleep(dur);
                *(out as *mut u64) = 0xC0FFEE;
                Ok(0)
            })
        }
    }
    fn complete(self, c: Completion) -> Self::Output {
        c.result.map(|_| *self.out)
    }
}

/// What a set of [`Counted`] ops went through.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Values made.
    pub made: AtomicUsize,
    /// Final completions consumed (by the future, or by the driver for a
    /// dropped one).
    pub completed: AtomicUsize,
    /// Values freed (every one is, in the end).
    pub freed: AtomicUsize,
    /// Values freed before their final completion. Legitimate only on the
    /// readiness path, where nothing is in flight between attempts.
    pub freed_first: AtomicUsize,
}

impl Ledger {
    pub fn get(&self) -> [usize; 4] {
        [
            self.made.load(Ordering::SeqCst),
            self.completed.load(Ordering::SeqCst),
            self.freed.load(Ordering::SeqCst),
            self.freed_first.load(Ordering::SeqCst),
        ]
    }
}

/// Any op, recording in a [`Ledger`] when its final completion is consumed
/// and when its value is freed.
pub struct Counted<T> {
    inner: Option<T>,
    done: bool,
    ledger: Arc<Ledger>,
}

impl<T> Counted<T> {
    pub fn new(inner: T, ledger: &Arc<Ledger>) -> Self {
        ledger.made.fetch_add(1, Ordering::SeqCst);
        Counted {
            inner: Some(inner),
            done: false,
            ledger: ledger.clone(),
        }
    }

    fn inner(&mut self) -> &mut T {
        self.inner.as_mut().expect("value present until completion")
    }
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        if !self.done {
            self.ledger.freed_first.fetch_add(1, Ordering::SeqCst);
        }
        // The inner value (and the memory the kernel may have used) goes
        // now, after the counters say in which order.
        self.ledger.freed.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: every pointer comes from the inner op's own methods and points
// into the inner value, which lives exactly as long as this one.
unsafe impl<T: OpCode> OpCode for Counted<T> {
    type Output = T::Output;
    const CODE: u8 = T::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        self.inner().sqe()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        self.inner().fallback()
    }
    fn try_io(&mut self) -> io::Result<u32> {
        self.inner().try_io()
    }
    fn blocking_job(&mut self) -> BlockingJob {
        self.inner().blocking_job()
    }
    fn complete(mut self, c: Completion) -> Self::Output {
        self.done = true;
        self.ledger.completed.fetch_add(1, Ordering::SeqCst);
        self.inner.take().expect("completed once").complete(c)
    }
}
