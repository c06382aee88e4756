//! For writing your own operations: an [`OpCode`] is one operation with
//! everything it owns (buffer, address, path), lowered twice — the SQE of
//! the completion path (io_uring) and a [`Fallback`] for the readiness path
//! (epoll, or a kernel that lacks the opcode): try, then wait for
//! [`Interest`] on an fd; or a [`BlockingJob`] on the blocking pool. Await
//! it as an [`Op`] (one completion) or a [`MultiOp`] (a multishot stream);
//! the result comes back as a [`Completion`]. A [`SharedFd`] keeps the fd
//! of an operation open until the kernel is done with it. [`ops`] has the
//! runtime's own (`Nop`, `Timeout`, `Close`); the socket and file crates
//! are written the same way. The SQE is built with the `io_uring` crate,
//! re-exported here as `ringloop::driver::io_uring`.
//!
//! ```
//! use ringloop::driver::{ops::Nop, Op};
//!
//! ringloop::block_on(async {
//!     Op::new(Nop).await.unwrap();
//! });
//! ```
//!
//! # Inside: the seam
//!
//! This module is also the driver seam, one screen: `op.rs` owns the whole
//! life of an operation (start, the three paths, counting, what a dropped
//! future leaves behind); the `IoDriver` trait here is what a backend
//! provides, implemented with identical signatures by `uring/` (the
//! proactor, its slot table in `uring/slots.rs`) and `epoll/` (the
//! reactor); `Driver`, one per loop thread, is the choice between them (an
//! enum, chosen here and nowhere else) plus the pool path both share
//! (`pool.rs`). The completion path exists only on io_uring and is reached
//! through `Driver::ring()`, `None` on epoll: nothing can call into a ring
//! that is not there.

mod bufpool;
pub(crate) mod current;
mod epoll;
mod fd;
mod fixed;
mod op;
mod opbox;
mod opcode;
pub mod ops;
mod pool;
pub(crate) mod scope;
mod uring;

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub(crate) use bufpool::BufPoolConfig;
pub use bufpool::{BufPool, BufSlot, PooledBuf, PooledBufs};
pub use fd::SharedFd;
pub use fixed::{FixedBuf, FixedBufPool, FixedBufRegistry};
/// The io-uring crate (version 0.7), with which an [`OpCode`] builds its
/// SQE: `ringloop::driver::io_uring::{opcode, squeue, types}`. Hidden from
/// these docs so they list ringloop's items only; see io-uring's own.
#[doc(hidden)]
pub use io_uring;
pub(crate) use op::{Finished, Orphan};
pub use op::{MultiOp, Op};
pub use opcode::{
    BlockingJob, Cached, Completion, Fallback, Interest, MultishotOpCode, OpCode, NO_OPCODE,
};

use crate::blocking::Pool;
use crate::metrics::LoopMetrics;
use pool::{PoolJob, PoolOrphans};
use uring::UringDriver;
pub(crate) use uring::WakeTarget;

/// A loop's driver, shared by the loop and the operations it runs.
pub(crate) type DriverRef = Rc<RefCell<Driver>>;

/// How long a dropped driver waits for the kernel (or the pool) to finish
/// what it still owns before it leaks that memory rather than free it under
/// them.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The backend contract. Both backends implement it with these signatures;
/// [`Driver`] forwards to whichever it holds.
pub(crate) trait IoDriver {
    /// One turn: submit what is queued, wait for completions or readiness
    /// (not at all for a zero timeout, for ever for `None`; another thread
    /// ends the wait through the runtime's eventfd) and dispatch them.
    fn park(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    /// Submits what is queued without waiting, so fire-and-forget work
    /// (closes) reaches the kernel when the loop stops running.
    fn flush(&mut self);
    /// Wakes the caller when `fd` may be ready for `interest` again, after
    /// an `EAGAIN`; `wait` is the backend's own state for this wait.
    fn poll_ready(
        &mut self,
        fd: RawFd,
        interest: Interest,
        wait: &mut ReadyWait,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>>;
    /// Whether an operation on `fd` should try its syscall before waiting:
    /// `false` while the backend knows `fd` is not ready for `interest`
    /// (an `EAGAIN` or a drained result since its last readiness event).
    fn maybe_ready(&self, fd: RawFd, interest: Interest) -> bool;
    /// Records that `fd` is not ready for `interest` until its next
    /// readiness event (a drained result, see `OpCode::drained`).
    fn not_ready(&mut self, fd: RawFd, interest: Interest) -> io::Result<()>;
    /// The wait is over or abandoned.
    fn cancel_ready(&mut self, wait: ReadyWait);
    /// Closes `fd` without blocking the loop.
    fn close_fd(&mut self, fd: RawFd);
    /// Forgets the readiness state of `fd`, which the caller closes itself.
    fn forget_fd(&mut self, fd: RawFd);
    /// Hands out the wakers to wake and the orphans to finish; the caller
    /// runs both with the driver released.
    fn take_deferred(&mut self, wakes: &mut Vec<Waker>, done: &mut Vec<Finished>);
    /// Operations whose memory the kernel may still touch.
    fn in_flight(&self) -> usize;
    /// Fds with readiness state, for leak checks.
    fn registered_fds(&self) -> usize;
    /// A description for logs (ring sizes and setup flags, or epoll).
    fn describe(&self) -> String;
    /// The completion path, where this backend has one.
    fn ring(&mut self) -> Option<&mut UringDriver>;
}

/// A backend's state for one readiness wait (io_uring: the `POLL_ADD` in
/// flight for it; epoll: nothing). Opaque to operations.
#[derive(Debug, Default)]
pub(crate) struct ReadyWait(Option<u64>);

/// Which backend a loop runs: [`crate::Backend`] without `Auto`, which the
/// builder resolves before a driver exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    IoUring,
    Epoll,
}

impl From<Kind> for crate::Backend {
    fn from(k: Kind) -> Self {
        match k {
            Kind::IoUring => crate::Backend::IoUring,
            Kind::Epoll => crate::Backend::Epoll,
        }
    }
}

enum Inner {
    // Boxed: the ring driver is large and there is one per loop.
    Uring(Box<UringDriver>),
    Epoll(epoll::EpollDriver),
}

/// One loop thread's driver: its backend, and the pool path both share.
pub(crate) struct Driver {
    inner: Inner,
    /// Min-wait batching as configured (in effect only on a ring whose
    /// kernel has `IORING_FEAT_MIN_TIMEOUT`).
    min_wait: Option<MinWait>,
    pub(crate) pool: Arc<Pool>,
    orphans: PoolOrphans,
    done: Vec<Finished>,
    /// The loop's receive buffers, made at the first pooled receive.
    bufs: Option<Rc<BufPool>>,
    buf_cfg: BufPoolConfig,
    pub(crate) metrics: Arc<LoopMetrics>,
    /// The registered (fixed) buffers, while registered; after `inner`, so
    /// the ring is closed before their memory can go.
    fixed: fixed::Table,
}

macro_rules! backend {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            Inner::Uring($d) => $e,
            Inner::Epoll($d) => $e,
        }
    };
}

/// How a loop's io_uring is set up: its SQ size, its wait (min-wait
/// batching, ring-to-ring wakes) and (feature `fault-injection`) what to
/// break in it.
pub(crate) struct RingConfig<'a> {
    pub(crate) entries: u32,
    pub(crate) min_wait: Option<MinWait>,
    pub(crate) ring_wakes: bool,
    pub(crate) faults: &'a crate::faults::Faults,
}

/// Min-wait batching ([`Builder::min_wait`](crate::Builder::min_wait)): a waiting park asks for
/// `completions` completions, and takes what it has after `usec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MinWait {
    pub(crate) completions: u32,
    pub(crate) usec: u32,
}

impl Driver {
    /// Builds the backend `kind`; `unpark` wakes this loop from any thread.
    pub(crate) fn new(
        kind: Kind,
        ring: RingConfig<'_>,
        buf_cfg: BufPoolConfig,
        wake_fd: RawFd,
        pool: Arc<Pool>,
        unpark: Waker,
        metrics: Arc<LoopMetrics>,
    ) -> io::Result<Driver> {
        let inner = match kind {
            Kind::IoUring => {
                Inner::Uring(Box::new(UringDriver::new(&ring, wake_fd, metrics.clone())?))
            }
            Kind::Epoll => Inner::Epoll(epoll::EpollDriver::new(wake_fd, metrics.clone())?),
        };
        Ok(Driver {
            inner,
            min_wait: ring.min_wait,
            pool,
            orphans: PoolOrphans::new(unpark),
            done: Vec::new(),
            bufs: None,
            buf_cfg,
            metrics,
            fixed: fixed::Table::default(),
        })
    }

    /// The loop's receive-buffer pool, made (and on io_uring registered as a
    /// provided-buffer ring, where the kernel has them) on first use.
    pub(crate) fn buf_pool(&mut self) -> io::Result<Rc<BufPool>> {
        if let Some(p) = &self.bufs {
            return Ok(p.clone());
        }
        let pool = BufPool::new(self.buf_cfg)?;
        if let Inner::Uring(d) = &mut self.inner {
            // Without buffer rings (before 5.19), or without the RECV that
            // would pick from one, pooled receives take the readiness path
            // on io_uring too, from the pool's free list.
            if d.supports(io_uring::opcode::Recv::CODE) {
                let _ = d.attach_buffers(&pool);
            }
        }
        self.bufs = Some(pool.clone());
        Ok(pool)
    }

    pub(crate) fn kind(&self) -> Kind {
        match self.inner {
            Inner::Uring(_) => Kind::IoUring,
            Inner::Epoll(_) => Kind::Epoll,
        }
    }

    /// Whether `code` runs on the completion path here.
    pub(crate) fn supports(&self, code: u8) -> bool {
        match &self.inner {
            Inner::Uring(d) => {
                code != NO_OPCODE
                    && d.supports(code)
                    && !(code == io_uring::opcode::Fsync::CODE
                        && crate::mutant::on("fsync_on_pool"))
            }
            Inner::Epoll(_) => false,
        }
    }

    /// The completion path (io_uring), if this loop has one.
    #[inline]
    pub(crate) fn ring(&mut self) -> Option<&mut UringDriver> {
        backend!(&mut self.inner, d => d.ring())
    }

    /// The backend's description, then whether min-wait batching is in
    /// effect: `min_wait=off`, `min_wait=Nx<usec>us`, or that with
    /// `(not in effect: <why>)`.
    pub(crate) fn describe(&self) -> String {
        let mut s = backend!(&self.inner, d => d.describe());
        match self.min_wait {
            None => s.push_str(" min_wait=off"),
            Some(m) => {
                s.push_str(&format!(" min_wait={}x{}us", m.completions, m.usec));
                match &self.inner {
                    Inner::Uring(d) if d.min_wait_in_effect() => {}
                    Inner::Uring(_) => s.push_str(
                        " (not in effect: the kernel lacks IORING_FEAT_MIN_TIMEOUT, 6.12)",
                    ),
                    Inner::Epoll(_) => s.push_str(" (not in effect: epoll)"),
                }
            }
        }
        s
    }

    /// Whether min-wait batching was asked for and this backend does it.
    pub(crate) fn min_wait_in_effect(&self) -> bool {
        match &self.inner {
            Inner::Uring(d) => d.min_wait_in_effect(),
            Inner::Epoll(_) => false,
        }
    }

    /// Operations whose memory the kernel or a pool thread may still touch.
    pub(crate) fn in_flight(&self) -> usize {
        backend!(&self.inner, d => d.in_flight()) + self.orphans.len()
    }

    /// Fds with readiness state (epoll), for leak checks.
    pub(crate) fn registered_fds(&self) -> usize {
        backend!(&self.inner, d => d.registered_fds())
    }

    pub(crate) fn poll_ready(
        &mut self,
        fd: RawFd,
        interest: Interest,
        wait: &mut ReadyWait,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        backend!(&mut self.inner, d => d.poll_ready(fd, interest, wait, cx))
    }

    pub(crate) fn cancel_ready(&mut self, wait: ReadyWait) {
        backend!(&mut self.inner, d => d.cancel_ready(wait))
    }

    #[inline]
    pub(crate) fn maybe_ready(&self, fd: RawFd, interest: Interest) -> bool {
        backend!(&self.inner, d => d.maybe_ready(fd, interest))
    }

    pub(crate) fn not_ready(&mut self, fd: RawFd, interest: Interest) -> io::Result<()> {
        backend!(&mut self.inner, d => d.not_ready(fd, interest))
    }

    /// Closes `fd` without blocking the loop (a `CLOSE` SQE on io_uring).
    pub(crate) fn close_fd(&mut self, fd: RawFd) {
        backend!(&mut self.inner, d => d.close_fd(fd))
    }

    /// Forgets readiness state of `fd`, which the caller closes itself.
    pub(crate) fn forget_fd(&mut self, fd: RawFd) {
        backend!(&mut self.inner, d => d.forget_fd(fd))
    }

    /// A pool op's future was dropped before its job returned.
    pub(crate) fn orphan_job(&mut self, job: PoolJob, data: Box<dyn Orphan>) {
        self.orphans.adopt(job, data, &mut self.done);
    }

    /// One turn of the backend; see [`IoDriver::park`].
    pub(crate) fn park(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let r = backend!(&mut self.inner, d => d.park(timeout));
        self.orphans.reap(&mut self.done);
        self.metrics.ops_in_flight.set(self.in_flight() as u64);
        r
    }

    /// Submits queued SQEs without waiting; see [`IoDriver::flush`].
    pub(crate) fn flush(&mut self) {
        backend!(&mut self.inner, d => d.flush())
    }

    /// Hands out the wakers to wake and the orphans to finish; the caller
    /// runs both after releasing the driver.
    pub(crate) fn take_deferred(&mut self, wakes: &mut Vec<Waker>, done: &mut Vec<Finished>) {
        done.append(&mut self.done);
        backend!(&mut self.inner, d => d.take_deferred(wakes, done))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Pool jobs cannot be cancelled: wait for them (bounded), and leak
        // what is still running rather than free memory a job may write.
        self.orphans.drain(Instant::now() + DRAIN_LIMIT);
        self.done.drain(..).for_each(Finished::finish);
    }
}
