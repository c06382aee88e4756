//! loom models of the two cross-thread protocols, run on the real code
//! (its lock, condvar, flag and threads are loom's under `--cfg loom`; see
//! `sync.rs`):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p ringloop-runtime --release --lib loom_
//! ```
//!
//! - **A loop's unpark** (`executor/shared.rs`): a push from another
//!   thread, racing the loop's turn (read the eventfd, then drain), is
//!   either drained in that turn or leaves the eventfd readable, so the
//!   loop's next wait ends: no remote wake or spawn is ever stranded.
//! - **The blocking pool's hand-off** (`blocking.rs`): every job submitted
//!   from any thread runs, whatever the interleaving of submissions, worker
//!   start-up, idle waits, notifications and keep-alive expiry (loom finds
//!   a job left queued with no thread coming for it as a deadlock: the
//!   model waits for every job's result).
//!
//! Preemptions are bounded (`PREEMPTIONS`), the usual loom trade of
//! exhaustiveness for time; a bound of 3 finds the classic lost-wakeup
//! orders, which need one or two.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use loom::sync::{Condvar, Mutex};

use crate::blocking::{Pool, PoolConfig};
use crate::executor::shared::{Remote, Shared};
use crate::metrics::LoopMetrics;

const PREEMPTIONS: usize = 3;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(PREEMPTIONS);
    b.check(f);
}

#[test]
fn loom_unpark_never_strands_a_remote_push() {
    model(|| {
        let s = Shared::new(Arc::new(LoopMetrics::default())).unwrap();
        let pushers: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                loom::thread::spawn(move || {
                    assert!(s.push_remote(Remote::Spawn(Box::new(|| {}))));
                })
            })
            .collect();
        // One loop turn: the wait (others run meanwhile), its eventfd
        // read, then the drain.
        let mut got = VecDeque::new();
        loom::thread::yield_now();
        s.eventfd_take();
        s.drain(&mut got);
        for p in pushers {
            p.join().unwrap();
        }
        let left = s.queued();
        assert_eq!(got.len() + left, 2);
        if left > 0 {
            assert!(
                s.eventfd_take() > 0,
                "{left} remote item(s) queued after the drain, and the loop's next wait would not end"
            );
        }
    });
}

#[test]
fn loom_deferred_wake_never_strands_a_remote_push() {
    model(|| {
        let s = Shared::new(Arc::new(LoopMetrics::default())).unwrap();
        // The rest of the pusher loop's turn, between the claim and its
        // next enter: a step every other thread may run around (loom's
        // `yield_now` would run the others first, and miss orders).
        let turn = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let pushers: Vec<_> = (0..2)
            .map(|_| {
                let (s, turn) = (s.clone(), turn.clone());
                loom::thread::spawn(move || {
                    // `push_remote` from an io_uring loop: queue, claim the
                    // wake, and deliver it at that loop's next enter.
                    assert!(s.enqueue(Remote::Spawn(Box::new(|| {}))));
                    let owed = s.claim_wake();
                    turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if owed {
                        s.write_eventfd();
                    }
                })
            })
            .collect();
        let mut got = VecDeque::new();
        loom::thread::yield_now();
        s.eventfd_take();
        s.drain(&mut got);
        for p in pushers {
            p.join().unwrap();
        }
        let left = s.queued();
        assert_eq!(got.len() + left, 2);
        if left > 0 {
            assert!(
                s.eventfd_take() > 0,
                "{left} remote item(s) queued after the drain, and no wake owed"
            );
        }
    });
}

/// Counts published results; `wait_for(n)` blocks until `n` arrived.
#[derive(Default)]
struct Results {
    n: Mutex<usize>,
    cond: Condvar,
}

impl Results {
    fn publish(&self) {
        *self.n.lock().unwrap() += 1;
        self.cond.notify_all();
    }

    fn wait_for(&self, want: usize) {
        let mut n = self.n.lock().unwrap();
        while *n < want {
            n = self.cond.wait(n).unwrap();
        }
    }
}

fn pool(max_threads: usize, queue_capacity: usize) -> Arc<Pool> {
    Pool::new(PoolConfig {
        max_threads,
        queue_capacity,
        keep_alive: Duration::from_secs(10),
        cached_first: true,
    })
}

/// `jobs` jobs from each of `submitters` threads (`run`, or `run_or_wait`
/// when `wait`), then every result awaited, then the pool shut down.
fn every_job_runs(max_threads: usize, cap: usize, submitters: usize, jobs: usize, wait: bool) {
    let p = pool(max_threads, cap);
    let results = Arc::new(Results::default());
    let threads: Vec<_> = (0..submitters)
        .map(|_| {
            let (p, r) = (p.clone(), results.clone());
            loom::thread::spawn(move || {
                // A waiting job leaves the line when a worker takes a job;
                // dropping its ticket before that would withdraw it.
                let mut tickets = Vec::new();
                for _ in 0..jobs {
                    let r = r.clone();
                    if wait {
                        tickets.push(p.run_or_wait(|| (), move |()| r.publish()).unwrap());
                    } else {
                        p.run(|| (), move |()| r.publish()).unwrap();
                    }
                }
                tickets
            })
        })
        .collect();
    let tickets: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    results.wait_for(submitters * jobs);
    drop(tickets);
    p.shutdown();
}

#[test]
fn loom_pool_runs_every_job() {
    crate::sync::set_waits_time_out(false);
    model(|| every_job_runs(1, 4, 2, 1, false));
}

#[test]
fn loom_pool_runs_every_job_with_two_threads() {
    crate::sync::set_waits_time_out(false);
    model(|| every_job_runs(2, 4, 1, 2, false));
}

#[test]
fn loom_pool_runs_every_job_while_workers_retire() {
    // Every keep-alive wait expires at once: workers retire as eagerly as
    // they can, racing the submissions.
    crate::sync::set_waits_time_out(true);
    model(|| every_job_runs(1, 4, 2, 1, false));
    crate::sync::set_waits_time_out(false);
}

#[test]
fn loom_pool_runs_every_waiting_job() {
    crate::sync::set_waits_time_out(false);
    // A queue of 1: the second and third jobs wait in line and are moved
    // into the queue by the worker.
    model(|| every_job_runs(1, 1, 1, 3, true));
}
