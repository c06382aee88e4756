//! Building one loop (executor + driver + timers) on the thread that will
//! run it, the Auto fallback, and the worker threads of a runtime.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::FromRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread;

use super::{Enter, LoopCtx};
use crate::blocking::Pool;
use crate::driver::{Driver, Kind};
use crate::executor::{shared::Shared, Executor};
use crate::metrics::stall::HealthConfig;
use crate::metrics::LoopMetrics;
use crate::time::Timers;
use crate::Backend;

/// Setup errors after which `Backend::Auto` uses epoll: the kernel has no
/// io_uring (ENOSYS), a seccomp profile or `kernel.io_uring_disabled`
/// forbids it (EPERM, EACCES), the memlock limit is too low (ENOMEM), or
/// the kernel lacks what the driver needs (EOPNOTSUPP / Unsupported).
fn falls_back(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EPERM | libc::EACCES | libc::ENOMEM | libc::EOPNOTSUPP)
    ) || e.kind() == io::ErrorKind::Unsupported
}

/// A loop, built on the current thread, and why Auto fell back if it did.
pub(crate) struct Built {
    pub(crate) lc: Rc<LoopCtx>,
    pub(crate) fallback: Option<io::Error>,
}

pub(crate) fn build_loop(cfg: &LoopConfig, index: usize, pool: &Arc<Pool>) -> io::Result<Built> {
    let (requested, ring_entries) = (cfg.backend, cfg.ring_entries);
    crate::metrics::clock::init();
    let metrics = Arc::new(LoopMetrics::default());
    let shared = Shared::new(metrics.clone())?;
    // Waking `shared` unparks this loop: the driver's waker for pool jobs
    // whose operation was dropped.
    let unpark = std::task::Waker::from(shared.clone());
    let make = |kind| {
        let pool = pool.clone();
        Driver::new(
            kind,
            crate::driver::RingConfig {
                entries: ring_entries,
                min_wait: cfg.min_wait,
                ring_wakes: cfg.ring_wakes,
                faults: &cfg.faults,
            },
            cfg.recv_buffers,
            shared.wake_fd(),
            pool,
            unpark.clone(),
            metrics.clone(),
        )
    };
    let (driver, fallback) = match requested {
        Backend::IoUring => {
            let d = make(Kind::IoUring).map_err(|e| {
                crate::sys::context(e, "io_uring backend was requested but cannot start")
            })?;
            (d, None)
        }
        Backend::Epoll => (make(Kind::Epoll)?, None),
        Backend::Auto => match make(Kind::IoUring) {
            Ok(d) => (d, None),
            Err(e) if falls_back(&e) => (make(Kind::Epoll)?, Some(e)),
            Err(e) => return Err(crate::sys::context(e, "io_uring setup failed")),
        },
    };
    let backend: Backend = driver.kind().into();
    // Ring-to-ring wakes: other loops post into this ring (through a
    // duplicate of its fd, which `shared` keeps open), and this loop posts
    // into theirs when its kernel has MSG_RING.
    let mut driver = driver;
    let mut sends_ring_wakes = false;
    if let (true, Some(r)) = (cfg.ring_wakes, driver.ring()) {
        let fd = r.ring_fd();
        // SAFETY: plain syscall on our own ring's fd.
        let dup = crate::sys::cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })
            .map_err(|e| crate::sys::context(e, "dup of the io_uring fd"))?;
        // SAFETY: `dup` is new and owned by nobody else.
        shared.set_ring(unsafe { std::os::fd::OwnedFd::from_raw_fd(dup) });
        sends_ring_wakes = r.sends_ring_wakes();
    }
    let driver = Rc::new(RefCell::new(driver));
    let ring_wake = sends_ring_wakes.then(|| {
        Rc::new(super::ring_wake::LoopRingWake {
            driver: driver.clone(),
            own: shared.id,
        }) as Rc<dyn crate::executor::shared::RingWake>
    });
    crate::trace::event!(
        target: "ringloop::runtime",
        tracing::Level::INFO,
        loop_index = index,
        backend = %backend,
        fallback = fallback.as_ref().map(|e: &io::Error| tracing::field::display(e)),
        "event loop started"
    );
    let watch = cfg.watched.as_ref().and_then(|list| {
        let claim = super::watchdog::Claim::new()?;
        list.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(claim.slot());
        Some(claim)
    });
    Ok(Built {
        lc: Rc::new(LoopCtx {
            exec: Executor::new(shared.id),
            timers: Timers::new(shared.id, metrics.clone()),
            driver,
            shared,
            pool: pool.clone(),
            metrics,
            backend,
            index,
            health: cfg.health.clone(),
            stall_ticks: cfg
                .health
                .stall_threshold
                .map(|d| crate::metrics::clock::from_ns(d.as_nanos().min(u64::MAX as u128) as u64)),
            slow_ticks: std::cell::Cell::new(0),
            tsc: crate::metrics::clock::is_tsc(),
            woke_at: std::cell::Cell::new(0),
            spin_limit: cfg.health.spin_limit(),
            spin_since: std::cell::Cell::new(None),
            spin_count: std::cell::Cell::new(0),
            watch,
            ring_wake,
        }),
        fallback,
    })
}

/// What every loop of a runtime is built with.
#[derive(Debug, Clone)]
pub(crate) struct LoopConfig {
    pub(crate) backend: Backend,
    pub(crate) ring_entries: u32,
    pub(crate) recv_buffers: crate::driver::BufPoolConfig,
    /// Min-wait batching (io_uring with IORING_FEAT_MIN_TIMEOUT).
    pub(crate) min_wait: Option<crate::driver::MinWait>,
    /// Ring-to-ring wakes between io_uring loops (MSG_RING).
    pub(crate) ring_wakes: bool,
    /// The CPUs to pin loop i to (the i-th, wrapping), when pinning.
    pub(crate) pin: Option<Arc<[usize]>>,
    pub(crate) health: HealthConfig,
    pub(crate) faults: crate::faults::Faults,
    /// The runtime watchdog's list to join, when stall backtraces are on.
    pub(crate) watched: Option<super::watchdog::Watched>,
}

/// Drops the loop's tasks and timers with the loop current, so their
/// operations are cancelled through its driver; the driver itself drains
/// in its drop, when the last reference to it goes. Returns the number of
/// tasks that were still alive.
pub(crate) fn teardown(lc: &Rc<LoopCtx>) -> usize {
    match Enter::new(lc) {
        Ok(_enter) => {
            let n = lc.exec.shutdown(&lc.shared);
            lc.timers.borrow_mut().clear();
            n
        }
        Err(_) => 0,
    }
}

/// Runs the loop until it has no task left or `deadline` passes.
pub(crate) fn drain(lc: &Rc<LoopCtx>, deadline: std::time::Instant) {
    if let Ok(_enter) = Enter::new(lc) {
        super::run(lc, super::Drained::new(deadline));
    }
}

/// Pins the calling thread to CPU `i % cores`.
pub(crate) fn pin_to_cpu(cpus: &[usize], i: usize) -> io::Result<()> {
    let cpu = cpus[i % cpus.len()];
    // SAFETY: a zeroed cpu_set_t is a valid empty set; `cpu` came from
    // sched_getaffinity, so it is below CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t for the call; 0 means this thread.
    crate::sys::cvt(unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    })
    .map_err(|e| crate::sys::context(e, format_args!("sched_setaffinity(cpu {cpu})")))
    .map(drop)
}

/// The CPUs the calling thread may run on, in order.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set to fill.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid out-pointer of the size given; 0 = this thread.
    crate::sys::cvt(unsafe {
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
    })
    .map_err(|e| crate::sys::context(e, "sched_getaffinity"))?;
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE; `set` is initialised.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect();
    if cpus.is_empty() {
        return Err(io::Error::other("sched_getaffinity: no CPU allowed"));
    }
    Ok(cpus)
}

/// What a worker reports once its loop is up.
pub(crate) struct WorkerInfo {
    pub(crate) shared: Arc<Shared>,
    pub(crate) backend: Backend,
    pub(crate) fallback: Option<io::Error>,
}

/// Starts worker loop `index`; returns once its loop is built (or failed).
pub(crate) fn spawn_worker(
    index: usize,
    cfg: LoopConfig,
    pool: Arc<Pool>,
) -> io::Result<(WorkerInfo, thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name(format!("ringloop-worker-{index}"))
        .spawn(move || {
            if let Some(cpus) = &cfg.pin {
                if let Err(e) = pin_to_cpu(cpus, index) {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            let built = match build_loop(&cfg, index, &pool) {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let lc = built.lc;
            let info = WorkerInfo {
                shared: lc.shared.clone(),
                backend: lc.backend,
                fallback: built.fallback,
            };
            if tx.send(Ok(info)).is_err() {
                return;
            }
            if let Ok(enter) = Enter::new(&lc) {
                super::run(&lc, UntilShutdown(lc.shared.clone()));
                drop(enter);
            }
            if let Some(deadline) = lc.shared.grace_deadline() {
                drain(&lc, deadline);
            }
            let cancelled = teardown(&lc);
            lc.shared.cancelled.store(cancelled, Ordering::SeqCst);
        })
        .map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start worker thread {index}: {e}"))
        })?;
    match rx.recv() {
        Ok(Ok(info)) => Ok((info, thread)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(io::Error::other(format!(
                "worker thread {index} exited during setup"
            )))
        }
    }
}

/// A worker's main future: pending until the runtime asks it to stop.
struct UntilShutdown(Arc<Shared>);

impl Future for UntilShutdown {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.shutdown.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self
            .0
            .shutdown_waker
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
        if self.0.shutdown.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
