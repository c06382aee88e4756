//! The per-thread executor: a task table and a local run queue, plus the
//! remote queue other threads feed ([`shared::Shared`]).
//!
//! Tasks never migrate: one spawned on a thread is polled only there, so it
//! may hold `Rc` and `RefCell`. The executor knows no loop, driver or timer:
//! the event loop (`event_loop/`) pops a task, takes its future, polls it
//! (timing the poll) and puts it back or finishes it. A wake on the owning
//! thread pushes to this executor's run queue, found through a thread-local
//! the loop sets while it runs ([`Executor::enter`]); a wake from any other
//! thread goes through the remote queue and unparks the loop.
//!
//! Fairness has two levels: the loop polls at most a budget of tasks per
//! turn, and within one poll [`coop`] limits the operations a task may
//! complete without waiting.

pub(crate) mod coop;
mod join;
mod join_error;
pub(crate) mod shared;
mod task;
mod yield_now;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Waker;

use slab::Slab;

pub(crate) use join::BlockingJoin;
pub use join::{JoinError, JoinHandle};
pub(crate) use task::{MainTask, Task, TaskCell};
pub use yield_now::yield_now;

use shared::{Remote, Shared};

/// Key of the future passed to `block_on` (never a task-table key).
pub(crate) const MAIN_KEY: usize = usize::MAX;

/// A queued or tabled task.
pub(crate) type TaskRef = Arc<dyn Task>;

/// The run queue, shared (`Rc`) with the thread-local same-thread wakes
/// push to.
pub(crate) struct RunQueue {
    /// The loop this queue belongs to (its `Shared::id`).
    id: usize,
    queue: RefCell<VecDeque<TaskRef>>,
    /// The loop's clock reading (ticks) when it last looked: the time a
    /// task is queued, for the loop-lag histogram.
    now: Cell<u64>,
}

thread_local! {
    static LOCAL: RefCell<Option<Rc<RunQueue>>> = const { RefCell::new(None) };
}

/// Pushes `t` to the run queue of the loop running on this thread if it is
/// the loop `id`; gives it back otherwise (the caller queues it remotely).
pub(crate) fn push_local(id: usize, t: TaskRef) -> Result<(), TaskRef> {
    let mut t = Some(t);
    let _ = LOCAL.try_with(|l| {
        if let Some(q) = &*l.borrow() {
            if q.id == id {
                let t = t.take().expect("taken once");
                t.header()
                    .scheduled_at
                    .store(q.now.get(), Ordering::Relaxed);
                q.queue.borrow_mut().push_back(t);
            }
        }
    });
    match t {
        None => Ok(()),
        Some(t) => Err(t),
    }
}

/// While alive, same-thread wakes go to this executor's run queue.
pub(crate) struct Entered {
    prev: Option<Rc<RunQueue>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = LOCAL.try_with(|l| *l.borrow_mut() = prev);
    }
}

pub(crate) struct Executor {
    /// Every live task (one reference each): what shutdown drops.
    tasks: RefCell<Slab<TaskRef>>,
    run: Rc<RunQueue>,
    remote: RefCell<VecDeque<Remote>>,
    /// Woken when the last task finishes (graceful shutdown waits on it).
    idle: RefCell<Option<Waker>>,
}

impl Executor {
    /// An executor for the loop `id` (its `Shared::id`).
    pub(crate) fn new(id: usize) -> Self {
        Executor {
            tasks: RefCell::default(),
            run: Rc::new(RunQueue {
                id,
                queue: RefCell::default(),
                now: Cell::new(0),
            }),
            remote: RefCell::default(),
            idle: RefCell::default(),
        }
    }

    /// Makes this the executor that same-thread wakes reach.
    pub(crate) fn enter(&self) -> Entered {
        let prev = LOCAL.with(|l| l.borrow_mut().replace(self.run.clone()));
        Entered { prev }
    }

    /// The loop's last clock reading, in ticks.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.run.now.get()
    }

    #[inline]
    pub(crate) fn set_now(&self, ticks: u64) {
        self.run.now.set(ticks);
    }

    pub(crate) fn push(&self, t: TaskRef) {
        t.header().scheduled_at.store(self.now(), Ordering::Relaxed);
        self.run.queue.borrow_mut().push_back(t);
    }

    pub(crate) fn pop(&self) -> Option<TaskRef> {
        self.run.queue.borrow_mut().pop_front()
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.run.queue.borrow().is_empty()
    }

    /// Tasks alive (spawned and not finished).
    pub(crate) fn alive(&self) -> usize {
        self.tasks.borrow().len()
    }

    pub(crate) fn set_idle_waker(&self, w: &Waker) {
        *self.idle.borrow_mut() = Some(w.clone());
    }

    /// Spawns `fut`, owned by the loop `owner`: one allocation (the task
    /// cell), which the handle shares.
    pub(crate) fn spawn<F>(
        &self,
        owner: &Arc<Shared>,
        fut: F,
        at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let cell = TaskCell::new(fut, owner.clone(), at);
        self.insert(cell.clone());
        JoinHandle::new(cell)
    }

    /// Adds a task whose future is installed to the table and queues it.
    pub(crate) fn insert(&self, t: TaskRef) {
        {
            let mut tasks = self.tasks.borrow_mut();
            let entry = tasks.vacant_entry();
            t.header().set_key(entry.key());
            entry.insert(t.clone());
        }
        t.header().scheduled.store(true, Ordering::Release);
        self.push(t);
    }

    /// The task `key` finished: its slot goes.
    pub(crate) fn finish(&self, key: usize) {
        let slot = self.tasks.borrow_mut().try_remove(key);
        drop(slot);
        if self.tasks.borrow().is_empty() {
            let w = self.idle.borrow_mut().take();
            if let Some(w) = w {
                w.wake();
            }
        }
    }

    /// Takes work other threads queued for this loop; returns the number of
    /// remote wakes.
    pub(crate) fn drain_remote(&self, shared: &Shared) -> u64 {
        let mut remote = std::mem::take(&mut *self.remote.borrow_mut());
        shared.drain(&mut remote);
        let mut wakes = 0;
        for r in remote.drain(..) {
            match r {
                Remote::Wake(h) => {
                    wakes += 1;
                    self.push(h);
                }
                Remote::Spawn(f) => f(),
            }
        }
        *self.remote.borrow_mut() = remote;
        wakes
    }

    /// Drops every task's future (their operations are cancelled by their
    /// drops) and everything queued; returns how many tasks were alive.
    /// Runs with the loop current, before the driver drains. Destructors
    /// may spawn or wake: repeat until nothing is left.
    pub(crate) fn shutdown(&self, shared: &Shared) -> usize {
        let mut remote = shared.close();
        let mut cancelled = 0;
        for _ in 0..16 {
            let tasks: Vec<TaskRef> = self.tasks.borrow_mut().drain().collect();
            let queued: Vec<_> = self.run.queue.borrow_mut().drain(..).collect();
            remote.append(&mut self.remote.borrow_mut());
            if tasks.is_empty() && queued.is_empty() && remote.is_empty() {
                break;
            }
            cancelled += tasks.len();
            tasks.iter().for_each(|t| t.drop_future());
            drop(tasks);
            drop(queued);
            remote.clear();
        }
        cancelled
    }
}

impl Drop for Executor {
    /// Futures are dropped on the loop's thread, whoever holds the last
    /// reference to their cell (see `task`): drop any still here.
    fn drop(&mut self) {
        let tasks: Vec<TaskRef> = self.tasks.get_mut().drain().collect();
        tasks.iter().for_each(|t| t.drop_future());
    }
}
