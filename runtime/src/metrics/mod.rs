//! Loop health, readable as a snapshot from code.
//!
//! Each loop thread owns one set of counters and is their only writer, so a
//! counter is a relaxed load and store (a plain `mov` on x86), never a locked
//! read-modify-write. Other threads read them through
//! [`Runtime::metrics`](crate::Runtime::metrics) or
//! [`Handle::metrics`](crate::Handle::metrics). What is measured:
//!
//! - counters: loop turns, tasks, operations (in total and per opcode
//!   family), wait syscalls, timers, remote wakes, stalls;
//! - **loop lag**: how late the loop got to a timer after its deadline and
//!   to a task after it was woken, as a histogram (p50/p99/p999/max);
//! - the **longest task poll** and where that task was spawned, and the
//!   stall detector ([`StallReport`]);
//! - the blocking pool: threads started/alive/busy, queue depth, rejections;
//! - **event-loop utilization** (ELU): busy versus parked time
//!   ([`MetricsSnapshot::elu`], [`MetricsSnapshot::elu_since`]);
//! - **empty wakes**: parks that returned and woke no task and fired no
//!   timer, and the busy-spin detector built on them;
//! - per loop turn: events harvested from the kernel and tasks polled (as
//!   histograms), and the delay from harvesting a completion to polling the
//!   task it woke.
//!
//! The runtime never prints: what to do with the figures is the
//! application's choice (`MetricsSnapshot` implements `Display`).

pub(crate) mod backtrace;
pub(crate) mod clock;
mod display;
pub(crate) mod elu;
mod histogram;
pub(crate) mod opcodes;
mod prometheus;
pub(crate) mod stall;

use std::ops::Add;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub use backtrace::{Frame, StallBacktrace};
pub use histogram::{Counts, Latency};
pub use opcodes::{name as opcode_name, OpcodeCount};
pub use prometheus::prometheus_text;
pub use stall::{PollRecord, StallKind, StallReport};

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
    #[inline]
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
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
    pub(crate) ops_cached_inline: Counter,
    pub(crate) wait_syscalls: Counter,
    pub(crate) io_syscalls: Counter,
    pub(crate) timers_armed: Counter,
    pub(crate) timers_fired: Counter,
    pub(crate) remote_wakes: Counter,
    pub(crate) stalls: Counter,
    pub(crate) cancel_retries: Counter,
    /// Gauge, set by the driver at the end of each turn.
    pub(crate) ops_in_flight: Counter,
    pub(crate) lag: histogram::Histogram,
    /// Busy/parked split (ELU).
    pub(crate) time: elu::LoopTime,
    /// CQEs reaped (io_uring) or epoll events harvested (epoll).
    pub(crate) events: Counter,
    /// Parks that could sleep and after which the loop found no task to
    /// poll and no timer due.
    pub(crate) empty_wakes: Counter,
    /// Windows in which empty wakes passed the spin threshold.
    pub(crate) spins: Counter,
    /// Stall reports that carry a backtrace.
    pub(crate) stall_backtraces: Counter,
    /// Per loop turn: events harvested by the park before it.
    pub(crate) events_per_turn: histogram::Histogram,
    /// Per loop turn: tasks polled.
    pub(crate) tasks_per_turn: histogram::Histogram,
    /// Ticks from a park's wake-up to the poll of a task it woke (sampled).
    pub(crate) completion_to_poll: histogram::Histogram,
    pub(crate) opcodes: opcodes::OpcodeCounters,
    longest_poll_ticks: Counter,
    longest_poll_at: Mutex<Option<&'static Location<'static>>>,
}

impl LoopMetrics {
    /// Records one task poll's duration (clock ticks); keeps the longest.
    #[inline]
    pub(crate) fn poll_took(&self, ticks: u64, at: &'static Location<'static>) {
        if ticks > self.longest_poll_ticks.get() {
            self.longest_poll_ticks.set(ticks);
            *self
                .longest_poll_at
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(at);
        }
    }

    pub(crate) fn longest_poll_ticks(&self) -> u64 {
        self.longest_poll_ticks.get()
    }

    pub(crate) fn snapshot(&self, backend: Backend) -> MetricsSnapshot {
        let longest_poll = self
            .longest_poll_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|at| PollRecord {
                duration: Duration::from_nanos(clock::to_ns(self.longest_poll_ticks.get())),
                spawned_at: at,
            });
        let spawned = self.tasks_spawned.get();
        let completed = self.tasks_completed.get();
        let (busy, parked) = self.time.snapshot();
        MetricsSnapshot {
            backend: Some(backend),
            loops: 1,
            loop_iterations: self.loop_iterations.get(),
            tasks_spawned: spawned,
            tasks_polled: self.tasks_polled.get(),
            tasks_completed: completed,
            tasks_alive: spawned.saturating_sub(completed),
            ops_submitted: self.ops_submitted.get(),
            ops_completed: self.ops_completed.get(),
            ops_fallback: self.ops_fallback.get(),
            ops_cached_inline: self.ops_cached_inline.get(),
            ops_by_opcode: self.opcodes.snapshot(),
            wait_syscalls: self.wait_syscalls.get(),
            io_syscalls: self.io_syscalls.get(),
            timers_armed: self.timers_armed.get(),
            timers_fired: self.timers_fired.get(),
            remote_wakes: self.remote_wakes.get(),
            stalls: self.stalls.get(),
            cancel_retries: self.cancel_retries.get(),
            ops_in_flight: self.ops_in_flight.get(),
            loop_lag: self.lag.snapshot(),
            longest_poll,
            blocking: BlockingSnapshot::default(),
            busy: Duration::from_nanos(busy),
            parked: Duration::from_nanos(parked),
            events: self.events.get(),
            empty_wakes: self.empty_wakes.get(),
            spins: self.spins.get(),
            stall_backtraces: self.stall_backtraces.get(),
            events_per_turn: self.events_per_turn.snapshot_counts(),
            tasks_per_turn: self.tasks_per_turn.snapshot_counts(),
            completion_to_poll: self.completion_to_poll.snapshot(),
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
/// Syscalls per completed operation is
/// `(wait_syscalls + io_syscalls) / ops_completed`
/// ([`syscalls_per_op`](Self::syscalls_per_op)).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The backend of the loop(s); `None` for a sum over loops that differ.
    pub backend: Option<Backend>,
    /// Number of loops summed here.
    pub loops: u64,
    /// Turns of the event loop (one turn of the driver each).
    pub loop_iterations: u64,
    /// Tasks spawned.
    pub tasks_spawned: u64,
    /// Task polls (the future given to `block_on` included).
    pub tasks_polled: u64,
    /// Tasks that finished (with output, panic or abort).
    pub tasks_completed: u64,
    /// Tasks spawned and not finished.
    pub tasks_alive: u64,
    /// Operations started (SQEs pushed on io_uring; syscalls tried or pool
    /// jobs queued on the fallback paths).
    pub ops_submitted: u64,
    /// Operations finished (CQEs on io_uring, results on the fallback paths).
    pub ops_completed: u64,
    /// Operations that took a fallback path (readiness or pool).
    pub ops_fallback: u64,
    /// Of those headed for the blocking pool, the ones the kernel finished
    /// at once on the loop thread from its caches (a cached read, an open
    /// the dentry cache answered; see
    /// [`Builder::cached_file_ops_first`](crate::Builder::cached_file_ops_first)),
    /// so no pool job ran.
    pub ops_cached_inline: u64,
    /// Operations per opcode family (only families that were used).
    pub ops_by_opcode: Vec<OpcodeCount>,
    /// `io_uring_enter` calls (io_uring) or `epoll_wait` calls (epoll) made
    /// by the loop: the syscalls that submit, wait or reap.
    pub wait_syscalls: u64,
    /// Syscalls operations made themselves on the fallback paths: each
    /// non-blocking attempt, each pool job, and epoll's `epoll_ctl` and
    /// `close` per fd. 0 for operations on the io_uring completion path.
    pub io_syscalls: u64,
    /// Timers registered (sleeps that had to wait).
    pub timers_armed: u64,
    /// Timers that expired and woke their task.
    pub timers_fired: u64,
    /// Wake-ups that came from another thread.
    pub remote_wakes: u64,
    /// Task polls longer than the stall threshold.
    pub stalls: u64,
    /// `ASYNC_CANCEL`s sent again because the kernel answered "not
    /// cancelled" (`-ENOENT`, `-EALREADY`) while the dropped operation was
    /// still in flight (io_uring; 0 on epoll).
    pub cancel_retries: u64,
    /// Operations whose memory the kernel or a pool thread may still touch
    /// (dropped ones whose final completion has not come included): exact
    /// from [`Handle::metrics`](crate::Handle::metrics) on the loop's own
    /// thread, as of the loop's last turn from another thread.
    pub ops_in_flight: u64,
    /// How late the loop got to due timers and woken tasks.
    pub loop_lag: Latency,
    /// The longest single task poll, and where its task was spawned.
    pub longest_poll: Option<PollRecord>,
    /// The blocking pool (shared by the runtime's loops; not summed).
    pub blocking: BlockingSnapshot,
    /// Time the loop(s) spent running tasks, firing timers and dispatching
    /// completions: wall time in the loop minus [`parked`](Self::parked).
    /// Measured while poll timing is on; summed over loops.
    pub busy: Duration,
    /// Time the loop(s) spent parked in the kernel (`io_uring_enter` or
    /// `epoll_wait`, waiting or not).
    pub parked: Duration,
    /// Events the parks harvested: CQEs reaped (io_uring) or readiness
    /// events (epoll), the loop's own wake-ups included.
    pub events: u64,
    /// Parks that could have slept and after which the loop found no task
    /// to poll and no timer due: a wake-up for nothing. A handful is normal
    /// (a readiness edge nobody waits for, the completion of a dropped
    /// operation); thousands a second are a busy spin.
    pub empty_wakes: u64,
    /// Spin reports: windows in which empty wakes passed the spin threshold
    /// ([`Builder::spin_threshold`](crate::Builder::spin_threshold)).
    pub spins: u64,
    /// Stall reports that carried a backtrace of the stalled thread
    /// ([`Builder::stall_backtrace`](crate::Builder::stall_backtrace)).
    pub stall_backtraces: u64,
    /// Per loop turn: events the park harvested (the batching io_uring
    /// pays off with). Recorded while poll timing is on, like the next two.
    pub events_per_turn: Counts,
    /// Per loop turn: tasks polled.
    pub tasks_per_turn: Counts,
    /// From the moment a park returned to the poll of a task that park's
    /// completions or events woke (one clock read per park, not per event:
    /// every event of a batch is stamped with the park's wake-up time;
    /// sampled like [`loop_lag`](Self::loop_lag)).
    pub completion_to_poll: Latency,
}

impl MetricsSnapshot {
    /// Syscalls the runtime made per completed operation — waits plus the
    /// operations' own syscalls on the fallback paths — comparable across
    /// backends (0 when none completed).
    pub fn syscalls_per_op(&self) -> f64 {
        if self.ops_completed == 0 {
            0.0
        } else {
            (self.wait_syscalls + self.io_syscalls) as f64 / self.ops_completed as f64
        }
    }

    /// Event-loop utilization since the loop(s) started: `busy / (busy +
    /// parked)`, from 0.0 (always parked) to 1.0 (never parked); for a sum
    /// over loops, their mean. 0 when nothing was measured.
    pub fn elu(&self) -> f64 {
        elu::ratio(self.busy.as_nanos() as u64, self.parked.as_nanos() as u64)
    }

    /// Event-loop utilization between `earlier` and this snapshot (of the
    /// same loop or runtime): the figure to watch over an interval.
    ///
    /// ```
    /// let rt = ringloop::Builder::new().build().unwrap();
    /// let before = rt.metrics();
    /// rt.block_on(ringloop::time::sleep(std::time::Duration::from_millis(1)));
    /// let elu = rt.metrics().elu_since(&before);
    /// assert!((0.0..=1.0).contains(&elu));
    /// ```
    pub fn elu_since(&self, earlier: &MetricsSnapshot) -> f64 {
        elu::ratio(
            self.busy.saturating_sub(earlier.busy).as_nanos() as u64,
            self.parked.saturating_sub(earlier.parked).as_nanos() as u64,
        )
    }
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
        let longest_poll = match (self.longest_poll, o.longest_poll) {
            (Some(a), Some(b)) => Some(if b.duration > a.duration { b } else { a }),
            (a, b) => a.or(b),
        };
        MetricsSnapshot {
            backend,
            loops: self.loops + o.loops,
            loop_iterations: self.loop_iterations + o.loop_iterations,
            tasks_spawned: self.tasks_spawned + o.tasks_spawned,
            tasks_polled: self.tasks_polled + o.tasks_polled,
            tasks_completed: self.tasks_completed + o.tasks_completed,
            tasks_alive: self.tasks_alive + o.tasks_alive,
            ops_submitted: self.ops_submitted + o.ops_submitted,
            ops_completed: self.ops_completed + o.ops_completed,
            ops_fallback: self.ops_fallback + o.ops_fallback,
            ops_cached_inline: self.ops_cached_inline + o.ops_cached_inline,
            ops_by_opcode: opcodes::merge(self.ops_by_opcode, o.ops_by_opcode),
            wait_syscalls: self.wait_syscalls + o.wait_syscalls,
            io_syscalls: self.io_syscalls + o.io_syscalls,
            timers_armed: self.timers_armed + o.timers_armed,
            timers_fired: self.timers_fired + o.timers_fired,
            remote_wakes: self.remote_wakes + o.remote_wakes,
            stalls: self.stalls + o.stalls,
            cancel_retries: self.cancel_retries + o.cancel_retries,
            ops_in_flight: self.ops_in_flight + o.ops_in_flight,
            loop_lag: self.loop_lag + o.loop_lag,
            longest_poll,
            blocking: if o.blocking == BlockingSnapshot::default() {
                self.blocking
            } else {
                o.blocking
            },
            busy: self.busy + o.busy,
            parked: self.parked + o.parked,
            events: self.events + o.events,
            empty_wakes: self.empty_wakes + o.empty_wakes,
            spins: self.spins + o.spins,
            stall_backtraces: self.stall_backtraces + o.stall_backtraces,
            events_per_turn: self.events_per_turn + o.events_per_turn,
            tasks_per_turn: self.tasks_per_turn + o.tasks_per_turn,
            completion_to_poll: self.completion_to_poll + o.completion_to_poll,
        }
    }
}
