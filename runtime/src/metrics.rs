//! Loop counters, readable as a snapshot from code.
//!
//! Each loop thread owns one [`LoopMetrics`] and is its only writer, so a
//! counter is a relaxed load and store (a plain `mov` on x86), never a locked
//! read-modify-write. Other threads read them through
//! [`Runtime::metrics`](crate::Runtime::metrics). The runtime never prints:
//! what to do with the figures is the application's choice.

use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Backend;

/// A counter with a single writer thread and any number of readers.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        // Single writer: load + store cannot lose an update.
        self.0
            .store(self.0.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }
    #[inline]
    pub(crate) fn inc(&self) {
        self.add(1);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counters of one loop thread.
#[derive(Debug, Default)]
pub(crate) struct LoopMetrics {
    pub(crate) loop_iterations: Counter,
    pub(crate) tasks_spawned: Counter,
    pub(crate) tasks_polled: Counter,
    pub(crate) tasks_completed: Counter,
    pub(crate) ops_submitted: Counter,
    pub(crate) ops_completed: Counter,
    pub(crate) ops_fallback: Counter,
    pub(crate) wait_syscalls: Counter,
    pub(crate) timers_armed: Counter,
    pub(crate) timers_fired: Counter,
    pub(crate) remote_wakes: Counter,
}

impl LoopMetrics {
    pub(crate) fn snapshot(&self, backend: Backend) -> MetricsSnapshot {
        MetricsSnapshot {
            backend: Some(backend),
            loops: 1,
            loop_iterations: self.loop_iterations.get(),
            tasks_spawned: self.tasks_spawned.get(),
            tasks_polled: self.tasks_polled.get(),
            tasks_completed: self.tasks_completed.get(),
            ops_submitted: self.ops_submitted.get(),
            ops_completed: self.ops_completed.get(),
            ops_fallback: self.ops_fallback.get(),
            wait_syscalls: self.wait_syscalls.get(),
            timers_armed: self.timers_armed.get(),
            timers_fired: self.timers_fired.get(),
            remote_wakes: self.remote_wakes.get(),
            blocking: BlockingSnapshot::default(),
        }
    }
}

/// Counters of the blocking pool shared by a runtime's threads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BlockingSnapshot {
    /// Pool threads started since the runtime was built. Stays 0 when no
    /// work ever needed the pool (file I/O on io_uring).
    pub threads_started: u64,
    /// Pool threads alive now (busy or idle).
    pub threads_alive: u64,
    /// Pool threads running a job now.
    pub threads_busy: u64,
    /// Jobs waiting for a thread now.
    pub queue_depth: u64,
    /// Jobs run to completion.
    pub jobs_completed: u64,
    /// Jobs refused because the queue was full or the pool shut down.
    pub jobs_rejected: u64,
}

/// A point-in-time copy of one loop's counters, or their sum over a
/// runtime's loops.
///
/// Syscalls per completed operation is `wait_syscalls / ops_completed`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The backend of the loop(s); `None` for a sum over loops that differ.
    pub backend: Option<Backend>,
    /// Number of loops summed here.
    pub loops: u64,
    /// Turns of the event loop (one poll of the driver each).
    pub loop_iterations: u64,
    /// Tasks spawned.
    pub tasks_spawned: u64,
    /// Task polls.
    pub tasks_polled: u64,
    /// Tasks that finished (with output, panic or abort).
    pub tasks_completed: u64,
    /// Operations started (SQEs pushed on io_uring; syscalls tried or pool
    /// jobs queued on the fallback paths).
    pub ops_submitted: u64,
    /// Operations finished (CQEs on io_uring, results on the fallback paths).
    pub ops_completed: u64,
    /// Operations that took a fallback path (readiness or pool).
    pub ops_fallback: u64,
    /// `io_uring_enter` calls (io_uring) or `epoll_wait` calls (epoll) made
    /// by the loop: the syscalls that submit, wait or reap.
    pub wait_syscalls: u64,
    /// Timers registered (sleeps that had to wait).
    pub timers_armed: u64,
    /// Timers that expired and woke their task.
    pub timers_fired: u64,
    /// Wake-ups that came from another thread.
    pub remote_wakes: u64,
    /// The blocking pool (shared by the runtime's loops; not summed).
    pub blocking: BlockingSnapshot,
}

impl Add for MetricsSnapshot {
    type Output = MetricsSnapshot;
    fn add(self, o: MetricsSnapshot) -> MetricsSnapshot {
        let backend = match (self.loops, o.loops) {
            (0, _) => o.backend,
            (_, 0) => self.backend,
            _ if self.backend == o.backend => self.backend,
            _ => None,
        };
        MetricsSnapshot {
            backend,
            loops: self.loops + o.loops,
            loop_iterations: self.loop_iterations + o.loop_iterations,
            tasks_spawned: self.tasks_spawned + o.tasks_spawned,
            tasks_polled: self.tasks_polled + o.tasks_polled,
            tasks_completed: self.tasks_completed + o.tasks_completed,
            ops_submitted: self.ops_submitted + o.ops_submitted,
            ops_completed: self.ops_completed + o.ops_completed,
            ops_fallback: self.ops_fallback + o.ops_fallback,
            wait_syscalls: self.wait_syscalls + o.wait_syscalls,
            timers_armed: self.timers_armed + o.timers_armed,
            timers_fired: self.timers_fired + o.timers_fired,
            remote_wakes: self.remote_wakes + o.remote_wakes,
            blocking: if o.blocking == BlockingSnapshot::default() {
                self.blocking
            } else {
                o.blocking
            },
        }
    }
}
