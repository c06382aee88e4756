//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`, 5.19): the memory
//! through which the loop hands receive buffers to the kernel, which picks
//! one when data arrives (`IOSQE_BUFFER_SELECT`) and names it in the CQE.
//!
//! The ring is an array of `io_uring_buf { addr: u64, len: u32, bid: u16,
//! resv: u16 }` entries, page-aligned, whose first entry's `resv` field is
//! the ring's tail: the loop writes entries at the tail and then publishes
//! the new tail with a release store; the kernel consumes from its head.
//! The buffers themselves are the pool's ([`BufPool`]).
//!
//! A receive bundle (`IORING_RECVSEND_BUNDLE`, 6.10) takes several entries
//! from the head in one completion; the CQE names only the first buffer, so
//! the pool reads the ids of the ones after it from the ring
//! ([`bid_at`](BufRing::bid_at)) before it hands out anything: an entry is
//! overwritten only by a push one lap later, and no buffer of an unreaped
//! bundle can have been recycled into that lap.
//!
//! [`BufPool`]: crate::driver::bufpool

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::Cell;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// `IOU_PBUF_RING_INC` (6.12): the kernel consumes buffers incrementally
/// (see the pool's module docs); older kernels refuse it with `EINVAL`.
pub(crate) const IOU_PBUF_RING_INC: u16 = 2;

/// One entry, as the kernel reads it (uapi `struct io_uring_buf`).
#[repr(C)]
struct Entry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// The ring memory, registered with the kernel under `group`.
pub(crate) struct BufRing {
    entries: NonNull<Entry>,
    layout: Layout,
    mask: u16,
    /// The tail as the loop knows it (published by [`publish`](Self::publish)).
    tail: Cell<u16>,
    group: u16,
}

impl BufRing {
    /// Zeroed ring memory for `count` entries (a power of two); the caller
    /// registers it.
    pub(crate) fn new(count: u16, group: u16) -> io::Result<BufRing> {
        let bytes = count as usize * std::mem::size_of::<Entry>();
        let layout = Layout::from_size_align(bytes.max(4096), 4096)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "buffer ring too large"))?;
        // SAFETY: a non-zero size.
        let p = unsafe { alloc_zeroed(layout) };
        let entries = NonNull::new(p.cast::<Entry>())
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "buffer ring"))?;
        Ok(BufRing {
            entries,
            layout,
            mask: count - 1,
            tail: Cell::new(0),
            group,
        })
    }

    /// The address the kernel is given at registration.
    pub(crate) fn addr(&self) -> u64 {
        self.entries.as_ptr() as u64
    }

    pub(crate) fn entries(&self) -> u16 {
        self.mask + 1
    }

    pub(crate) fn group(&self) -> u16 {
        self.group
    }

    /// Writes buffer `bid` (at `addr`, `len` bytes) at the tail; visible
    /// to the kernel after [`publish`](Self::publish). Returns the entry's
    /// position (the tail it was written at, wrapping).
    pub(crate) fn push(&self, addr: *mut u8, len: u32, bid: u16) -> u16 {
        let tail = self.tail.get();
        let idx = (tail & self.mask) as usize;
        // SAFETY: `idx <= mask < count`, inside the ring; the kernel only
        // reads entries between its head and the published tail, and this
        // one is past the published tail. Field by field, so entry 0's
        // `resv` (the shared tail) is left alone.
        unsafe {
            let e = self.entries.as_ptr().add(idx);
            std::ptr::addr_of_mut!((*e).addr).write(addr as u64);
            std::ptr::addr_of_mut!((*e).len).write(len);
            std::ptr::addr_of_mut!((*e).bid).write(bid);
        }
        self.tail.set(tail.wrapping_add(1));
        tail
    }

    /// The buffer id written at position `pos` (as [`push`](Self::push)
    /// returned it); the kernel never writes an entry's `bid`.
    pub(crate) fn bid_at(&self, pos: u16) -> u16 {
        let idx = (pos & self.mask) as usize;
        // SAFETY: `idx <= mask < count`, inside the ring; `bid` is written
        // only by `push` (on this thread) and read, never written, by the
        // kernel.
        unsafe { std::ptr::addr_of!((*self.entries.as_ptr().add(idx)).bid).read_volatile() }
    }

    /// Makes every pushed entry visible to the kernel.
    pub(crate) fn publish(&self) {
        // SAFETY: entry 0's `resv` is the ring's tail (uapi layout), a u16
        // at a 2-aligned address inside the ring, shared with the kernel,
        // which reads it atomically; we are its only writer.
        let shared = unsafe {
            &*(std::ptr::addr_of_mut!((*self.entries.as_ptr()).resv) as *const AtomicU16)
        };
        shared.store(self.tail.get(), Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated with `layout`; the driver unregistered the ring
        // before dropping it, so the kernel no longer reads it.
        unsafe { dealloc(self.entries.as_ptr().cast(), self.layout) };
    }
}
