//! Stall backtraces: a watchdog thread that interrupts a loop stuck in one
//! poll and has it record its own stack.
//!
//! Opt-in ([`Builder::stall_backtrace`](crate::Builder::stall_backtrace)):
//! it starts a thread the user asked for, and each poll publishes its start
//! tick (one relaxed store before the poll, one after) for that thread to
//! see. The watchdog wakes every half stall threshold (1 ms to 100 ms);
//! when a loop's current poll started longer ago than the threshold, it
//! sends that thread [`signal()`] with `tgkill`, once per poll.
//!
//! The handler runs on the stalled thread, in the middle of whatever the
//! poll is doing, so it may only do async-signal-safe things: it finds its
//! thread's slot in a fixed static table (by `gettid`), checks the poll it
//! was sent for is still the one running, and calls glibc's `backtrace()`
//! into a stack array, copied into the slot's atomics. `backtrace()` is
//! safe there after one warm-up call (which loads libgcc's unwinder and
//! allocates), made when the loop claims its slot. Nothing is symbolized in
//! the handler: the loop does it after the poll returns, in the stall path
//! (see [`metrics::backtrace`](crate::metrics::backtrace)), so a stall
//! report carries the frames of the moment the watchdog caught it. A stall
//! shorter than the threshold plus the watchdog's period may end before it
//! is caught: its report has no trace.
//!
//! Not available without glibc (musl has no `backtrace()`): reports then
//! have no trace. A caveat of `backtrace()` in a handler: the unwinder
//! walks the loaded objects under the dynamic loader's lock, so a stall
//! caught while the thread itself holds that lock (inside `dlopen`, or
//! unwinding a panic) would deadlock that thread — one reason this is
//! opt-in. Under valgrind, where every poll is slow enough to be a stall,
//! an `echo --health all` run was seen not to exit; natively it does.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use crate::metrics::clock;

/// Frames kept per trace.
pub(crate) const MAX_FRAMES: usize = 64;
/// Loops that can be watched at once in a process.
const SLOTS: usize = 64;

/// One watched loop thread. Static, so the signal handler can reach it
/// without locks, allocation or thread-locals.
pub(crate) struct Slot {
    /// The thread's id; 0 = free.
    tid: AtomicI32,
    /// The tick the thread's current poll started; 0 = not polling.
    pub(crate) poll_start: AtomicU64,
    /// The poll start a trace is asked for (watchdog -> handler); 0 = none.
    want: AtomicU64,
    /// The last poll start the watchdog signalled for (watchdog only).
    signalled: AtomicU64,
    /// The poll start the frames below belong to; 0 = none captured.
    got: AtomicU64,
    len: AtomicUsize,
    frames: [AtomicUsize; MAX_FRAMES],
    /// How long the last capture took in the handler (ns).
    took_ns: AtomicU64,
    /// Traces captured.
    pub(crate) captured: AtomicU64,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("tid", &self.tid.load(Ordering::Relaxed))
            .field("captured", &self.captured.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[allow(clippy::declare_interior_mutable_const)]
const SLOT: Slot = Slot {
    tid: AtomicI32::new(0),
    poll_start: AtomicU64::new(0),
    want: AtomicU64::new(0),
    signalled: AtomicU64::new(0),
    got: AtomicU64::new(0),
    len: AtomicUsize::new(0),
    frames: [const { AtomicUsize::new(0) }; MAX_FRAMES],
    took_ns: AtomicU64::new(0),
    captured: AtomicU64::new(0),
};

static TABLE: [Slot; SLOTS] = [SLOT; SLOTS];

/// The signal the watchdog sends: `SIGRTMIN + 5`.
pub fn signal() -> libc::c_int {
    libc::SIGRTMIN() + 5
}

fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// A slot claimed by the loop thread; freed on drop.
pub(crate) struct Claim(&'static Slot);

impl std::ops::Deref for Claim {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        self.0
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.poll_start.store(0, Ordering::Release);
        self.0.tid.store(0, Ordering::Release);
    }
}

impl Claim {
    /// The slot, for the runtime's watchdog.
    pub(crate) fn slot(&self) -> &'static Slot {
        self.0
    }

    /// Claims a slot for the calling thread and readies the handler;
    /// `None` when the table is full or there is no `backtrace()`.
    pub(crate) fn new() -> Option<Claim> {
        if !cfg!(target_env = "gnu") || !install() {
            return None;
        }
        warm_up();
        let tid = gettid();
        let slot = TABLE.iter().find(|s| {
            s.tid
                .compare_exchange(0, tid, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        for a in [&slot.want, &slot.signalled, &slot.got, &slot.poll_start] {
            a.store(0, Ordering::Release);
        }
        Some(Claim(slot))
    }

    /// The frames captured during the poll that started at `start`, and
    /// how long the capture took; taken once.
    pub(crate) fn take(&self, start: u64) -> Option<(Vec<usize>, Duration)> {
        if self.got.load(Ordering::Acquire) != start {
            return None;
        }
        let n = self.len.load(Ordering::Relaxed).min(MAX_FRAMES);
        let frames = self.frames[..n]
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .collect();
        self.got.store(0, Ordering::Release);
        let took = Duration::from_nanos(self.took_ns.load(Ordering::Relaxed));
        Some((frames, took))
    }
}

/// Installs the handler once per process; false if it cannot be.
fn install() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE.get_or_init(|| {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask"
        // value to fill in.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // SAFETY: `sa.sa_mask` is a valid sigset to empty.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: `sa` is initialised; the handler only does
        // async-signal-safe work (see `capture`).
        unsafe { libc::sigaction(signal(), &sa, std::ptr::null_mut()) == 0 }
    })
}

/// The first `backtrace()` loads libgcc and allocates: never in a handler.
#[cfg(target_env = "gnu")]
fn warm_up() {
    let mut buf = [std::ptr::null_mut::<libc::c_void>(); 4];
    // SAFETY: `buf` has room for the 4 entries asked for.
    unsafe { libc::backtrace(buf.as_mut_ptr(), buf.len() as libc::c_int) };
}

#[cfg(not(target_env = "gnu"))]
fn warm_up() {}

extern "C" fn on_signal(_sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: reading and restoring this thread's errno is what a handler
    // must do so the interrupted code sees its own.
    let errno = unsafe { *libc::__errno_location() };
    let tid = gettid();
    if let Some(slot) = TABLE.iter().find(|s| s.tid.load(Ordering::Acquire) == tid) {
        capture(slot);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Async-signal-safe: atomics, `clock_gettime` and (warmed-up)
/// `backtrace()` into a stack array; no lock, no allocation.
#[inline(never)]
fn capture(slot: &Slot) {
    let want = slot.want.swap(0, Ordering::AcqRel);
    if want == 0 || want != slot.poll_start.load(Ordering::Acquire) {
        // The poll ended before the signal arrived.
        return;
    }
    let t0 = monotonic_ns();
    let n = frames_into(slot);
    slot.len.store(n, Ordering::Relaxed);
    slot.took_ns
        .store(monotonic_ns().saturating_sub(t0), Ordering::Relaxed);
    slot.got.store(want, Ordering::Release);
    slot.captured.fetch_add(1, Ordering::Relaxed);
}

#[cfg(target_env = "gnu")]
fn frames_into(slot: &Slot) -> usize {
    let mut buf = [std::ptr::null_mut::<libc::c_void>(); MAX_FRAMES];
    // SAFETY: `buf` has room for MAX_FRAMES entries; backtrace() was warmed
    // up on this thread's process before any signal could be sent.
    let n = unsafe { libc::backtrace(buf.as_mut_ptr(), MAX_FRAMES as libc::c_int) };
    let n = n.clamp(0, MAX_FRAMES as libc::c_int) as usize;
    for (dst, src) in slot.frames.iter().zip(&buf[..n]) {
        dst.store(*src as usize, Ordering::Relaxed);
    }
    n
}

#[cfg(not(target_env = "gnu"))]
fn frames_into(_slot: &Slot) -> usize {
    0
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; clock_gettime is
    // async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The loops a runtime's watchdog looks after.
pub(crate) type Watched = Arc<Mutex<Vec<&'static Slot>>>;

/// The watchdog thread of one runtime; stopped and joined on drop.
pub(crate) struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the thread that signals loops in `watched` whose poll has run
    /// longer than `threshold`.
    pub(crate) fn start(threshold: Duration, watched: Watched) -> std::io::Result<Watchdog> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let s = stop.clone();
        let period = (threshold / 2).clamp(Duration::from_millis(1), Duration::from_millis(100));
        let limit = clock::from_ns(threshold.as_nanos().min(u64::MAX as u128) as u64);
        let tsc = clock::is_tsc();
        let thread = thread::Builder::new()
            .name("ringloop-watchdog".into())
            .spawn(move || {
                // SAFETY: getpid has no arguments and cannot fail.
                let pid = unsafe { libc::getpid() };
                let (lock, cv) = &*s;
                let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                while !*stopped {
                    stopped = cv
                        .wait_timeout(stopped, period)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    let now = clock::now_with(tsc);
                    for slot in watched.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                        check(slot, pid, now, limit);
                    }
                }
            })
            .map_err(|e| crate::sys::context(e, "cannot start the stall watchdog thread"))?;
        Ok(Watchdog {
            stop,
            thread: Some(thread),
        })
    }
}

/// Signals the slot's thread if its poll has run longer than `limit`.
fn check(slot: &Slot, pid: libc::pid_t, now: u64, limit: u64) {
    let start = slot.poll_start.load(Ordering::Acquire);
    if start == 0
        || now.saturating_sub(start) <= limit
        || slot.signalled.load(Ordering::Relaxed) == start
    {
        return;
    }
    let tid = slot.tid.load(Ordering::Acquire);
    if tid == 0 {
        return;
    }
    slot.signalled.store(start, Ordering::Relaxed);
    slot.want.store(start, Ordering::Release);
    // SAFETY: tgkill with this process's id and a thread id of it; a
    // thread that exited meanwhile makes it fail with ESRCH, harmlessly.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signal()) };
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        *self.stop.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
