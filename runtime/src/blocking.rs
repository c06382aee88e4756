//! The blocking pool behind [`spawn_blocking`](crate::spawn_blocking) and
//! the pool path of operations (`driver/pool.rs`). A leaf: it knows no loop.
//!
//! One pool per [`Runtime`](crate::Runtime), shared by its loop threads.
//! Threads start on demand, up to `max_threads`; an idle thread retires
//! after `keep_alive`. The queue is bounded: a job that finds it full is
//! **rejected** (its `JoinHandle` resolves to an error for which
//! [`JoinError::is_rejected`](crate::JoinError::is_rejected) holds, and the
//! rejection is counted) rather than grown without limit. Results go back
//! through the waiting task's waker, which unparks its loop.
//!
//! Two ways in, for two kinds of caller:
//!
//! - **Reject** ([`Pool::run`], [`spawn_blocking`](crate::spawn_blocking)):
//!   a full queue is an error at once. Right for a flood of user jobs,
//!   which should learn that the pool is saturated.
//! - **Wait** ([`Pool::run_or_wait`], the runtime's own file operations on
//!   the pool path, and [`spawn_blocking_wait`](crate::task::spawn_blocking_wait)):
//!   a full queue puts the job in a waiting line, FIFO, and a worker that
//!   takes a job from the queue moves the first waiting one in. Each
//!   waiting job belongs to a future that is being awaited (a file read,
//!   a `spawn_blocking_wait`), so the line is as long as the work the
//!   program has in flight, never more: backpressure, not growth. A
//!   waiting job can be withdrawn (its future dropped) and then never runs.
//!   Its queue room is at least 1, so a queue capacity of 0 still lets the
//!   runtime's own operations through, one at a time.
//!
//! Bookkeeping invariant: every thread blocked in the condvar wait is
//! counted in exactly one of `idle` (free to be handed a job) or `notified`
//! (handed one by a `notify_one`, not yet awake). A waking thread takes a
//! notification if there is one, else leaves `idle`; so a pushed job either
//! reserves an idle thread or starts a new one, and is never left waiting
//! for a thread that is not coming.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

// The pool's own lock, condvar and threads: loom's under `--cfg loom`.
use crate::sync::{thread, Condvar, Mutex, MutexGuard};

use crate::executor::{BlockingJoin, JoinError, JoinHandle};
use crate::metrics::BlockingSnapshot;

type Job = Box<dyn FnOnce() + Send>;

/// Smallest waiting-line length at which withdrawn entries are swept.
const SWEEP_MIN: usize = 64;

/// A job in the waiting line.
struct Waiter {
    state: Mutex<WaiterState>,
}

struct WaiterState {
    /// The job, until a worker moves it to the queue or it is withdrawn.
    job: Option<Job>,
    /// Whether a worker moved it to the queue (it will run).
    queued: bool,
    /// Woken when it is moved to the queue.
    waker: Option<Waker>,
}

impl Waiter {
    fn lock(&self) -> MutexGuard<'_, WaiterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handle of a job that waits for room in the queue. Dropping it
/// withdraws the job if it is still waiting.
pub(crate) struct Ticket(Arc<Waiter>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.withdraw();
    }
}

impl Ticket {
    /// Takes the job out of the line if it is still there: `true` means it
    /// will never run (and was dropped here); `false`, that a worker has
    /// queued it already and it will run.
    pub(crate) fn withdraw(&self) -> bool {
        let job = {
            let mut st = self.0.lock();
            st.waker = None;
            st.job.take()
        };
        job.is_some()
    }

    /// Ready once a worker has moved the job to the queue.
    pub(crate) fn poll_queued(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.0.lock();
        if st.queued {
            return Poll::Ready(());
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Pool limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolConfig {
    pub(crate) max_threads: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) keep_alive: Duration,
    /// Pool-path operations first try their non-blocking cached form on
    /// the loop thread (`OpCode::try_cached`).
    pub(crate) cached_first: bool,
}

struct State {
    queue: VecDeque<Job>,
    /// Jobs of the waiting form that found the queue full, in order. Not
    /// empty only while the queue is full (a worker refills the queue from
    /// here whenever it takes a job).
    waiting: VecDeque<Arc<Waiter>>,
    /// Length of `waiting` at which withdrawn entries are swept out
    /// (amortised O(1) per push).
    sweep_at: usize,
    threads: usize,
    idle: usize,
    notified: usize,
    shutdown: bool,
    handles: Vec<thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Counters {
    started: AtomicU64,
    busy: AtomicU64,
    completed: AtomicU64,
    rejected: AtomicU64,
}

pub(crate) struct Pool {
    cfg: PoolConfig,
    state: Mutex<State>,
    cond: Condvar,
    counters: Counters,
}

impl Pool {
    /// Whether pool-path operations try their cached form first.
    pub(crate) fn cached_first(&self) -> bool {
        self.cfg.cached_first
    }

    pub(crate) fn new(cfg: PoolConfig) -> Arc<Pool> {
        Arc::new(Pool {
            cfg,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                waiting: VecDeque::new(),
                sweep_at: SWEEP_MIN,
                threads: 0,
                idle: 0,
                notified: 0,
                shutdown: false,
                handles: Vec::new(),
            }),
            cond: Condvar::new(),
            counters: Counters::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a pool thread; its result goes to the handle.
    pub(crate) fn spawn<T, F>(self: &Arc<Self>, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let join = BlockingJoin::new();
        let j = join.clone();
        let run = self.run(
            move || catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panicked),
            move |out| j.complete(out),
        );
        if let Err(why) = run {
            join.complete(Err(JoinError::rejected(why)));
        }
        JoinHandle::new(join)
    }

    /// As [`spawn`](Self::spawn), but a full queue puts the job in the
    /// waiting line (the ticket says when it has left it).
    pub(crate) fn spawn_or_wait<T, F>(self: &Arc<Self>, f: F) -> (JoinHandle<T>, Option<Ticket>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let join = BlockingJoin::new();
        let j = join.clone();
        let run = self.run_or_wait(
            move || catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panicked),
            move |out| j.complete(out),
        );
        let ticket = run.unwrap_or_else(|why| {
            join.complete(Err(JoinError::rejected(why)));
            None
        });
        (JoinHandle::new(join), ticket)
    }

    /// Runs `f` on a pool thread and hands its output to `publish` there,
    /// after the pool's counters say the job is done (so whoever sees the
    /// result also sees it counted). `Err` (counted as a rejection) when
    /// the queue is full or the pool is shutting down; nothing runs then.
    pub(crate) fn run<T, F, P>(self: &Arc<Self>, f: F, publish: P) -> Result<(), String>
    where
        F: FnOnce() -> T + Send + 'static,
        P: FnOnce(T) + Send + 'static,
    {
        let job = self.job(f, publish);
        self.submit(job).inspect_err(|_| {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// As [`run`](Self::run), but a full queue puts the job in the waiting
    /// line instead of rejecting it: `Ok(Some(ticket))` then. `Err` only
    /// when the pool is shutting down or cannot start a thread.
    pub(crate) fn run_or_wait<T, F, P>(
        self: &Arc<Self>,
        f: F,
        publish: P,
    ) -> Result<Option<Ticket>, String>
    where
        F: FnOnce() -> T + Send + 'static,
        P: FnOnce(T) + Send + 'static,
    {
        let job = self.job(f, publish);
        let mut st = self.lock();
        if st.shutdown {
            drop(st);
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err("the runtime is shutting down".into());
        }
        if st.waiting.is_empty() && st.queue.len() < self.wait_room() {
            return self
                .push_locked(&mut st, job)
                .map(|()| None)
                .inspect_err(|_| {
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                });
        }
        if st.waiting.len() >= st.sweep_at {
            st.waiting.retain(|w| w.lock().job.is_some());
            st.sweep_at = (st.waiting.len() * 2).max(SWEEP_MIN);
        }
        let w = Arc::new(Waiter {
            state: Mutex::new(WaiterState {
                job: Some(job),
                queued: false,
                waker: None,
            }),
        });
        st.waiting.push_back(w.clone());
        Ok(Some(Ticket(w)))
    }

    /// Queue room for the waiting form: the configured capacity, at least 1.
    fn wait_room(&self) -> usize {
        self.cfg.queue_capacity.max(1)
    }

    /// Wraps `f` and `publish` into one job that counts itself done.
    fn job<T, F, P>(self: &Arc<Self>, f: F, publish: P) -> Job
    where
        F: FnOnce() -> T + Send + 'static,
        P: FnOnce(T) + Send + 'static,
    {
        let pool = self.clone();
        Box::new(move || {
            let out = f();
            pool.counters.busy.fetch_sub(1, Ordering::Relaxed);
            pool.counters.completed.fetch_add(1, Ordering::Relaxed);
            publish(out);
        })
    }

    fn submit(self: &Arc<Self>, job: Job) -> Result<(), String> {
        let mut st = self.lock();
        if st.shutdown {
            return Err("the runtime is shutting down".into());
        }
        let cap = self.cfg.queue_capacity + usize::from(crate::mutant::on("queue_one_too_many"));
        if st.queue.len() >= cap {
            return Err(format!(
                "queue full ({} jobs waiting, {} threads busy)",
                st.queue.len(),
                st.threads - st.idle - st.notified
            ));
        }
        self.push_locked(&mut st, job)
    }

    /// Queues `job` and makes sure a thread is coming for it.
    fn push_locked(self: &Arc<Self>, st: &mut State, job: Job) -> Result<(), String> {
        st.queue.push_back(job);
        if st.idle > 0 {
            st.idle -= 1;
            st.notified += 1;
            self.cond.notify_one();
        } else if st.threads < self.cfg.max_threads {
            st.handles.retain(|h| !crate::sync::is_finished(h));
            let pool = self.clone();
            let spawned = thread::Builder::new()
                .name("ringloop-blocking".into())
                .spawn(move || pool.worker());
            match spawned {
                Ok(h) => {
                    st.threads += 1;
                    st.handles.push(h);
                    self.counters.started.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if st.threads == 0 => {
                    st.queue.pop_back();
                    return Err(format!("cannot start a pool thread: {e}"));
                }
                // Other threads will get to the job.
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// Moves waiting jobs into the queue while it has room (FIFO; withdrawn
    /// ones are skipped). Called by a worker that just took a job, so a
    /// thread — this one — is coming for them.
    fn admit_waiting(&self, st: &mut State) {
        let room = self.wait_room();
        while st.queue.len() < room {
            let Some(w) = st.waiting.pop_front() else {
                return;
            };
            let mut ws = w.lock();
            if let Some(job) = ws.job.take() {
                ws.queued = true;
                let waker = ws.waker.take();
                drop(ws);
                st.queue.push_back(job);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }
    }

    fn worker(self: Arc<Self>) {
        let mut st = self.lock();
        loop {
            while let Some(job) = st.queue.pop_front() {
                self.admit_waiting(&mut st);
                drop(st);
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                job();
                st = self.lock();
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let (guard, timed_out) =
                crate::sync::wait_timeout(&self.cond, &self.state, st, self.cfg.keep_alive);
            st = guard;
            if st.notified > 0 {
                st.notified -= 1;
            } else {
                st.idle -= 1;
                if timed_out && st.queue.is_empty() {
                    break;
                }
            }
        }
        st.threads -= 1;
    }

    /// Stops accepting jobs, lets queued ones run, and joins every thread.
    pub(crate) fn shutdown(&self) {
        let handles = {
            let mut st = self.lock();
            st.shutdown = true;
            self.cond.notify_all();
            std::mem::take(&mut st.handles)
        };
        for h in handles {
            let _ = h.join();
        }
    }

    pub(crate) fn snapshot(&self) -> BlockingSnapshot {
        let st = self.lock();
        BlockingSnapshot {
            threads_started: self.counters.started.load(Ordering::Relaxed),
            threads_alive: st.threads as u64,
            threads_busy: self.counters.busy.load(Ordering::Relaxed),
            queue_depth: st.queue.len() as u64,
            jobs_completed: self.counters.completed.load(Ordering::Relaxed),
            jobs_rejected: self.counters.rejected.load(Ordering::Relaxed),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The idle/notified bookkeeping: a job is never left queued with no
    //! thread coming for it, whatever the interleaving of submissions,
    //! wake-ups and keep-alive timeouts.
    use super::*;
    use std::sync::mpsc;

    fn pool(max_threads: usize, keep_alive: Duration) -> Arc<Pool> {
        Pool::new(PoolConfig {
            max_threads,
            queue_capacity: 100_000,
            keep_alive,
            cached_first: true,
        })
    }

    #[test]
    fn every_job_runs_under_bursts_from_many_threads() {
        // A short keep-alive makes threads retire and restart in the middle
        // of the bursts: the racy path of the invariant.
        let p = pool(3, Duration::from_micros(200));
        let (tx, rx) = mpsc::channel();
        let submitters: Vec<_> = (0..4)
            .map(|t| {
                let (p, tx) = (p.clone(), tx.clone());
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let tx = tx.clone();
                        p.run(move || t * 1000 + i, move |v| tx.send(v).unwrap())
                            .unwrap();
                        if i % 50 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for s in submitters {
            s.join().unwrap();
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let v = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("a queued job was stranded");
            assert!(seen.insert(v));
        }
        let st = p.lock();
        assert!(st.threads <= 3);
        assert!(st.idle + st.notified <= st.threads);
        drop(st);
        p.shutdown();
        assert_eq!(p.snapshot().jobs_completed, 2000);
    }

    #[test]
    fn a_full_queue_rejects_and_counts() {
        let p = Pool::new(PoolConfig {
            max_threads: 1,
            queue_capacity: 1,
            keep_alive: Duration::from_secs(5),
            cached_first: true,
        });
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel();
        // One job runs (and waits), one waits in the queue, the third is
        // refused.
        p.run(
            move || {
                started_tx.send(()).unwrap();
                hold_rx.recv_timeout(Duration::from_secs(30)).ok();
            },
            |_| {},
        )
        .unwrap();
        started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        p.run(|| (), |_| {}).unwrap();
        let e = p.run(|| (), |_| {}).unwrap_err();
        assert!(e.starts_with("queue full"), "{e}");
        assert_eq!(p.snapshot().jobs_rejected, 1);
        hold_tx.send(()).unwrap();
        p.shutdown();
        assert_eq!(p.snapshot().jobs_completed, 2);
    }
    /// A pool whose one thread is held until the returned sender is used
    /// (or dropped), with `cap` places in the queue.
    fn held_pool(cap: usize) -> (Arc<Pool>, mpsc::Sender<()>) {
        let p = Pool::new(PoolConfig {
            max_threads: 1,
            queue_capacity: cap,
            keep_alive: Duration::from_secs(5),
            cached_first: true,
        });
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel();
        p.run(
            move || {
                started_tx.send(()).unwrap();
                hold_rx.recv_timeout(Duration::from_secs(30)).ok();
            },
            |_| {},
        )
        .unwrap();
        started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        (p, hold_tx)
    }

    #[test]
    fn waiting_jobs_all_run_in_order_behind_a_tiny_queue() {
        let (p, hold) = held_pool(2);
        let (tx, rx) = mpsc::channel();
        let mut tickets = Vec::new();
        for i in 0..500 {
            let tx = tx.clone();
            let t = p
                .run_or_wait(move || i, move |v| tx.send(v).unwrap())
                .unwrap();
            // The first two fit in the queue; the rest wait.
            assert_eq!(t.is_some(), i >= 2, "job {i}");
            tickets.extend(t);
        }
        // The rejecting form still rejects meanwhile.
        assert!(p.run(|| 0, |_| {}).unwrap_err().starts_with("queue full"));
        hold.send(()).unwrap();
        let got: Vec<i32> = (0..500)
            .map(|_| {
                rx.recv_timeout(Duration::from_secs(30))
                    .expect("a waiting job was stranded")
            })
            .collect();
        assert_eq!(got, (0..500).collect::<Vec<_>>());
        drop(tickets);
        p.shutdown();
        let m = p.snapshot();
        assert_eq!((m.jobs_completed, m.jobs_rejected), (501, 1));
    }

    #[test]
    fn a_withdrawn_job_never_runs() {
        let (p, hold) = held_pool(1);
        let ran = Arc::new(AtomicU64::new(0));
        let mut tickets: Vec<Ticket> = (0..200)
            .filter_map(|_| {
                let r = ran.clone();
                p.run_or_wait(move || r.fetch_add(1, Ordering::SeqCst), |_| {})
                    .unwrap()
            })
            .collect();
        assert_eq!(tickets.len(), 199);
        // Withdraw every other one explicitly, the rest by dropping.
        let withdrawn = tickets.iter().step_by(2).filter(|t| t.withdraw()).count();
        assert_eq!(withdrawn, 100);
        tickets.clear();
        hold.send(()).unwrap();
        p.shutdown();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(p.snapshot().jobs_completed, 2);
    }

    #[test]
    fn capacity_zero_admits_waiting_jobs_one_at_a_time() {
        let p = Pool::new(PoolConfig {
            max_threads: 1,
            queue_capacity: 0,
            keep_alive: Duration::from_secs(5),
            cached_first: true,
        });
        assert!(p.run(|| (), |_| {}).is_err());
        let (tx, rx) = mpsc::channel();
        let tickets: Vec<_> = (0..50)
            .map(|i| {
                let tx = tx.clone();
                p.run_or_wait(move || i, move |v| tx.send(v).unwrap())
                    .unwrap()
            })
            .collect();
        for i in 0..50 {
            assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), i);
        }
        drop(tickets);
        p.shutdown();
    }
}
