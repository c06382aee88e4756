//! [`Op<T>`]: the future of one operation.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::opcode::{Completion, Interest, OpCode};
use super::orphan::Single;
use super::start::{poll_readiness, start, Started};
use super::{Done, DriverRef};
use crate::executor::JoinHandle;

/// Where an operation is in its life.
enum State {
    /// Not polled yet: nothing submitted, nothing owned by anyone else.
    Unsubmitted,
    /// On the completion path: the SQE is queued or in the kernel, under
    /// slot `key`. The kernel may read or write the value's memory.
    InFlight { key: u64 },
    /// On the readiness path: the last `try_io` said `WouldBlock`; waiting
    /// for `fd` (and, on io_uring, for the `POLL_ADD` in slot `wait`).
    Readiness {
        fd: RawFd,
        interest: Interest,
        wait: Option<u64>,
    },
    /// On the blocking pool: a pool thread may read or write the value's
    /// memory until the job returns.
    Pool(JoinHandle<io::Result<u32>>),
    /// The output was returned.
    Done,
}

/// The future of one [`OpCode`]: resolves to `T::Output`.
///
/// The first poll starts the operation on the current loop's driver: an SQE
/// on io_uring when the kernel has the opcode, else its [`Fallback`].
///
/// **Dropping an `Op` before it completes** cancels the operation, never
/// frees memory under the kernel: on the completion path the value (with
/// its buffers) moves into the driver's slot and an `ASYNC_CANCEL` is
/// queued; it is freed at the final CQE. On the pool path it is freed when
/// the job returns. On the readiness path nothing is in flight and it is
/// freed at once. Whether the operation took effect before the cancellation
/// reached it (bytes read into the buffer, a connection accepted) depends on
/// the operation; each op documents it.
///
/// # Panics
///
/// When polled outside the loop that started it (on another runtime of
/// the same thread, or after that runtime's `block_on` returned): its
/// completion can only arrive on that loop. The same on both backends.
#[must_use = "an Op does nothing until awaited"]
pub struct Op<T: OpCode> {
    data: Option<Box<T>>,
    state: State,
    driver: Option<DriverRef>,
}

impl<T: OpCode> Unpin for Op<T> {}

impl<T: OpCode> Op<T> {
    /// Wraps an operation value; nothing happens until the first poll.
    pub fn new(op: T) -> Self {
        Op {
            data: Some(Box::new(op)),
            state: State::Unsubmitted,
            driver: None,
        }
    }

    fn finish(&mut self, c: Completion) -> Poll<T::Output> {
        // The io_uring driver counts completions as it reaps CQEs.
        let counted = matches!(self.state, State::InFlight { .. });
        self.state = State::Done;
        let data = self.data.take().expect("ringloop: Op value taken twice");
        if let Some(d) = &self.driver {
            let d = d.borrow();
            if !counted {
                d.metrics.ops_completed.inc();
            }
            d.metrics.opcodes.completed(T::CODE);
        }
        crate::context::coop_spend();
        Poll::Ready((*data).complete(c))
    }

    fn start(&mut self) -> Result<(), Completion> {
        let data = self.data.as_mut().expect("ringloop: Op value missing");
        self.state = match start(&mut **data, false, &mut self.driver)? {
            Started::InFlight(key) => State::InFlight { key },
            Started::Readiness { fd, interest } => State::Readiness {
                fd,
                interest,
                wait: None,
            },
            Started::Pool(job) => State::Pool(job),
        };
        Ok(())
    }
}

impl<T: OpCode> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        // A task that completed many operations without waiting yields.
        if crate::context::coop_poll(self.driver.as_ref(), cx).is_pending() {
            return Poll::Pending;
        }
        let this = self.get_mut();
        if let State::Unsubmitted = this.state {
            if let Err(c) = this.start() {
                return this.finish(c);
            }
        }
        let driver = this.driver.clone().expect("started ops have a driver");
        match &mut this.state {
            State::InFlight { key } => {
                let r = driver.borrow_mut().poll_op(*key, cx);
                match r {
                    Poll::Ready(c) => this.finish(c),
                    Poll::Pending => Poll::Pending,
                }
            }
            State::Readiness { fd, interest, wait } => {
                let data = this.data.as_mut().expect("value present until done");
                match poll_readiness(&driver, &mut **data, (*fd, *interest), wait, cx) {
                    Poll::Ready(c) => this.finish(c),
                    Poll::Pending => Poll::Pending,
                }
            }
            State::Pool(job) => match Pin::new(job).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(r) => {
                    let result = r.map_err(io::Error::from).and_then(|r| r);
                    this.finish(Completion { result, flags: 0 })
                }
            },
            State::Unsubmitted => unreachable!("started above"),
            State::Done => panic!("ringloop: Op polled after it completed"),
        }
    }
}

impl<T: OpCode> Drop for Op<T> {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Done);
        let Some(driver) = self.driver.take() else {
            return;
        };
        let finish_now: Option<Done> = match state {
            State::InFlight { key } => {
                let data = Box::new(Single(
                    self.data.take().expect("in-flight op owns its value"),
                ));
                driver.borrow_mut().orphan(key, data)
            }
            State::Pool(job) => {
                let data = Box::new(Single(self.data.take().expect("pool op owns its value")));
                // Even a finished job's result must be consumed (an fd).
                driver.borrow_mut().orphan_job(job, data);
                None
            }
            State::Readiness { wait, .. } => {
                driver.borrow_mut().drop_ready(wait);
                None
            }
            State::Unsubmitted | State::Done => None,
        };
        // The value's destructors run with the driver released.
        if let Some(done) = finish_now {
            done.finish();
        }
    }
}

impl<T: OpCode> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Unsubmitted => "Unsubmitted",
            State::InFlight { .. } => "InFlight",
            State::Readiness { .. } => "Readiness",
            State::Pool(_) => "Pool",
            State::Done => "Done",
        };
        f.debug_struct("Op").field("state", &state).finish()
    }
}
