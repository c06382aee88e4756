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

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Deref;
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
    /// Which buffers callers hold (the rest are free or in the ring).
    held: RefCell<Vec<bool>>,
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
            held: RefCell::new(vec![false; cfg.count as usize]),
            in_ring: Cell::new(0),
            circulating: Cell::new(0),
            high: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
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
    /// picks them.
    pub(crate) fn attach_ring(&self, ring: BufRing) {
        *self.ring.borrow_mut() = Some(ring);
        self.grow_ring(RING_START);
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
            ring.push(self.addr(id), self.cfg.size, id);
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
        let held = self.held.borrow();
        let mut free = self.free.borrow_mut();
        free.clear();
        free.extend((0..self.cfg.count).rev().filter(|&id| !held[id as usize]));
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
        Some(BufSlot {
            pool: Some(self.clone()),
            id,
        })
    }

    /// The buffer a completion with `IORING_CQE_F_BUFFER` carries, holding
    /// the completion's byte count; `None` when it carries none (an error,
    /// `ENOBUFS`, or the end of the stream).
    pub fn from_completion(self: &Rc<Self>, c: &super::Completion) -> Option<PooledBuf> {
        let id = io_uring::cqueue::buffer_select(c.flags)?;
        if id as usize >= self.count() {
            return None;
        }
        let len = c.result.as_ref().map_or(0, |&n| n as usize);
        Some(self.handed_out(id, len))
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

    /// The driver reaped a CQE that carries one of these buffers: the
    /// kernel took it from the ring.
    pub(crate) fn kernel_took_one(&self) {
        self.in_ring.set(self.in_ring.get().saturating_sub(1));
        let c = self.circulating.get();
        if self.in_ring.get() < (c / 4).max(1) && c < self.count() {
            // Double before the kernel runs dry.
            self.grow_ring(c.max(1));
        }
    }

    fn hold(&self, id: u16) {
        self.out.set(self.out.get() + 1);
        self.held.borrow_mut()[id as usize] = true;
        self.high.set(self.high.get().max(id as usize + 1));
    }

    /// The kernel filled buffer `id` with `len` bytes (io_uring).
    pub(crate) fn handed_out(self: &Rc<Self>, id: u16, len: usize) -> PooledBuf {
        self.hold(id);
        let len = len.min(self.buf_size());
        // The kernel wrote these bytes through the ring, unseen by valgrind.
        crate::valgrind::mark_defined(self.addr(id), len);
        PooledBuf {
            pool: self.clone(),
            id,
            len: len.min(self.buf_size()),
        }
    }

    fn wait_for_buffer(&self, waker: &Waker) {
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(waker)) {
            w.push(waker.clone());
        }
    }

    fn recycle(&self, id: u16) {
        self.out.set(self.out.get() - 1);
        self.held.borrow_mut()[id as usize] = false;
        match &*self.ring.borrow() {
            Some(ring) => {
                ring.push(self.addr(id), self.cfg.size, id);
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
            .finish()
    }
}

/// A free buffer taken from a [`BufPool`] to receive into: give it back
/// by dropping it (nothing received), or turn it into the [`PooledBuf`] of
/// what was received with [`filled`](Self::filled).
pub struct BufSlot {
    pool: Option<Rc<BufPool>>,
    id: u16,
}

impl BufSlot {
    /// Where to receive: the buffer's first byte, valid for
    /// [`len`](Self::len) bytes while the slot (then the `PooledBuf`) lives.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.pool
            .as_ref()
            .map_or(std::ptr::null_mut(), |p| p.addr(self.id))
    }

    /// The buffer's size.
    pub fn len(&self) -> usize {
        self.pool.as_ref().map_or(0, |p| p.buf_size())
    }

    /// Whether the buffer has no room (never, for a valid pool).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` bytes were received into it.
    ///
    /// # Safety
    ///
    /// The first `n` bytes (at most [`len`](Self::len)) must be initialised.
    pub unsafe fn filled(mut self, n: usize) -> PooledBuf {
        let pool = self.pool.take().expect("a slot holds its pool");
        let len = n.min(pool.buf_size());
        PooledBuf {
            pool,
            id: self.id,
            len,
        }
    }
}

impl Drop for BufSlot {
    fn drop(&mut self) {
        if let Some(p) = self.pool.take() {
            p.recycle(self.id);
        }
    }
}

impl fmt::Debug for BufSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufSlot").field("id", &self.id).finish()
    }
}

/// Bytes a pooled receive delivered, in a buffer that belongs to the loop:
/// dropping it gives the buffer back (to the kernel's ring on io_uring).
///
/// `!Send`: it belongs to the loop thread that received it. Read it as a
/// `&[u8]`; send it on with any write (it is an
/// [`IoBuf`](crate::buf::IoBuf)); copy out what must outlive it.
pub struct PooledBuf {
    pool: Rc<BufPool>,
    id: u16,
    len: usize,
}

impl PooledBuf {
    /// Bytes received (0 at the end of the stream).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no bytes (the end of the stream).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: buffer `id` is held by this handle alone until it drops
        // (the kernel does not write a buffer it handed out, and the pool
        // gives it to nobody else), and its first `len` bytes were written
        // by the receive.
        unsafe { std::slice::from_raw_parts(self.pool.addr(self.id), self.len) }
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        self.pool.recycle(self.id);
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf")
            .field("id", &self.id)
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: the pointer is into the pool's allocation, which the handle keeps
// alive (an `Rc`) and which does not move; the first `len` bytes are
// initialised, and nobody writes them while the handle lives.
unsafe impl crate::buf::IoBuf for PooledBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.pool.addr(self.id)
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
}
