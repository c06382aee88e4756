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
//! Bookkeeping invariant: every thread blocked in the condvar wait is
//! counted in exactly one of `idle` (free to be handed a job) or `notified`
//! (handed one by a `notify_one`, not yet awake). A waking thread takes a
//! notification if there is one, else leaves `idle`; so a pushed job either
//! reserves an idle thread or starts a new one, and is never left waiting
//! for a thread that is not coming.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crate::executor::{BlockingJoin, JoinError, JoinHandle};
use crate::metrics::BlockingSnapshot;

type Job = Box<dyn FnOnce() + Send>;

/// Pool limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolConfig {
    pub(crate) max_threads: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) keep_alive: Duration,
}

struct State {
    queue: VecDeque<Job>,
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
    pub(crate) fn new(cfg: PoolConfig) -> Arc<Pool> {
        Arc::new(Pool {
            cfg,
            state: Mutex::new(State {
                queue: VecDeque::new(),
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

    /// Runs `f` on a pool thread and hands its output to `publish` there,
    /// after the pool's counters say the job is done (so whoever sees the
    /// result also sees it counted). `Err` (counted as a rejection) when
    /// the queue is full or the pool is shutting down; nothing runs then.
    pub(crate) fn run<T, F, P>(self: &Arc<Self>, f: F, publish: P) -> Result<(), String>
    where
        F: FnOnce() -> T + Send + 'static,
        P: FnOnce(T) + Send + 'static,
    {
        let pool = self.clone();
        let job: Job = Box::new(move || {
            let out = f();
            pool.counters.busy.fetch_sub(1, Ordering::Relaxed);
            pool.counters.completed.fetch_add(1, Ordering::Relaxed);
            publish(out);
        });
        self.submit(job).inspect_err(|_| {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
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
        st.queue.push_back(job);
        if st.idle > 0 {
            st.idle -= 1;
            st.notified += 1;
            self.cond.notify_one();
        } else if st.threads < self.cfg.max_threads {
            st.handles.retain(|h| !h.is_finished());
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

    fn worker(self: Arc<Self>) {
        let mut st = self.lock();
        loop {
            while let Some(job) = st.queue.pop_front() {
                drop(st);
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                job();
                st = self.lock();
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let (guard, res) = self
                .cond
                .wait_timeout(st, self.cfg.keep_alive)
                .unwrap_or_else(|p| p.into_inner());
            st = guard;
            if st.notified > 0 {
                st.notified -= 1;
            } else {
                st.idle -= 1;
                if res.timed_out() && st.queue.is_empty() {
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

#[cfg(test)]
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
}
