//! The per-thread executor: a task table, a local run queue, and the loop
//! that alternates between polling ready tasks and parking the driver.
//!
//! Tasks never migrate: one spawned on a thread is polled only there, so it
//! may hold `Rc` and `RefCell`. Fairness: one loop turn polls at most
//! [`BUDGET`] tasks, then fires due timers and turns the driver (without
//! waiting, when tasks are still ready), so a flood of ready tasks cannot
//! starve I/O or timers.

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

pub(crate) use join::JoinInner;
pub use join::{JoinError, JoinHandle};
pub(crate) use run::run;
pub(crate) use task::TaskFuture;
pub use yield_now::yield_now;

use crate::metrics::LoopMetrics;
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

    /// Spawns `fut` on this loop.
    pub(crate) fn spawn<F>(
        &self,
        shared: &Arc<Shared>,
        metrics: &LoopMetrics,
        fut: F,
        at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let join = JoinInner::new();
        self.spawn_task(
            shared,
            metrics,
            TaskFuture::new(fut, join.clone()),
            &join,
            at,
        );
        JoinHandle::new(join)
    }

    /// Inserts a ready-made task whose join state is `join`.
    pub(crate) fn spawn_task<F: Future + 'static>(
        &self,
        shared: &Arc<Shared>,
        metrics: &LoopMetrics,
        task: TaskFuture<F>,
        join: &JoinInner<F::Output>,
        at: &'static Location<'static>,
    ) {
        let header = {
            let mut tasks = self.tasks.borrow_mut();
            let entry = tasks.vacant_entry();
            let header = Header::new(entry.key(), shared.clone(), at);
            entry.insert(TaskSlot {
                header: header.clone(),
                fut: Some(Box::pin(task)),
            });
            header
        };
        join.set_task_waker(Waker::from(header.clone()));
        metrics.tasks_spawned.inc();
        self.push(header);
    }

    /// Polls one queued task, if it still exists.
    fn poll_task(&self, h: Arc<Header>, metrics: &LoopMetrics) {
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
        let waker = Waker::from(h);
        metrics.tasks_polled.inc();
        let done = fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready();
        if done {
            let slot = self.tasks.borrow_mut().remove(key);
            metrics.tasks_completed.inc();
            drop(slot);
            drop(fut);
        } else if let Some(slot) = self.tasks.borrow_mut().get_mut(key) {
            slot.fut = Some(fut);
        }
    }

    /// Takes work other threads queued for this loop.
    fn drain_remote(&self, shared: &Shared, metrics: &LoopMetrics) {
        let mut remote = std::mem::take(&mut *self.remote.borrow_mut());
        shared.drain(&mut remote);
        for r in remote.drain(..) {
            match r {
                Remote::Wake(h) => {
                    metrics.remote_wakes.inc();
                    self.push(h);
                }
                Remote::Spawn(f) => f(),
            }
        }
        *self.remote.borrow_mut() = remote;
    }

    /// Drops every task (their operations are cancelled by their drops) and
    /// everything queued. Runs with the loop current, before the driver
    /// drains. Destructors may spawn or wake: repeat until nothing is left.
    pub(crate) fn shutdown(&self, shared: &Shared) {
        let mut remote = shared.close();
        for _ in 0..16 {
            let tasks: Vec<TaskSlot> = self.tasks.borrow_mut().drain().collect();
            let queued: Vec<_> = self.queue.borrow_mut().drain(..).collect();
            remote.append(&mut self.remote.borrow_mut());
            if tasks.is_empty() && queued.is_empty() && remote.is_empty() {
                break;
            }
            drop(tasks);
            drop(queued);
            remote.clear();
        }
    }
}
