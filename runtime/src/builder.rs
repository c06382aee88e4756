//! [`Builder`] and [`Backend`].

use std::fmt;
use std::io;
use std::str::FromStr;
use std::time::Duration;

use crate::blocking::PoolConfig;
use crate::metrics::stall::HealthConfig;
use crate::metrics::StallReport;
use crate::Runtime;

/// Which driver a loop runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// io_uring when the kernel allows it, else epoll. The environment
    /// variable `RINGLOOP_BACKEND=uring|epoll` overrides it.
    Auto,
    /// io_uring, the proactor. Failing to set it up is an error.
    IoUring,
    /// epoll, the reactor, with file operations on the blocking pool.
    Epoll,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Auto => "auto",
            Backend::IoUring => "uring",
            Backend::Epoll => "epoll",
        })
    }
}

impl FromStr for Backend {
    type Err = io::Error;

    /// Parses `auto`, `uring` (or `io_uring`, `iouring`) and `epoll`.
    fn from_str(s: &str) -> io::Result<Backend> {
        match crate::backend_name::parse(s) {
            Ok(None) => Ok(Backend::Auto),
            Ok(Some(true)) => Ok(Backend::IoUring),
            Ok(Some(false)) => Ok(Backend::Epoll),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        }
    }
}

/// The environment variable that overrides [`Backend::Auto`].
pub const BACKEND_ENV: &str = "RINGLOOP_BACKEND";

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// use ringloop::{Backend, Builder};
///
/// let rt = Builder::new().backend(Backend::Epoll).build().unwrap();
/// assert_eq!(rt.backend(), Backend::Epoll);
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) backend: Backend,
    pub(crate) threads: usize,
    pub(crate) pin_to_cores: bool,
    pub(crate) ring_entries: u32,
    pub(crate) recv_buffers: crate::driver::BufPoolConfig,
    pub(crate) min_wait: Option<crate::driver::MinWait>,
    pub(crate) ring_wakes: bool,
    pub(crate) pool: PoolConfig,
    pub(crate) health: HealthConfig,
    pub(crate) faults: crate::faults::Faults,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: `Backend::Auto`, one loop (the calling thread), no pinning,
    /// 256 SQEs per ring, a blocking pool of up to 64 threads with a queue of
    /// 16,384 jobs and a 10 s keep-alive.
    pub fn new() -> Self {
        Builder {
            backend: Backend::Auto,
            threads: 1,
            pin_to_cores: false,
            ring_entries: 256,
            recv_buffers: crate::driver::BufPoolConfig::default(),
            min_wait: None,
            ring_wakes: true,
            pool: PoolConfig {
                max_threads: 64,
                queue_capacity: 16_384,
                keep_alive: Duration::from_secs(10),
                cached_first: true,
            },
            health: HealthConfig::default(),
            faults: crate::faults::Faults::default(),
        }
    }

    /// Faults to inject into every io_uring driver of the runtime (feature
    /// `fault-injection`, for tests; see [`faults`](crate::faults)).
    #[cfg(feature = "fault-injection")]
    pub fn faults(&mut self, plan: crate::faults::Faults) -> &mut Self {
        self.faults = plan;
        self
    }

    /// The backend for every loop of the runtime.
    pub fn backend(&mut self, backend: Backend) -> &mut Self {
        self.backend = backend;
        self
    }

    /// Number of loops, each with its own executor and driver (at least 1).
    /// Loop 0 is the thread that calls [`Runtime::block_on`]; the others
    /// are worker threads started by [`build`](Self::build).
    pub fn threads(&mut self, n: usize) -> &mut Self {
        self.threads = n.max(1);
        self
    }

    /// Pins loop `i` to CPU `i % cores` (the building thread too).
    pub fn pin_to_cores(&mut self, pin: bool) -> &mut Self {
        self.pin_to_cores = pin;
        self
    }

    /// SQ entries per ring (the kernel rounds up to a power of two; the CQ
    /// gets twice as many).
    pub fn ring_entries(&mut self, n: u32) -> &mut Self {
        self.ring_entries = n;
        self
    }

    /// The loop-owned receive buffers of pooled receives
    /// (`recv_pooled`, `recv_stream` on sockets): `count` buffers (a power
    /// of two, at most 32,768) of `size` bytes per loop; default 256 × 16
    /// KiB. On io_uring they form a provided-buffer ring the kernel picks
    /// from when data arrives; on epoll a free list. Memory is allocated at
    /// the loop's first pooled receive; pages are touched only as they are
    /// used. A bad value is an error at the first pooled receive.
    pub fn recv_buffers(&mut self, count: u16, size: u32) -> &mut Self {
        self.recv_buffers = crate::driver::BufPoolConfig { count, size };
        self
    }

    /// Min-wait batching, for throughput servers: a loop with nothing to
    /// run waits for `completions` completions or `wait`, whichever comes
    /// first, then sleeps until the next completion or timer.
    ///
    /// Without it a parked loop wakes at the first completion, so under
    /// load it turns once per completion or few; with it, one turn handles
    /// a batch of up to `completions`, at the price of up to `wait` more
    /// latency for the first of them (and for a wake from another thread).
    /// The loop's timers still bound every wait: a timer due within `wait`
    /// ends it at the timer's deadline. Past `wait` with nothing completed,
    /// the loop sleeps as without the option.
    ///
    /// io_uring only, on kernels with `IORING_FEAT_MIN_TIMEOUT` (Linux
    /// 6.12; `wait` is in whole µs, `completions` at most the CQ's size).
    /// Elsewhere (an older kernel, epoll) the option is accepted and not in
    /// effect, never an error:
    /// [`Runtime::driver_description`](crate::Runtime::driver_description)
    /// ends with `min_wait=NxUus` and, when it is not in effect,
    /// `(not in effect: why)`. `completions == 0` or a zero `wait` turns it
    /// off (the default).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = ringloop::Builder::new()
    ///     .min_wait(32, Duration::from_micros(50))
    ///     .build()
    ///     .unwrap();
    /// assert!(rt.driver_description().contains("min_wait=32x50us"));
    /// ```
    pub fn min_wait(&mut self, completions: u32, wait: Duration) -> &mut Self {
        let usec = u32::try_from(wait.as_micros()).unwrap_or(u32::MAX);
        self.min_wait =
            (completions > 0 && usec > 0).then_some(crate::driver::MinWait { completions, usec });
        self
    }

    /// Ring-to-ring wakes (on by default): when a task on one io_uring loop
    /// wakes a task of another, or spawns onto it through its
    /// [`Handle`](crate::Handle), the wake is a CQE the sending ring posts
    /// into the target's (`IORING_OP_MSG_RING`, Linux 5.18), sent with the
    /// sender's next `io_uring_enter`, instead of a write of the target's
    /// eventfd (a syscall of its own). Wakes from threads that run no loop,
    /// from or to epoll loops, and on kernels without MSG_RING use the
    /// eventfd. `false` makes every wake use the eventfd (for comparison).
    pub fn ring_wakes(&mut self, on: bool) -> &mut Self {
        self.ring_wakes = on;
        self
    }

    /// Upper bound on blocking-pool threads (at least 1).
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.pool.max_threads = n.max(1);
        self
    }

    /// Jobs that may wait for a pool thread. Past it,
    /// [`spawn_blocking`](crate::spawn_blocking) is rejected (overload is
    /// reported), while the runtime's own file operations and
    /// [`task::spawn_blocking_wait`](crate::task::spawn_blocking_wait) wait
    /// for room (backpressure, never an error).
    pub fn blocking_queue_capacity(&mut self, n: usize) -> &mut Self {
        self.pool.queue_capacity = n;
        self
    }

    /// Whether an operation headed for the blocking pool (a file operation
    /// on epoll, or on an io_uring whose kernel lacks its opcode) first
    /// tries the form the kernel can finish without blocking, on the loop
    /// thread: `preadv2(RWF_NOWAIT)` for reads of cached pages (4.14),
    /// `openat2(RESOLVE_CACHED)` for opens the dentry cache can answer
    /// (5.12), `statx` of an open file. Only when the kernel says it would
    /// block (or lacks the form) does the operation go to the pool.
    /// Default: on. The loop's metrics count what ran inline
    /// (`ops_cached_inline`).
    pub fn cached_file_ops_first(&mut self, on: bool) -> &mut Self {
        self.pool.cached_first = on;
        self
    }

    /// How long an idle pool thread waits for work before it exits.
    pub fn blocking_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.pool.keep_alive = d;
        self
    }

    /// Times every task poll (one clock read per poll) for the loop-lag
    /// histogram, the longest-poll record and the stall detector. On by
    /// default; its cost is measured by the `runtime` bench.
    pub fn poll_timing(&mut self, on: bool) -> &mut Self {
        self.health.timing = on;
        self
    }

    /// Polls longer than `threshold` count as stalls and go to the
    /// [`on_stall`](Self::on_stall) callback; `None` turns the detector off.
    /// Default: 5 ms.
    pub fn stall_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.health.stall_threshold = threshold;
        self
    }

    /// The busy-spin detector: a loop that wakes from its park more than
    /// `per_second` times a second (counted over each
    /// [`spin_window`](Self::spin_window)) without finding a task to poll or
    /// a timer due is spinning, and is reported once per window to the
    /// [`on_stall`](Self::on_stall) callback as a
    /// [`StallKind::Spin`](crate::metrics::StallKind::Spin). `None` turns the
    /// reports off (empty wakes are still counted in
    /// [`MetricsSnapshot::empty_wakes`](crate::metrics::MetricsSnapshot::empty_wakes)).
    /// Default: 10,000 a second. Costs one compare per park; the window's
    /// bookkeeping runs only on empty wakes.
    pub fn spin_threshold(&mut self, per_second: Option<u32>) -> &mut Self {
        self.health.spin_per_sec = per_second;
        self
    }

    /// The window over which empty wakes are counted against the
    /// [`spin_threshold`](Self::spin_threshold). Default: 1 s.
    pub fn spin_window(&mut self, window: Duration) -> &mut Self {
        self.health.spin_window = window.max(Duration::from_millis(1));
        self
    }

    /// Captures the stalled thread's stack into each stall report
    /// ([`StallReport::backtrace`]), caught while the poll is still running.
    /// Off by default: it starts one watchdog thread per runtime, which
    /// wakes every half stall threshold (1 ms to 100 ms), and each poll
    /// publishes its start for it (two relaxed stores). On a stall the
    /// watchdog sends the loop thread `SIGRTMIN + 5` (the runtime installs
    /// its handler: leave that signal to it); the handler records the raw
    /// frames (glibc `backtrace()`, warmed up beforehand, into a static
    /// slot) and the loop names them after the poll returns. That cost is
    /// paid only on a stall, and each report carries it
    /// ([`StallBacktrace::capture`](crate::metrics::StallBacktrace::capture),
    /// [`symbolize`](crate::metrics::StallBacktrace::symbolize)). Needs a
    /// stall threshold and poll timing; without glibc reports carry no
    /// trace.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = ringloop::Builder::new()
    ///     .stall_threshold(Some(Duration::from_millis(10)))
    ///     .stall_backtrace(true)
    ///     .on_stall(|r| eprintln!("{r}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn stall_backtrace(&mut self, on: bool) -> &mut Self {
        self.health.backtrace = on;
        self
    }

    /// Called on the loop thread, right after the poll, for every stall,
    /// and on an empty wake for every spin.
    /// Keep it short: it runs on the loop it reports about.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = ringloop::Builder::new()
    ///     .stall_threshold(Some(Duration::from_millis(5)))
    ///     .on_stall(|r| eprintln!("{r}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_stall(&mut self, f: impl Fn(&StallReport) + Send + Sync + 'static) -> &mut Self {
        self.health.on_stall = Some(std::sync::Arc::new(f));
        self
    }

    /// The backend to request after applying `RINGLOOP_BACKEND` to `Auto`.
    pub(crate) fn requested_backend(&self) -> io::Result<Backend> {
        if self.backend != Backend::Auto {
            return Ok(self.backend);
        }
        match std::env::var(BACKEND_ENV) {
            Ok(v) => v
                .parse()
                .map_err(|e: io::Error| io::Error::new(e.kind(), format!("{BACKEND_ENV}: {e}"))),
            Err(_) => Ok(Backend::Auto),
        }
    }

    /// Builds the runtime: loop 0 on the calling thread, and `threads - 1`
    /// worker threads.
    ///
    /// Fails when a forced backend cannot start (a forced io_uring never
    /// falls back silently), when `RINGLOOP_BACKEND` holds an unknown value,
    /// or when threads or fds cannot be created.
    pub fn build(&self) -> io::Result<Runtime> {
        Runtime::new(self)
    }
}
