//! [`Runtime`]: N loops, one per thread, and the blocking pool they share.

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::resume_unwind;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;

use crate::blocking::Pool;
use crate::event_loop::watchdog::Watchdog;
use crate::event_loop::{self as worker, build_loop, spawn_worker, Enter, LoopConfig, LoopCtx};
use crate::handle::Handle;
use crate::metrics::MetricsSnapshot;
use crate::{Backend, Builder};

struct Worker {
    handle: Handle,
    thread: Option<thread::JoinHandle<()>>,
}

/// A ringloop runtime: loop 0 on the thread that built it (driven by
/// [`block_on`](Self::block_on)), plus `threads - 1` worker loops, each on its
/// own thread with its own executor and driver. Tasks never move between
/// loops.
///
/// `Runtime` is `!Send`: loop 0 belongs to the building thread (an io_uring
/// set up with `SINGLE_ISSUER` may only be entered by it).
///
/// Dropping the runtime stops every loop: their tasks are dropped (which
/// cancels their in-flight operations), each driver waits for the kernel's
/// final completions, worker threads are joined, then the blocking pool.
pub struct Runtime {
    main: Rc<LoopCtx>,
    workers: Vec<Worker>,
    pool: Arc<Pool>,
    fallback: Option<io::Error>,
    /// Stall backtraces' watchdog thread, when on.
    watchdog: Option<Watchdog>,
}

impl Runtime {
    pub(crate) fn new(b: &Builder) -> io::Result<Runtime> {
        let requested = b.requested_backend()?;
        // The CPUs this process may run on (a `taskset` or cpuset narrows
        // them): loop i is pinned to the i-th of them.
        let cpus: Option<std::sync::Arc<[usize]>> = if b.pin_to_cores {
            let cpus: std::sync::Arc<[usize]> = worker::allowed_cpus()?.into();
            worker::pin_to_cpu(&cpus, 0)?;
            Some(cpus)
        } else {
            None
        };
        let pool = Pool::new(b.pool);
        let cfg = LoopConfig {
            backend: requested,
            ring_entries: b.ring_entries,
            recv_buffers: b.recv_buffers,
            min_wait: b.min_wait,
            ring_wakes: b.ring_wakes,
            pin: cpus,
            health: b.health.clone(),
            faults: b.faults.clone(),
            watched: None,
        };
        // Stall backtraces need a poll to be timed and a threshold to pass.
        let watch = match b.health.stall_threshold {
            Some(t) if b.health.backtrace && b.health.timing => Some(t),
            _ => None,
        };
        let cfg = LoopConfig {
            watched: watch.map(|_| Default::default()),
            ..cfg
        };
        let built = build_loop(&cfg, 0, &pool)?;
        let mut rt = Runtime {
            main: built.lc,
            workers: Vec::new(),
            pool,
            fallback: built.fallback,
            watchdog: None,
        };
        for i in 1..b.threads {
            let (info, thread) = spawn_worker(i, cfg.clone(), rt.pool.clone())?;
            if rt.fallback.is_none() {
                rt.fallback = info.fallback;
            }
            rt.workers.push(Worker {
                handle: Handle {
                    shared: info.shared,
                    backend: info.backend,
                },
                thread: Some(thread),
            });
        }
        if let (Some(t), Some(list)) = (watch, &cfg.watched) {
            rt.watchdog = Some(Watchdog::start(t, list.clone())?);
        }
        Ok(rt)
    }

    /// Runs `fut` to completion on loop 0 (this thread), driving its tasks,
    /// timers and I/O meanwhile.
    ///
    /// # Panics
    ///
    /// When called from inside a ringloop runtime (a loop cannot block on
    /// another without stalling its own tasks).
    #[track_caller]
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let enter = Enter::new(&self.main).unwrap_or_else(|e| panic!("ringloop: {e}"));
        let out = crate::event_loop::run(&self.main, fut);
        // What the finished future dropped (sockets it owned) queued CLOSEs:
        // hand them to the kernel now, not at the next `block_on`.
        self.main.driver.borrow_mut().flush();
        drop(enter);
        out
    }

    /// Runs `factory(i)` on every loop `i` (thread-per-core) and returns the
    /// outputs in loop order. Each future is created on its own thread, so it
    /// may be `!Send`; loop 0's runs here.
    ///
    /// A panic in any of them is resumed here once all have finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringloop::Builder::new().threads(2).build().unwrap();
    /// let ids = rt.run_on_each_thread(|i| async move { i * 10 });
    /// assert_eq!(ids, vec![0, 10]);
    /// ```
    pub fn run_on_each_thread<M, F, T>(&self, factory: M) -> Vec<T>
    where
        M: Fn(usize) -> F + Send + Sync + 'static,
        F: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let factory = Arc::new(factory);
        let handles: Vec<_> = self
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let f = factory.clone();
                w.handle.spawn_with(move || f(i + 1))
            })
            .collect();
        let results = self.block_on(async move {
            // Spawned, so its panic becomes a JoinError like the workers'.
            let first = crate::spawn(factory(0)).await;
            let mut out = vec![first];
            for h in handles {
                out.push(h.await);
            }
            out
        });
        let mut outputs = Vec::with_capacity(results.len());
        let mut panic = None;
        for r in results {
            match r {
                Ok(v) => outputs.push(v),
                Err(e) => match e.try_into_panic() {
                    Ok(p) => panic = panic.or(Some(p)),
                    Err(e) => panic = panic.or(Some(Box::new(format!("ringloop worker: {e}")))),
                },
            }
        }
        if let Some(p) = panic {
            resume_unwind(p);
        }
        outputs
    }

    /// The backend loop 0 runs on (never `Auto`). Every loop of a runtime
    /// requests the same backend.
    pub fn backend(&self) -> Backend {
        self.main.backend
    }

    /// Why `Backend::Auto` fell back to epoll, if it did: the io_uring setup
    /// error (ENOSYS, EPERM, EACCES, ENOMEM, or an unsupported kernel).
    pub fn fallback_reason(&self) -> Option<&io::Error> {
        self.fallback.as_ref()
    }

    /// A description of loop 0's driver (ring sizes and setup flags, or
    /// epoll), for logs.
    pub fn driver_description(&self) -> String {
        self.main.driver.borrow().describe()
    }

    /// Whether [`Builder::min_wait`](crate::Builder::min_wait) is in effect
    /// on loop 0 (asked for, on io_uring, on a kernel that has it).
    pub fn min_wait_in_effect(&self) -> bool {
        self.main.driver.borrow().min_wait_in_effect()
    }

    /// Ring-to-ring wakes loop 0 has sent and received (`MSG_RING`), for
    /// tests; `(0, 0)` on epoll.
    #[doc(hidden)]
    pub fn debug_ring_wakes(&self) -> (u64, u64) {
        self.main
            .driver
            .borrow_mut()
            .ring()
            .map_or((0, 0), |r| r.ring_wakes())
    }

    /// Number of loops (threads).
    pub fn threads(&self) -> usize {
        1 + self.workers.len()
    }

    /// Handles of all loops, loop 0 first.
    pub fn handles(&self) -> Vec<Handle> {
        let mut v = vec![Handle {
            shared: self.main.shared.clone(),
            backend: self.main.backend,
        }];
        v.extend(self.workers.iter().map(|w| w.handle.clone()));
        v
    }

    /// Counters summed over all loops, with the blocking pool's.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut m = self.main.metrics.snapshot(self.main.backend);
        for w in &self.workers {
            m = m + w.handle.metrics();
        }
        m.blocking = self.pool.snapshot();
        m
    }

    /// What loop 0 still holds: tasks alive, timers armed, operations whose
    /// memory the kernel or a pool thread may still touch, and fds with
    /// epoll readiness state. All 0 when idle; for leak checks in tests.
    #[doc(hidden)]
    pub fn debug_resources(&self) -> [usize; 4] {
        let d = self.main.driver.borrow();
        [
            self.main.exec.alive(),
            self.main.timers.borrow().len(),
            d.in_flight(),
            d.registered_fds(),
        ]
    }
}

impl Runtime {
    /// Shuts the runtime down gracefully: stops accepting remote spawns,
    /// lets every loop run until its tasks have finished or `grace` has
    /// passed, then cancels what is left (dropping tasks cancels their
    /// in-flight operations), waits for the kernel's final completions,
    /// joins the worker threads and the blocking pool. Returns the number
    /// of tasks cancelled at the end of the grace period.
    ///
    /// Dropping a `Runtime` is `shutdown(Duration::ZERO)`.
    ///
    /// # Panics
    ///
    /// When called from inside a ringloop runtime (see
    /// [`block_on`](Self::block_on)).
    pub fn shutdown(mut self, grace: std::time::Duration) -> usize {
        self.stop(grace)
    }

    fn stop(&mut self, grace: std::time::Duration) -> usize {
        let grace = if crate::mutant::on("grace_ignored") {
            std::time::Duration::ZERO
        } else {
            grace
        };
        let deadline = std::time::Instant::now() + grace;
        let graceful = (!grace.is_zero()).then_some(deadline);
        self.main.shared.stop_spawns();
        for w in &self.workers {
            w.handle.shared.request_shutdown(graceful);
        }
        if graceful.is_some() {
            worker::drain(&self.main, deadline);
        }
        let mut cancelled = 0;
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
                cancelled += w
                    .handle
                    .shared
                    .cancelled
                    .load(std::sync::atomic::Ordering::SeqCst);
            }
        }
        cancelled += worker::teardown(&self.main);
        // Queued pool jobs still run; their threads are joined. Loop 0's
        // driver drains its in-flight operations when `self.main` (the last
        // reference, unless the user kept an operation alive) drops next.
        self.pool.shutdown();
        cancelled
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop(std::time::Duration::ZERO);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("backend", &self.main.backend)
            .field("threads", &self.threads())
            .field("fallback", &self.fallback)
            .finish()
    }
}
