//! The per-thread executor: a task table, a local run queue, and the loop
//! that alternates between polling ready tasks and parking the driver.
//!
//! Tasks never migrate: one spawned on a thread is polled only there, so it
//! may hold `Rc` and `RefCell`. Fairness has two levels: one loop turn polls
//! at most [`BUDGET`] tasks, then fires due timers and turns the driver
//! (without waiting, when tasks are still ready); and within one poll a task
//! may complete at most `COOP_BUDGET` operations without waiting before its
//! next operation yields, so a task reading an always-ready socket on epoll
//! cannot starve I/O, timers and other tasks either.

mod drained;
mod join;
mod run;
pub(crate) mod shared;
mod task;
mod yield_now;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Waker};

use slab::Slab;

pub(crate) use drained::Drained;
pub(crate) use join::JoinInner;
pub use join::{JoinError, JoinHandle};
pub(crate) use run::run;
pub(crate) use task::TaskFuture;
pub use yield_now::yield_now;

use crate::context::{LoopCtx, COOP_BUDGET};
use crate::metrics::StallReport;
use shared::{Remote, Shared};
use task::Header;

/// Task polls per loop turn before I/O and timers are checked again.
pub(crate) const BUDGET: usize = 128;

type BoxTask = Pin<Box<dyn Future<Output = ()>>>;

struct TaskSlot {
    header: Arc<Header>,
    /// `None` while the task is being polled.
    fut: Option<BoxTask>,
}

#[derive(Default)]
pub(crate) struct Executor {
    tasks: RefCell<Slab<TaskSlot>>,
    queue: RefCell<VecDeque<Arc<Header>>>,
    remote: RefCell<VecDeque<Remote>>,
    /// Woken when the last task finishes (graceful shutdown waits on it).
    idle: RefCell<Option<Waker>>,
}

impl Executor {
    pub(crate) fn push(&self, h: Arc<Header>) {
        self.queue.borrow_mut().push_back(h);
    }

    fn pop(&self) -> Option<Arc<Header>> {
        self.queue.borrow_mut().pop_front()
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.queue.borrow().is_empty()
    }

    pub(crate) fn alive(&self) -> usize {
        self.tasks.borrow().len()
    }

    pub(crate) fn set_idle_waker(&self, w: &Waker) {
        *self.idle.borrow_mut() = Some(w.clone());
    }

    /// Spawns `fut` on the loop `lc`.
    pub(crate) fn spawn<F>(
        &self,
        lc: &LoopCtx,
        fut: F,
        at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let join = JoinInner::new();
        self.spawn_task(lc, TaskFuture::new(fut, join.clone()), &join, at);
        JoinHandle::new(join)
    }

    /// Inserts a ready-made task whose join state is `join`.
    pub(crate) fn spawn_task<F: Future + 'static>(
        &self,
        lc: &LoopCtx,
        task: TaskFuture<F>,
        join: &JoinInner<F::Output>,
        at: &'static Location<'static>,
    ) {
        let header = {
            let mut tasks = self.tasks.borrow_mut();
            let entry = tasks.vacant_entry();
            let header = Header::new(entry.key(), lc.shared.clone(), at);
            header
                .scheduled_at
                .store(lc.now_ticks.get(), Ordering::Relaxed);
            entry.insert(TaskSlot {
                header: header.clone(),
                fut: Some(Box::pin(task)),
            });
            header
        };
        join.set_task_waker(Waker::from(header.clone()));
        lc.metrics.tasks_spawned.inc();
        self.push(header);
    }

    /// Polls one queued task, if it still exists.
    fn poll_task(&self, h: Arc<Header>, lc: &LoopCtx) {
        let key = h.key;
        let fut = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get_mut(key) {
                Some(slot) if Arc::ptr_eq(&slot.header, &h) => slot.fut.take(),
                _ => None,
            }
        };
        let Some(mut fut) = fut else {
            return;
        };
        h.scheduled.store(false, Ordering::Release);
        let at = h.spawned_at;
        let queued_at = h.scheduled_at.load(Ordering::Relaxed);
        let waker = Waker::from(h);
        let done = timed(lc, at, queued_at, || {
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        });
        if done {
            let slot = self.tasks.borrow_mut().remove(key);
            lc.metrics.tasks_completed.inc();
            drop(slot);
            drop(fut);
            if self.tasks.borrow().is_empty() {
                let w = self.idle.borrow_mut().take();
                if let Some(w) = w {
                    w.wake();
                }
            }
        } else if let Some(slot) = self.tasks.borrow_mut().get_mut(key) {
            slot.fut = Some(fut);
        }
    }

    /// Takes work other threads queued for this loop.
    fn drain_remote(&self, lc: &LoopCtx) {
        let mut remote = std::mem::take(&mut *self.remote.borrow_mut());
        lc.shared.drain(&mut remote);
        for r in remote.drain(..) {
            match r {
                Remote::Wake(h) => {
                    lc.metrics.remote_wakes.inc();
                    h.scheduled_at.store(lc.now_ticks.get(), Ordering::Relaxed);
                    self.push(h);
                }
                Remote::Spawn(f) => f(),
            }
        }
        *self.remote.borrow_mut() = remote;
    }

    /// Drops every task (their operations are cancelled by their drops) and
    /// everything queued; returns how many tasks were alive. Runs with the
    /// loop current, before the driver drains. Destructors may spawn or
    /// wake: repeat until nothing is left.
    pub(crate) fn shutdown(&self, shared: &Shared) -> usize {
        let mut remote = shared.close();
        let mut cancelled = 0;
        for _ in 0..16 {
            let tasks: Vec<TaskSlot> = self.tasks.borrow_mut().drain().collect();
            let queued: Vec<_> = self.queue.borrow_mut().drain(..).collect();
            remote.append(&mut self.remote.borrow_mut());
            if tasks.is_empty() && queued.is_empty() && remote.is_empty() {
                break;
            }
            cancelled += tasks.len();
            drop(tasks);
            drop(queued);
            remote.clear();
        }
        cancelled
    }
}

/// Runs one poll with the loop-health bookkeeping: the cooperative budget,
/// the lag since the task was queued, the poll's duration, the longest
/// poll and the stall detector.
#[inline]
pub(crate) fn timed<R>(
    lc: &LoopCtx,
    at: &'static Location<'static>,
    queued_at: u64,
    poll: impl FnOnce() -> R,
) -> R {
    lc.coop.set(COOP_BUDGET);
    lc.metrics.tasks_polled.inc();
    if !lc.health.timing {
        return poll();
    }
    let start = lc.now_ticks.get();
    // Task lag is sampled, one poll in 16 (timer lateness is always
    // recorded): enough for the percentiles, at a sixteenth of the cost.
    if lc.metrics.tasks_polled.get() & 15 == 0 {
        lc.metrics.lag.record(start.saturating_sub(queued_at));
    }
    let r = poll();
    let ticks = lc.clock().saturating_sub(start);
    if ticks > lc.slow_ticks.get() {
        slow_poll(lc, ticks, at);
    }
    r
}

/// A poll longer than the longest so far or than the stall threshold.
#[cold]
fn slow_poll(lc: &LoopCtx, ticks: u64, at: &'static Location<'static>) {
    lc.metrics.poll_took(ticks, at);
    let longest = lc.metrics.longest_poll_ticks();
    lc.slow_ticks
        .set(lc.stall_ticks.map_or(longest, |s| s.min(longest)));
    if let Some(limit) = lc.stall_ticks {
        if ticks > limit {
            lc.metrics.stalls.inc();
            if let Some(hook) = &lc.health.on_stall {
                hook(&StallReport {
                    duration: std::time::Duration::from_nanos(crate::metrics::clock::to_ns(ticks)),
                    spawned_at: at,
                    loop_index: lc.index,
                });
            }
        }
    }
}
