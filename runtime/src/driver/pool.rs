//! The pool path of operations: an op whose syscall may block (a regular
//! file's read or write, `open`, `statx`, `fsync`, on epoll; an op whose
//! opcode the kernel lacks, on io_uring) runs as a job on the runtime's
//! blocking pool.
//!
//! - [`PoolJob`] is what the op holds while its job runs: the job's
//!   completion cell, shared with the pool thread (the result, the waker to
//!   wake, and a condvar that only the driver's drop waits on).
//! - A dropped op's value goes to [`PoolOrphans`] until its job has
//!   returned, since the job may still read or write the value's memory
//!   (its buffer, its path). The job wakes the loop's unpark waker when it
//!   returns, so the value is finished on the next turn, with its result
//!   consumed like any orphan's (an `open` that succeeded closes its fd).
//! - A full queue is backpressure, not an error: the job waits in the
//!   pool's waiting line ([`Pool::run_or_wait`]) and the op stays pending
//!   until a worker has taken and run it, so a read never fails because
//!   many others are in flight. An op dropped while its job still waits
//!   withdraws the job, which then never runs (nothing touched the value,
//!   so it is finished at once with `ECANCELED`); an op dropped after its
//!   job was queued waits for it like any orphan.
//! - A job the pool refuses (it is shutting down, or cannot start a
//!   thread) completes at once with an error.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::op::{Finished, Orphan};
use super::opcode::{BlockingJob, Completion};
use crate::blocking::{Pool, Ticket};

#[derive(Default)]
struct JobState {
    /// The job's result, until the op (or the driver) takes it.
    result: Option<io::Result<u32>>,
    finished: bool,
    /// Woken when the job returns: the op's task, or the loop's unpark
    /// waker for an orphan.
    waker: Option<Waker>,
}

#[derive(Default)]
struct JobCell {
    state: Mutex<JobState>,
    /// Signalled when the job returns; waited on by the driver's drop only.
    done: Condvar,
}

impl JobCell {
    fn lock(&self) -> MutexGuard<'_, JobState> {
        // No user code runs under the lock; never propagate poison.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn complete(&self, result: io::Result<u32>) {
        let waker = {
            let mut st = self.lock();
            st.result = Some(result);
            st.finished = true;
            st.waker.take()
        };
        self.done.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// An op's job on the blocking pool, with its place in the pool's waiting
/// line while the queue is full.
pub(crate) struct PoolJob(Arc<JobCell>, Option<Ticket>);

impl PoolJob {
    /// Queues `job` on `pool`, or puts it in line for room.
    pub(crate) fn start(pool: &Arc<Pool>, job: BlockingJob) -> PoolJob {
        let cell = Arc::new(JobCell::default());
        let c = cell.clone();
        let f = job.0;
        let run = pool.run_or_wait(
            move || {
                catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<&str>()
                        .copied()
                        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                        .unwrap_or("non-string payload");
                    Err(io::Error::other(format!("blocking job panicked: {msg}")))
                })
            },
            move |r| c.complete(r),
        );
        match run {
            Ok(ticket) => PoolJob(cell, ticket),
            Err(why) => {
                cell.complete(Err(io::Error::other(format!(
                    "blocking job rejected: {why}"
                ))));
                PoolJob(cell, None)
            }
        }
    }

    /// The job's result once it returned.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<u32>> {
        let mut st = self.0.lock();
        if st.finished {
            return Poll::Ready(st.result.take().unwrap_or_else(|| {
                Err(io::Error::other("ringloop: pool job result taken twice"))
            }));
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Registers `waker` for the job's return; `true` if it returned, or
    /// if it was still waiting for queue room and is now withdrawn (it will
    /// never run; its result is `ECANCELED`).
    fn watch(&self, waker: &Waker) -> bool {
        if self.1.as_ref().is_some_and(Ticket::withdraw) {
            self.0
                .complete(Err(io::Error::from_raw_os_error(libc::ECANCELED)));
            return true;
        }
        let mut st = self.0.lock();
        if !st.finished {
            st.waker = Some(waker.clone());
        }
        st.finished
    }

    fn is_finished(&self) -> bool {
        self.0.lock().finished
    }

    /// The result as the completion the orphan consumes.
    fn completion(&self) -> Completion {
        let result = self
            .0
            .lock()
            .result
            .take()
            .unwrap_or_else(|| Err(io::Error::from_raw_os_error(libc::ECANCELED)));
        Completion { result, flags: 0 }
    }

    /// Blocks until the job returns or `deadline` passes; `true` if it
    /// returned. For the driver's drop only, never on a running loop.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut st = self.0.lock();
        while !st.finished {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .0
                .done
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// Dropped pool ops whose jobs still run: each value stays here until its
/// job returns.
pub(crate) struct PoolOrphans {
    waiting: Vec<(PoolJob, Box<dyn Orphan>)>,
    /// Unparks the loop (from the pool thread).
    unpark: Waker,
}

impl PoolOrphans {
    pub(crate) fn new(unpark: Waker) -> Self {
        PoolOrphans {
            waiting: Vec::new(),
            unpark,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Takes the value of a dropped op; one whose job already returned is
    /// finished on this turn.
    pub(crate) fn adopt(&mut self, job: PoolJob, data: Box<dyn Orphan>, done: &mut Vec<Finished>) {
        if job.watch(&self.unpark) {
            done.push(Finished::new(data, vec![job.completion()]));
        } else {
            self.waiting.push((job, data));
        }
    }

    /// Moves the orphans whose job returned to `done`.
    pub(crate) fn reap(&mut self, done: &mut Vec<Finished>) {
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].0.is_finished() {
                let (job, data) = self.waiting.swap_remove(i);
                done.push(Finished::new(data, vec![job.completion()]));
            } else {
                i += 1;
            }
        }
    }

    /// For the driver's drop: pool jobs cannot be cancelled, so wait for
    /// them until `deadline`, finishing each; a job still running then is
    /// leaked with its value rather than freed under it.
    pub(crate) fn drain(&mut self, deadline: Instant) {
        for (job, data) in std::mem::take(&mut self.waiting) {
            if job.wait_until(deadline) {
                Finished::new(data, vec![job.completion()]).finish();
            } else {
                std::mem::forget((job, data));
            }
        }
    }
}
