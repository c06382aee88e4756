//! [`MultiOp<T>`]: the stream of a multishot operation.

use std::fmt;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::opcode::{Completion, Interest, MultishotOpCode};
use super::orphan::Multi;
use super::start::{poll_readiness, start, Started};
use super::{Done, DriverRef};

enum State {
    Unsubmitted,
    /// One SQE, many CQEs, under slot `key`.
    InFlight {
        key: u64,
    },
    /// Fallback: repeated `try_io`, waiting for readiness in between.
    Readiness {
        fd: RawFd,
        interest: Interest,
        wait: Option<u64>,
    },
    /// The final completion was yielded.
    Done,
}

/// The stream of a [`MultishotOpCode`]: one item per completion.
///
/// On io_uring it is one multishot SQE; the kernel ends it (a CQE without
/// `IORING_CQE_F_MORE`, usually after an error or when it runs out of
/// resources) and the stream ends after yielding that last item — the caller
/// may start a new one. On the fallback path every item is one `try_io`, and
/// the stream ends after the first error it yields, which keeps the two
/// paths alike.
///
/// Dropping the stream cancels the operation; its value stays in the
/// driver's slot until the kernel's final CQE. Completions queued and not
/// yet yielded, and those that arrive before the final one, still go through
/// [`MultishotOpCode::item`] and the items are dropped at once — so a
/// connection a multishot accept returned too late is closed, not leaked.
#[must_use = "streams do nothing unless polled"]
pub struct MultiOp<T: MultishotOpCode> {
    data: Option<Box<T>>,
    state: State,
    driver: Option<DriverRef>,
}

impl<T: MultishotOpCode> Unpin for MultiOp<T> {}

impl<T: MultishotOpCode> MultiOp<T> {
    /// Wraps a multishot operation; nothing happens until the first poll.
    pub fn new(op: T) -> Self {
        MultiOp {
            data: Some(Box::new(op)),
            state: State::Unsubmitted,
            driver: None,
        }
    }

    fn item(&mut self, c: Completion) -> T::Item {
        if let Some(d) = &self.driver {
            d.borrow().metrics.opcodes.completed(T::CODE);
        }
        crate::context::coop_spend();
        self.data
            .as_mut()
            .expect("value present until done")
            .item(c)
    }

    fn start(&mut self) -> Result<(), Completion> {
        let data = self.data.as_mut().expect("value present");
        self.state = match start(&mut **data, true, &mut self.driver)? {
            Started::InFlight(key) => State::InFlight { key },
            Started::Readiness { fd, interest } => State::Readiness {
                fd,
                interest,
                wait: None,
            },
            Started::Pool(_) => unreachable!("start() refuses the pool path for multishot ops"),
        };
        Ok(())
    }
}

impl<T: MultishotOpCode> Stream for MultiOp<T> {
    type Item = T::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        if crate::context::coop_poll(self.driver.as_ref(), cx).is_pending() {
            return Poll::Pending;
        }
        let this = self.get_mut();
        if let State::Unsubmitted = this.state {
            if let Err(c) = this.start() {
                this.state = State::Done;
                return Poll::Ready(Some(this.item(c)));
            }
        }
        let Some(driver) = this.driver.clone() else {
            return Poll::Ready(None);
        };
        match &mut this.state {
            State::InFlight { key } => {
                let r = driver.borrow_mut().poll_multi(*key, cx);
                match r {
                    Poll::Ready(Some(c)) => Poll::Ready(Some(this.item(c))),
                    Poll::Ready(None) => {
                        this.state = State::Done;
                        Poll::Ready(None)
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
            State::Readiness { fd, interest, wait } => {
                let data = this.data.as_mut().expect("value present until done");
                match poll_readiness(&driver, &mut **data, (*fd, *interest), wait, cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(c) => {
                        // Like a kernel multishot, the stream ends after an
                        // error; the operation counts as completed once, at
                        // its end, as on io_uring.
                        if c.result.is_err() {
                            this.state = State::Done;
                            driver.borrow().metrics.ops_completed.inc();
                        }
                        Poll::Ready(Some(this.item(c)))
                    }
                }
            }
            State::Done => Poll::Ready(None),
            State::Unsubmitted => unreachable!("started above"),
        }
    }
}

impl<T: MultishotOpCode> Drop for MultiOp<T> {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Done);
        let Some(driver) = self.driver.take() else {
            return;
        };
        let finish_now: Option<Done> = match state {
            State::InFlight { key } => {
                let data = Box::new(Multi(
                    self.data.take().expect("in-flight op owns its value"),
                ));
                driver.borrow_mut().orphan(key, data)
            }
            State::Readiness { wait, .. } => {
                driver.borrow_mut().drop_ready(wait);
                None
            }
            State::Unsubmitted | State::Done => None,
        };
        if let Some(done) = finish_now {
            done.finish();
        }
    }
}

impl<T: MultishotOpCode> fmt::Debug for MultiOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Unsubmitted => "Unsubmitted",
            State::InFlight { .. } => "InFlight",
            State::Readiness { .. } => "Readiness",
            State::Done => "Done",
        };
        f.debug_struct("MultiOp").field("state", &state).finish()
    }
}
