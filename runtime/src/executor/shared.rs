//! The part of a loop that other threads reach: its remote queue and the
//! wake that unparks its driver (its eventfd, or a CQE posted into its
//! ring).
//!
//! Unpark protocol: a remote pusher queues its item, then delivers a wake
//! only if `notified` was clear. The loop clears `notified` at the start of
//! each turn *before* draining the queue, so an item pushed after the drain
//! always finds `notified` clear and delivers a wake, which ends the
//! driver's wait. At most one wake per loop turn, however many threads
//! wake it.
//!
//! A wake is delivered one of two ways, both kernel objects outside the
//! memory model that end the target's wait once posted:
//!
//! - **eventfd**: the pusher writes the loop's eventfd (the loop keeps a
//!   read of it armed in its ring, or the fd in its epoll set);
//! - **ring to ring** (`IORING_OP_MSG_RING`, 5.18): when the pusher runs
//!   on an io_uring loop of its own whose kernel has MSG_RING
//!   ([`RingWake`], set while that loop is entered on the thread) and the
//!   target is an io_uring loop ([`Shared::set_ring`]), the pusher's loop
//!   queues a MSG_RING SQE that posts a CQE into the target's ring; it
//!   reaches the kernel with that loop's next `io_uring_enter` (the end of
//!   its current turn, or `block_on`'s flush), so the wake costs the
//!   pusher no syscall of its own. Until then `notified` stays set and the
//!   wake is owed, exactly as between an eventfd pusher's swap and its
//!   write (the loom model `loom_deferred_wake_never_strands_a_remote_push`
//!   checks that delay). A MSG_RING that fails falls back to the eventfd.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

// The unpark protocol's queue and flag: loom's under `--cfg loom`.
use crate::sync::{AtomicBool as ProtocolBool, Mutex as ProtocolMutex};

use super::TaskRef;
use crate::metrics::LoopMetrics;

/// Work handed to a loop from another thread.
pub(crate) enum Remote {
    /// A task of this loop was woken elsewhere.
    Wake(TaskRef),
    /// Spawn a task (a `Send` future, or a factory of a `!Send` one).
    Spawn(Box<dyn FnOnce() + Send>),
}

pub(crate) struct Shared {
    pub(crate) id: usize,
    queue: ProtocolMutex<VecDeque<Remote>>,
    notified: ProtocolBool,
    eventfd: OwnedFd,
    /// The loop's io_uring (a duplicate of its fd, so a pusher's MSG_RING
    /// never names a closed or reused fd), when it takes ring-to-ring
    /// wakes.
    ring: OnceLock<OwnedFd>,
    /// Set when the loop should stop (worker threads).
    pub(crate) shutdown: AtomicBool,

    pub(crate) metrics: Arc<LoopMetrics>,
    /// Whether the loop still accepts remote work; changed under the lock.
    open: AtomicBool,
    /// Woken when `shutdown` is set (a worker's main future).
    pub(crate) shutdown_waker: Mutex<Option<std::task::Waker>>,
    /// Whether remote spawns are accepted (cleared when shutdown starts;
    /// wakes are still accepted while tasks finish).
    spawns: AtomicBool,
    /// How long a worker may let its tasks finish after a shutdown request.
    grace: Mutex<Option<Instant>>,
    /// Tasks a worker cancelled at teardown.
    pub(crate) cancelled: AtomicUsize,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

impl Shared {
    pub(crate) fn new(metrics: Arc<LoopMetrics>) -> io::Result<Arc<Self>> {
        // SAFETY: plain syscall.
        let fd =
            crate::sys::cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })
                .map_err(|e| crate::sys::context(e, "eventfd"))?;
        Ok(Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            queue: ProtocolMutex::new(VecDeque::new()),
            notified: ProtocolBool::new(false),
            // SAFETY: `fd` is new and owned by nobody else.
            eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
            ring: OnceLock::new(),
            shutdown: AtomicBool::new(false),
            metrics,
            open: AtomicBool::new(true),
            shutdown_waker: Mutex::new(None),
            spawns: AtomicBool::new(true),
            grace: Mutex::new(None),
            cancelled: AtomicUsize::new(0),
        }))
    }

    pub(crate) fn wake_fd(&self) -> RawFd {
        self.eventfd.as_raw_fd()
    }

    /// Makes the loop take ring-to-ring wakes into the io_uring `ring` (a
    /// duplicate of the loop's ring fd, which this keeps open). Once.
    pub(crate) fn set_ring(&self, ring: OwnedFd) {
        let _ = self.ring.set(ring);
    }

    /// The loop's ring fd for ring-to-ring wakes, if it takes them; open
    /// for as long as `self` lives.
    pub(crate) fn ring_fd(&self) -> Option<RawFd> {
        self.ring.get().map(AsRawFd::as_raw_fd)
    }

    /// Queues `r` for the loop and unparks it. A loop that has shut down
    /// refuses it (false); `r` is dropped here, which cancels a spawn.
    pub(crate) fn push_remote(self: &Arc<Self>, r: Remote) -> bool {
        if !self.enqueue(r) {
            return false;
        }
        self.unpark();
        true
    }

    /// The first half of [`push_remote`](Self::push_remote): queues `r`
    /// unless the loop refuses it (then `r` is dropped here).
    pub(crate) fn enqueue(&self, r: Remote) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let refused = match r {
            Remote::Spawn(_) => !self.spawns.load(Ordering::Acquire),
            Remote::Wake(_) => false,
        };
        if refused || !self.open.load(Ordering::Acquire) {
            drop(q);
            drop(r);
            return false;
        }
        q.push_back(r);
        true
    }

    /// Stops accepting remote work and returns what was queued. Checked
    /// under the queue lock, so nothing is queued after this returns (and
    /// no waker cycle through the queue can outlive the loop).
    pub(crate) fn close(&self) -> VecDeque<Remote> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.open.store(false, Ordering::Release);
        std::mem::take(&mut *q)
    }

    /// Ends the loop's current or next wait.
    pub(crate) fn unpark(self: &Arc<Self>) {
        if self.claim_wake() {
            self.deliver_wake();
        }
    }

    /// Sets `notified`; true when it was clear, i.e. this caller owes the
    /// loop a wake.
    pub(crate) fn claim_wake(&self) -> bool {
        !self.notified.swap(true, Ordering::AcqRel)
    }

    /// Delivers the wake a [`claim_wake`](Self::claim_wake) owes: into the
    /// loop's ring from this thread's io_uring loop when both can, else
    /// through the eventfd.
    fn deliver_wake(self: &Arc<Self>) {
        if self.ring.get().is_some() && post_ring_wake(self) {
            return;
        }
        self.write_eventfd();
    }

    /// Writes the loop's eventfd, which ends its wait.
    pub(crate) fn write_eventfd(&self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a local to our eventfd. EAGAIN
        // (counter saturated) still leaves it readable: fine.
        unsafe { libc::write(self.eventfd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Reads (and so resets) the eventfd's counter: 0 when not readable.
    #[cfg(test)]
    pub(crate) fn eventfd_take(&self) -> u64 {
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into a local from our non-blocking eventfd.
        let r = unsafe { libc::read(self.wake_fd(), (&mut n as *mut u64).cast(), 8) };
        if r < 0 {
            0
        } else {
            n
        }
    }

    /// Items queued and not drained yet (for the loom models).
    #[cfg(all(test, loom))]
    pub(crate) fn queued(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Start of a loop turn: re-arm the unpark, then take the remote items.
    pub(crate) fn drain(&self, out: &mut VecDeque<Remote>) {
        // An RMW, like the pushers' swap, so the flag's updates are ordered
        // as they happen, which the eventfd (a kernel object, outside the
        // memory model) relies on; on x86 it is the same `xchg` a SeqCst
        // store would be.
        self.notified.swap(false, Ordering::AcqRel);
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        out.append(&mut q);
    }
}

/// How the loop running on this thread posts a wake into another loop's
/// ring (ring-to-ring wakes): the event loop installs one while an
/// io_uring loop whose kernel has MSG_RING is entered ([`enter_ring_wake`]).
pub(crate) trait RingWake {
    /// Queues a wake of `target` (whose [`Shared::ring_fd`] is set) in this
    /// thread's ring; false when it cannot (then the caller writes the
    /// target's eventfd).
    fn post(&self, target: &Arc<Shared>) -> bool;
}

thread_local! {
    static RING_WAKE: RefCell<Option<Rc<dyn RingWake>>> = const { RefCell::new(None) };
}

fn post_ring_wake(target: &Arc<Shared>) -> bool {
    let hook = RING_WAKE.try_with(|h| h.borrow().clone()).ok().flatten();
    hook.is_some_and(|h| h.post(target))
}

/// While alive, wakes from this thread go ring to ring through `w`.
pub(crate) struct RingWakeEntered {
    prev: Option<Rc<dyn RingWake>>,
}

pub(crate) fn enter_ring_wake(w: Option<Rc<dyn RingWake>>) -> RingWakeEntered {
    let prev = RING_WAKE.with(|h| std::mem::replace(&mut *h.borrow_mut(), w));
    RingWakeEntered { prev }
}

impl Drop for RingWakeEntered {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = RING_WAKE.try_with(|h| *h.borrow_mut() = prev);
    }
}

/// Waking a loop's `Shared` unparks the loop: the driver gives this waker
/// to work it waits on outside any task (an orphaned pool job).
impl std::task::Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.unpark();
    }
}

impl Shared {
    /// Refuses further remote spawns (queued ones still run).
    pub(crate) fn stop_spawns(&self) {
        let _q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.spawns.store(false, Ordering::Release);
    }

    pub(crate) fn grace_deadline(&self) -> Option<Instant> {
        *self.grace.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks a worker loop to stop, letting its tasks run until `grace`
    /// (if any) first.
    pub(crate) fn request_shutdown(self: &Arc<Self>, grace: Option<Instant>) {
        *self.grace.lock().unwrap_or_else(|p| p.into_inner()) = grace;
        self.stop_spawns();
        self.shutdown.store(true, Ordering::SeqCst);
        let w = self
            .shutdown_waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = w {
            w.wake();
        }
        self.unpark();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The cross-thread unpark protocol: `notified` makes many wakes cost
    //! one eventfd write per park; `drain` re-arms it, so a wake that comes
    //! after a drain always unparks again.
    use super::*;

    fn eventfd_count(s: &Shared) -> u64 {
        s.eventfd_take()
    }

    #[test]
    fn many_wakes_one_write_until_drained() {
        let s = Shared::new(Arc::new(LoopMetrics::default())).unwrap();
        for _ in 0..10 {
            s.unpark();
        }
        assert_eq!(eventfd_count(&s), 1, "one write for ten wakes");
        s.unpark();
        assert_eq!(eventfd_count(&s), 0, "still notified: no second write");
        let mut out = VecDeque::new();
        s.drain(&mut out);
        s.unpark();
        assert_eq!(eventfd_count(&s), 1, "after a drain the next wake writes");
    }

    #[test]
    fn a_remote_push_unparks_and_is_drained() {
        let s = Shared::new(Arc::new(LoopMetrics::default())).unwrap();
        assert!(s.push_remote(Remote::Spawn(Box::new(|| {}))));
        assert_eq!(eventfd_count(&s), 1);
        let mut out = VecDeque::new();
        s.drain(&mut out);
        assert_eq!(out.len(), 1);
        // Closed (shutdown): pushes are refused, nothing leaks into the queue.
        s.close();
        assert!(!s.push_remote(Remote::Spawn(Box::new(|| {}))));
    }

    #[test]
    fn wakes_from_many_threads_are_never_lost() {
        let s = Shared::new(Arc::new(LoopMetrics::default())).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        s.push_remote(Remote::Spawn(Box::new(|| {})));
                    }
                })
            })
            .collect();
        let mut got = 0;
        let mut out = VecDeque::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while got < 4000 {
            assert!(std::time::Instant::now() < deadline, "lost wakes: {got}");
            // The loop's protocol: wait for the eventfd, then drain.
            let mut pfd = libc::pollfd {
                fd: s.wake_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, 1000) };
            eventfd_count(&s);
            s.drain(&mut out);
            got += out.len();
            out.clear();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(got, 4000);
    }
}
