//! Loop-owned receive buffers: [`BufPool`] and the handle a receive yields,
//! [`PooledBuf`].
//!
//! A receive that owns its buffer pins that buffer for as long as the peer
//! is silent: 10,000 idle connections × 16 KiB is 160 MiB. A pooled receive
//! takes a buffer only when data arrives:
//!
//! - **io_uring**: the pool's buffers are handed to the kernel in a
//!   provided-buffer ring (`IORING_REGISTER_PBUF_RING`, 5.19; see
//!   `uring/bufring.rs`); a receive with `IOSQE_BUFFER_SELECT` (and the
//!   multishot receive, 6.0) lets the kernel pick one when bytes arrive, and
//!   the CQE names it.
//! - **epoll** (and io_uring without buffer rings): the receive waits for
//!   readability, then takes a free buffer from the same pool and reads
//!   into it; `EAGAIN` gives it straight back.
//!
//! Either way a [`PooledBuf`] goes back to its pool when dropped (on
//! io_uring: back into the kernel's ring), and a receive that finds the
//! pool empty waits for one to come back (`ENOBUFS` on io_uring): data
//! waits in the socket meanwhile, so nothing is lost and nothing spins.
//!
//! The pool's memory is one allocation of `count × size` bytes, made when
//! the loop's first pooled receive asks for it; pages are touched only by
//! the receives that use them. The readiness path reuses the buffer it gave
//! back last (a stack). The kernel's ring consumes in order, so every
//! buffer in it is touched in turn: it starts with [`RING_START`] buffers
//! and doubles (up to the pool) only when the kernel is down to a quarter
//! of those still to pick, so a loop touches as many buffers as its load
//! keeps in flight, not the whole pool (16 MiB at 1,024 × 16 KiB).
//!
//! **Receive bundles** (`IORING_RECVSEND_BUNDLE`, 6.10, reported by
//! `IORING_FEAT_RECVSEND_BUNDLE`): a multishot receive that asks for them
//! fills several buffers of the ring in ring order from one completion,
//! which names the first buffer and the byte count over all of them (every
//! buffer but the last is full). When the driver reaps such a completion,
//! the pool reads the ids that follow from the ring entries after the
//! first one's position and links them ([`PooledBufs`] walks the links);
//! a completion of `n` bytes took `ceil(n / size)` buffers, one for a
//! receive without bundles. Where the kernel lacks them (or on epoll) the
//! same receive yields one buffer per completion: the same bytes.
//!
//! **Incremental consumption** (`IOU_PBUF_RING_INC`, 6.12; the ring is
//! registered with it where the kernel takes the flag, without it after
//! `EINVAL`): the kernel fills a buffer piece by piece, one receive after
//! another (of any socket), instead of spending a whole buffer on each, so
//! large buffers cost no memory per small message. A completion with
//! `IORING_CQE_F_BUF_MORE` leaves its last buffer in the ring, to be filled
//! on from where it ended; the pool tracks that offset per buffer, and
//! gives a buffer back only when a completion without `F_BUF_MORE` has
//! retired it *and* every handle to its pieces has dropped. With bundles,
//! a completion starts in its first buffer where the last one left off,
//! fills the next ones from their start, and `F_BUF_MORE` is about its
//! last one (the kernel's `io_kbuf_inc_commit`). Since one buffer id then
//! stands for several pieces in completions not read yet (receives on
//! different sockets are read in any order), the driver hands each
//! completion on with a ticket in place of the buffer id, naming the
//! buffer and the piece's start (see `reap.rs`).

mod handles;
mod reap;

pub use handles::{BufSlot, PooledBuf, PooledBufs};

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::Waker;

use super::uring::BufRing;

/// Buffers the kernel's ring is given first (see the module docs).
const RING_START: usize = 32;

/// How many buffers of what size a loop's pool has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufPoolConfig {
    /// Buffers (a power of two, at most 32,768).
    pub(crate) count: u16,
    /// Bytes per buffer.
    pub(crate) size: u32,
}

impl Default for BufPoolConfig {
    fn default() -> Self {
        BufPoolConfig {
            count: 256,
            size: 16 * 1024,
        }
    }
}

/// One loop's receive buffers (see the module docs), for operations that
/// receive into loop-owned buffers: the socket crate's pooled receives are
/// written with it.
pub struct BufPool {
    memory: NonNull<u8>,
    layout: std::alloc::Layout,
    cfg: BufPoolConfig,
    /// Buffers held by nobody and not in the kernel's ring (the readiness
    /// path's free list; on io_uring, buffers waiting to be re-added when
    /// the ring is gone).
    free: RefCell<Vec<u16>>,
    /// The kernel's ring of these buffers (io_uring), once registered.
    ring: RefCell<Option<BufRing>>,
    /// Buffers held by callers (for tests and metrics).
    out: Cell<usize>,
    /// Each buffer's state.
    state: RefCell<Vec<BufState>>,
    /// Buffers in the kernel's ring, not yet picked (io_uring): the driver
    /// counts every CQE that carries one as it reaps it.
    in_ring: Cell<usize>,
    /// Buffers given to the kernel's ring so far (in it, or held after
    /// it picked them); the rest stay in `free`, untouched.
    circulating: Cell<usize>,
    /// One past the highest buffer id ever used (ids are used lowest
    /// first): how many buffers' pages may have been touched.
    high: Cell<usize>,
    /// Receives waiting for a buffer to come back.
    waiters: RefCell<Vec<Waker>>,
    /// The kernel's ring can fill several buffers per completion (6.10).
    bundles: Cell<bool>,
    /// The kernel's ring consumes buffers incrementally (6.12).
    incremental: Cell<bool>,
    /// Incremental consumption: the piece each reaped completion not read
    /// yet stands for (`reap.rs`).
    tickets: RefCell<reap::Tickets>,
}

/// What the pool knows of one buffer.
#[derive(Debug, Clone, Copy, Default)]
struct BufState {
    /// Live handles to its bytes (`PooledBuf`s, a `BufSlot`): it goes back
    /// when the last drops, unless the kernel's ring still holds it.
    pieces: u32,
    /// In the kernel's ring (with incremental consumption, possibly with
    /// `filled` bytes already handed out).
    ringed: bool,
    /// Bytes the kernel filled from its start while it stays in the ring.
    filled: u32,
    /// Where it was last written in the kernel's ring (wrapping): a
    /// bundle's first buffer's says where the rest of the bundle is.
    pos: u16,
    /// The buffer after it in the bundle that took it (valid from the reap
    /// of that bundle's completion until the buffer comes back).
    next: u16,
}

impl BufPool {
    /// A pool of `cfg.count` buffers of `cfg.size` bytes, all free.
    pub(crate) fn new(cfg: BufPoolConfig) -> std::io::Result<Rc<BufPool>> {
        let invalid =
            |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
        if cfg.count == 0 || !cfg.count.is_power_of_two() || cfg.count > 32_768 {
            return Err(invalid(
                "receive buffers: the count must be a power of two up to 32768",
            ));
        }
        if cfg.size == 0 {
            return Err(invalid("receive buffers: the size must not be 0"));
        }
        let bytes = cfg.count as usize * cfg.size as usize;
        let layout = std::alloc::Layout::from_size_align(bytes, 4096)
            .map_err(|_| invalid("receive buffers: too large"))?;
        // SAFETY: `layout` has a non-zero size (count and size are non-zero).
        let p = unsafe { std::alloc::alloc(layout) };
        let memory = NonNull::new(p).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                "receive buffers: out of memory",
            )
        })?;
        Ok(Rc::new(BufPool {
            memory,
            layout,
            cfg,
            free: RefCell::new((0..cfg.count).rev().collect()),
            ring: RefCell::new(None),
            out: Cell::new(0),
            state: RefCell::new(vec![BufState::default(); cfg.count as usize]),
            in_ring: Cell::new(0),
            circulating: Cell::new(0),
            high: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            bundles: Cell::new(false),
            incremental: Cell::new(false),
            tickets: RefCell::new(reap::Tickets::default()),
        }))
    }

    /// The pool of the loop running on this thread (made at the first call,
    /// with the sizes given to
    /// [`Builder::recv_buffers`](crate::Builder::recv_buffers)).
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime, or when the configured sizes are invalid
    /// or cannot be allocated.
    pub fn current() -> std::io::Result<Rc<BufPool>> {
        super::current::buf_pool()
    }

    /// Bytes per buffer.
    pub fn buf_size(&self) -> usize {
        self.cfg.size as usize
    }

    /// Buffers in the pool.
    pub fn count(&self) -> usize {
        self.cfg.count as usize
    }

    /// Buffers held by callers now (received and not yet dropped).
    pub fn in_use(&self) -> usize {
        self.out.get()
    }

    /// How many buffers have ever been used (given to the kernel's ring or
    /// received into): the ones whose pages may be resident. The others
    /// cost address space only.
    pub fn touched(&self) -> usize {
        self.high.get()
    }

    /// The address of buffer `id`.
    pub(crate) fn addr(&self, id: u16) -> *mut u8 {
        debug_assert!(id < self.cfg.count);
        // SAFETY: `id < count`, so the offset stays inside the allocation.
        unsafe {
            self.memory
                .as_ptr()
                .add(id as usize * self.cfg.size as usize)
        }
    }

    /// Hands every free buffer to `ring` (io_uring): from now on the kernel
    /// picks them; `bundles`: the kernel can fill several per completion;
    /// `incremental`: the ring was registered with `IOU_PBUF_RING_INC`.
    pub(crate) fn attach_ring(&self, ring: BufRing, bundles: bool, incremental: bool) {
        *self.ring.borrow_mut() = Some(ring);
        self.bundles.set(bundles);
        self.incremental.set(incremental);
        self.grow_ring(RING_START);
    }

    /// Whether the kernel's ring consumes buffers incrementally
    /// (`IOU_PBUF_RING_INC`, 6.12): several receives share a buffer, each
    /// [`PooledBuf`] a piece of it.
    pub fn incremental(&self) -> bool {
        self.incremental.get() && self.ring.borrow().is_some()
    }

    /// Whether a multishot receive may ask for bundles (the kernel's ring
    /// picks the buffers and has `IORING_FEAT_RECVSEND_BUNDLE`, 6.10): one
    /// completion then carries several buffers, read with
    /// [`from_completion`](Self::from_completion) as usual.
    pub fn bundles(&self) -> bool {
        self.bundles.get() && self.ring.borrow().is_some()
    }

    /// Writes buffer `id` at the ring's tail, remembering where.
    fn push_to_ring(&self, ring: &BufRing, id: u16) {
        let pos = ring.push(self.addr(id), self.cfg.size, id);
        let st = &mut self.state.borrow_mut()[id as usize];
        st.pos = pos;
        st.ringed = true;
        st.filled = 0;
    }

    /// The buffer after `id` in its bundle.
    pub(crate) fn next_in_bundle(&self, id: u16) -> u16 {
        self.state.borrow()[id as usize].next
    }

    /// Moves up to `n` free buffers (lowest ids first) into the kernel's
    /// ring; whether any moved.
    fn grow_ring(&self, n: usize) -> bool {
        let ring = self.ring.borrow();
        let Some(ring) = ring.as_ref() else {
            return false;
        };
        let mut free = self.free.borrow_mut();
        let k = n.min(free.len());
        for _ in 0..k {
            let id = free.pop().expect("k <= free.len()");
            self.push_to_ring(ring, id);
            self.high.set(self.high.get().max(id as usize + 1));
        }
        if k > 0 {
            ring.publish();
            self.in_ring.set(self.in_ring.get() + k);
            self.circulating.set(self.circulating.get() + k);
        }
        k > 0
    }

    /// The kernel's ring is going away (the driver drops, after draining
    /// every receive): the buffers it held come back to the free list.
    pub(crate) fn detach_ring(&self) -> Option<BufRing> {
        let ring = self.ring.borrow_mut().take()?;
        let mut state = self.state.borrow_mut();
        state.iter_mut().for_each(|st| st.ringed = false);
        let mut free = self.free.borrow_mut();
        free.clear();
        free.extend(
            (0..self.cfg.count)
                .rev()
                .filter(|&id| state[id as usize].pieces == 0),
        );
        self.in_ring.set(0);
        self.circulating.set(0);
        Some(ring)
    }

    /// The buffer group of the kernel's ring, when the kernel picks the
    /// buffers (io_uring with provided-buffer rings): an SQE with
    /// `IOSQE_BUFFER_SELECT` and this group receives into one of them, and
    /// [`from_completion`](Self::from_completion) turns its CQE into the
    /// buffer. `None`: take buffers yourself with [`take`](Self::take).
    pub fn group(&self) -> Option<u16> {
        self.ring.borrow().as_ref().map(BufRing::group)
    }

    /// Takes a free buffer to receive into yourself (the readiness path);
    /// `None` when all are in use (wait with
    /// [`poll_available`](Self::poll_available)) or the kernel holds them.
    pub fn take(self: &Rc<Self>) -> Option<BufSlot> {
        let id = self.free.borrow_mut().pop()?;
        self.hold(id);
        Some(BufSlot::new(self.clone(), id))
    }

    /// Ready once a buffer came back since the last `Pending` (registers
    /// the waker otherwise): a receive that found the pool empty waits with
    /// it, and retries.
    pub fn poll_available(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.in_ring.get() > 0 {
            return std::task::Poll::Ready(());
        }
        let ringed = self.ring.borrow().is_some();
        if ringed {
            // The kernel ran dry before the ring grew: grow it now.
            if self.grow_ring(self.circulating.get().max(1)) {
                return std::task::Poll::Ready(());
            }
        } else if !self.free.borrow().is_empty() {
            return std::task::Poll::Ready(());
        }
        self.wait_for_buffer(cx.waker());
        std::task::Poll::Pending
    }

    /// One more handle to bytes of buffer `id`.
    pub(crate) fn hold(&self, id: u16) {
        let st = &mut self.state.borrow_mut()[id as usize];
        st.pieces += 1;
        if st.pieces == 1 {
            self.out.set(self.out.get() + 1);
        }
        self.high.set(self.high.get().max(id as usize + 1));
    }

    /// The kernel filled `len` bytes of buffer `id` from `off` (io_uring).
    pub(crate) fn handed_out(self: &Rc<Self>, id: u16, off: usize, len: usize) -> PooledBuf {
        self.hold(id);
        let len = len.min(self.buf_size() - off);
        // The kernel wrote these bytes through the ring, unseen by valgrind.
        // SAFETY: `off + len <= size`: inside buffer `id`.
        crate::valgrind::mark_defined(unsafe { self.addr(id).add(off) }, len);
        PooledBuf::new(self.clone(), id, off, len)
    }

    fn wait_for_buffer(&self, waker: &Waker) {
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(waker)) {
            w.push(waker.clone());
        }
    }

    /// A handle to bytes of buffer `id` dropped: the buffer goes back when
    /// it was the last and the kernel's ring no longer holds it.
    pub(crate) fn recycle(&self, id: u16) {
        {
            let st = &mut self.state.borrow_mut()[id as usize];
            st.pieces -= 1;
            if st.pieces > 0 {
                return;
            }
            self.out.set(self.out.get() - 1);
            if st.ringed {
                // Retired later by the completion that fills it up.
                return;
            }
        }
        match &*self.ring.borrow() {
            Some(ring) => {
                self.push_to_ring(ring, id);
                ring.publish();
                self.in_ring.set(self.in_ring.get() + 1);
            }
            None => self.free.borrow_mut().push(id),
        }
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        waiters.into_iter().for_each(Waker::wake);
    }
}

impl Drop for BufPool {
    fn drop(&mut self) {
        // The ring (if any) was detached by the driver before its drop, and
        // no PooledBuf is left (each holds the pool).
        debug_assert!(self.ring.borrow().is_none());
        // SAFETY: `memory` was allocated with `layout` and nothing refers to
        // it any more (no handle, no ring).
        unsafe { std::alloc::dealloc(self.memory.as_ptr(), self.layout) };
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("count", &self.cfg.count)
            .field("size", &self.cfg.size)
            .field("in_use", &self.out.get())
            .field("ring", &self.ring.borrow().is_some())
            .field("in_ring", &self.in_ring.get())
            .field("bundles", &self.bundles.get())
            .field("incremental", &self.incremental.get())
            .finish()
    }
}
