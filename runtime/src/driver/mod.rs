//! The driver seam: what the executor and every operation see of a backend.
//!
//! - [`OpCode`]: one operation, lowered twice — an SQE for the completion
//!   path, and a [`Fallback`] (try-then-wait-for-readiness, or the blocking
//!   pool) for the readiness path.
//! - [`Op<T>`]: the future a caller awaits; owns the operation value at a
//!   stable heap address; on drop hands it to the driver until the kernel's
//!   final completion. [`MultiOp<T>`] is its multishot stream.
//! - [`Driver`]: one per loop thread, an enum over the two backends, chosen
//!   here and nowhere else. A backend provides:
//!   1. `park(timeout)`: submit what is queued, wait for completions or
//!      readiness (not at all for a zero timeout, for ever for `None`),
//!      dispatch them, and be unparkable from another thread through the
//!      runtime's eventfd;
//!   2. `poll_ready(fd, interest)`: wake the caller when `fd` may be ready
//!      again after an `EAGAIN`;
//!   3. `close_fd(fd)` / `forget_fd(fd)`: retire an fd without blocking;
//!   4. `take_deferred`: hand out wakers and freed memory so they run with
//!      the driver released.
//!
//!   io_uring adds `submit`/`poll_op`/`orphan` for the completion path;
//!   epoll answers `supports(opcode) == false`, which sends every op down
//!   its fallback. Operations on the blocking pool are common to both and
//!   handled here: a dropped pool op's memory stays alive until its job ends.

mod epoll;
mod lifecycle;
mod multi;
mod op;
mod opcode;
pub mod ops;
mod orphan;
mod start;
mod uring;

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The io-uring crate, re-exported: an [`OpCode`] builds its SQE with it.
pub use io_uring;
pub use multi::MultiOp;
pub use op::Op;
pub use opcode::{BlockingJob, Completion, Fallback, Interest, MultishotOpCode, OpCode, NO_OPCODE};

use crate::blocking::Pool;
use crate::executor::JoinHandle;
use crate::metrics::LoopMetrics;
use crate::Backend;
pub(crate) use orphan::Done;
use orphan::{Nothing, Orphan};

/// A loop's driver, shared by the loop and the operations it runs.
pub(crate) type DriverRef = Rc<RefCell<Driver>>;

enum Inner {
    // Boxed: the ring driver is large and there is one per loop.
    Uring(Box<uring::UringDriver>),
    Epoll(epoll::EpollDriver),
}

/// A pool job whose operation future was dropped: the value stays here until
/// the job has returned, then consumes its result like an io_uring orphan.
/// The job's handle holds the loop's unpark waker, so its return ends the
/// driver's wait and the memory is released on that turn.
struct PoolOrphan {
    job: JoinHandle<io::Result<u32>>,
    data: Box<dyn Orphan>,
}

/// A pool job's output as the completion its operation consumes.
fn job_completion(out: Option<Result<io::Result<u32>, crate::JoinError>>) -> Completion {
    let result = out
        .unwrap_or_else(|| Err(crate::JoinError::cancelled()))
        .map_err(io::Error::from)
        .and_then(|r| r);
    Completion { result, flags: 0 }
}

impl PoolOrphan {
    fn into_done(self) -> Done {
        Done {
            data: self.data,
            cqes: vec![job_completion(self.job.try_take())],
        }
    }
}

/// One loop thread's driver.
pub(crate) struct Driver {
    inner: Inner,
    pool: Arc<Pool>,
    orphans: Vec<PoolOrphan>,
    done: Vec<Done>,
    /// Unparks this loop (from any thread).
    unpark: Waker,
    pub(crate) metrics: Arc<LoopMetrics>,
}

impl Driver {
    /// Builds the backend `kind` (never `Auto`).
    pub(crate) fn new(
        kind: Backend,
        ring_entries: u32,
        wake_fd: RawFd,
        pool: Arc<Pool>,
        unpark: Waker,
        metrics: Arc<LoopMetrics>,
    ) -> io::Result<Driver> {
        let inner = match kind {
            Backend::IoUring => Inner::Uring(Box::new(uring::UringDriver::new(
                ring_entries,
                wake_fd,
                metrics.clone(),
            )?)),
            Backend::Epoll => Inner::Epoll(epoll::EpollDriver::new(wake_fd, metrics.clone())?),
            Backend::Auto => unreachable!("Auto is resolved by the builder"),
        };
        Ok(Driver {
            inner,
            pool,
            orphans: Vec::new(),
            done: Vec::new(),
            unpark,
            metrics,
        })
    }

    pub(crate) fn kind(&self) -> Backend {
        match self.inner {
            Inner::Uring(_) => Backend::IoUring,
            Inner::Epoll(_) => Backend::Epoll,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match &self.inner {
            Inner::Uring(d) => d.describe(),
            Inner::Epoll(d) => d.describe(),
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

    /// Operations whose memory the kernel or a pool thread may still touch.
    pub(crate) fn in_flight(&self) -> usize {
        let n = match &self.inner {
            Inner::Uring(d) => d.in_flight(),
            Inner::Epoll(_) => 0,
        };
        n + self.orphans.len()
    }

    /// Fds with readiness state (epoll), for leak checks.
    pub(crate) fn registered_fds(&self) -> usize {
        match &self.inner {
            Inner::Uring(_) => 0,
            Inner::Epoll(d) => d.registered(),
        }
    }

    fn uring(&mut self) -> &mut uring::UringDriver {
        match &mut self.inner {
            Inner::Uring(d) => d,
            Inner::Epoll(_) => panic!("ringloop: completion path used on the epoll backend"),
        }
    }

    /// # Safety
    ///
    /// As [`uring::UringDriver::submit`]: the SQE's pointers stay valid until
    /// the final CQE, handed to [`orphan`](Self::orphan) if the caller stops
    /// waiting.
    pub(crate) unsafe fn submit(
        &mut self,
        e: io_uring::squeue::Entry,
        multi: bool,
    ) -> io::Result<u64> {
        // SAFETY: forwarded from the caller.
        unsafe { self.uring().submit(e, multi) }
    }

    pub(crate) fn poll_op(&mut self, key: u64, cx: &mut Context<'_>) -> Poll<Completion> {
        self.uring().poll_op(key, cx)
    }

    pub(crate) fn poll_multi(
        &mut self,
        key: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Completion>> {
        self.uring().poll_multi(key, cx)
    }

    pub(crate) fn orphan(&mut self, key: u64, data: Box<dyn Orphan>) -> Option<Done> {
        self.uring().orphan(key, data)
    }

    /// Waits for readiness after an `EAGAIN`. `wait` is the per-op state the
    /// io_uring backend needs (its `POLL_ADD` slot); release it with
    /// [`cancel_ready`](Self::cancel_ready).
    pub(crate) fn poll_ready(
        &mut self,
        fd: RawFd,
        interest: Interest,
        wait: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Uring(d) => d.poll_ready(fd, interest, wait, cx),
            Inner::Epoll(d) => d.poll_ready(fd, interest, cx),
        }
    }

    /// A readiness-path op ended without a result (its future was dropped):
    /// it counts as completed, and its `POLL_ADD` (io_uring) is cancelled.
    pub(crate) fn drop_ready(&mut self, wait: Option<u64>) {
        self.metrics.ops_completed.inc();
        self.cancel_ready(wait);
    }

    pub(crate) fn cancel_ready(&mut self, wait: Option<u64>) {
        if let (Some(key), Inner::Uring(d)) = (wait, &mut self.inner) {
            // A POLL_ADD owns no memory; the slot goes at its final CQE.
            drop(d.orphan(key, Box::new(Nothing)));
        }
    }

    /// Closes `fd` without blocking the loop (a `CLOSE` SQE on io_uring).
    pub(crate) fn close_fd(&mut self, fd: RawFd) {
        match &mut self.inner {
            Inner::Uring(d) => d.close_fd(fd),
            Inner::Epoll(d) => d.close_fd(fd),
        }
    }

    /// Forgets readiness state of `fd`, which the caller closes itself.
    pub(crate) fn forget_fd(&mut self, fd: RawFd) {
        if let Inner::Epoll(d) = &mut self.inner {
            d.forget_fd(fd);
        }
    }

    /// Queues a blocking job on the pool.
    pub(crate) fn spawn_job(&mut self, job: BlockingJob) -> JoinHandle<io::Result<u32>> {
        self.metrics.ops_submitted.inc();
        self.metrics.io_syscalls.inc();
        self.pool.spawn(job.0)
    }

    /// A pool op's future was dropped before its job returned.
    pub(crate) fn orphan_job(
        &mut self,
        mut job: JoinHandle<io::Result<u32>>,
        data: Box<dyn Orphan>,
    ) {
        // Register the unpark waker; a job that already returned is
        // finished on this turn.
        match Pin::new(&mut job).poll(&mut Context::from_waker(&self.unpark)) {
            Poll::Ready(out) => {
                self.metrics.ops_completed.inc();
                self.done.push(Done {
                    data,
                    cqes: vec![job_completion(Some(out))],
                });
            }
            Poll::Pending => self.orphans.push(PoolOrphan { job, data }),
        }
    }

    /// One turn of the backend; see the module docs.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let r = match &mut self.inner {
            Inner::Uring(d) => d.park(timeout),
            Inner::Epoll(d) => d.park(timeout),
        };
        self.metrics.ops_in_flight.set(self.in_flight() as u64);
        let mut i = 0;
        while i < self.orphans.len() {
            if self.orphans[i].job.is_finished() {
                let o = self.orphans.swap_remove(i);
                self.metrics.ops_completed.inc();
                self.done.push(o.into_done());
            } else {
                i += 1;
            }
        }
        r
    }

    /// Submits queued SQEs without waiting (io_uring), so fire-and-forget
    /// operations (closes) reach the kernel when the loop stops running.
    pub(crate) fn flush(&mut self) {
        if let Inner::Uring(d) = &mut self.inner {
            d.flush();
        }
    }

    /// Hands out the wakers to wake and the orphans to finish; the caller
    /// runs both after releasing the driver.
    pub(crate) fn take_deferred(&mut self, wakes: &mut Vec<Waker>, done: &mut Vec<Done>) {
        done.append(&mut self.done);
        match &mut self.inner {
            Inner::Uring(d) => d.take_deferred(wakes, done),
            Inner::Epoll(d) => d.take_deferred(wakes),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Pool jobs cannot be cancelled: wait for them (bounded), and leak
        // what is still running rather than free memory a job may write.
        let deadline = Instant::now() + Duration::from_secs(10);
        for o in std::mem::take(&mut self.orphans) {
            if o.job.wait_until(deadline) {
                o.into_done().finish();
            } else {
                std::mem::forget(o);
            }
        }
        self.done.drain(..).for_each(Done::finish);
    }
}
