//! [`FixedBuf`]: one checked-out registered buffer.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::rc::Rc;

use super::Store;

/// A buffer checked out of a [`FixedBufRegistry`](super::FixedBufRegistry)
/// or [`FixedBufPool`](super::FixedBufPool): give it to the fixed
/// operations (`File::read_fixed_at`, `TcpStream::send_fixed`, ...), which
/// hand it back with their result; dropping it returns it.
///
/// It is an ordinary [`IoBuf`](crate::buf::IoBuf)/[`IoBufMut`](crate::buf::IoBufMut)
/// too (any read or write takes it). Its [`capacity`](Self::capacity) is
/// fixed; its length is the initialised part a write sends, raised by a
/// read, set with [`set_len`](Self::set_len) or
/// [`put_slice`](Self::put_slice) (every byte of the memory is
/// initialised, zeroed at allocation, so any length up to the capacity is
/// valid). The length is kept while the buffer is checked in.
///
/// `!Send`: it belongs to the loop thread of its registry. It keeps the
/// registry's memory alive (an `Rc`) while it lives, also after the
/// registry was dropped.
pub struct FixedBuf {
    store: Rc<Store>,
    index: u16,
    ptr: NonNull<u8>,
    cap: usize,
    init: usize,
}

impl FixedBuf {
    /// # Safety
    ///
    /// `ptr..ptr+cap` is buffer `index` of `store`, initialised, referred
    /// to by no other handle until this one is dropped; `init <= cap`.
    pub(super) unsafe fn new(
        store: Rc<Store>,
        index: u16,
        ptr: NonNull<u8>,
        cap: usize,
        init: usize,
    ) -> FixedBuf {
        FixedBuf {
            store,
            index,
            ptr,
            cap,
            init,
        }
    }

    /// The buffer's index in its registry (and in the ring's table).
    pub fn buf_index(&self) -> u16 {
        self.index
    }

    /// Total bytes (fixed at registration).
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Initialised bytes: what a write sends.
    pub fn len(&self) -> usize {
        self.init
    }

    /// Whether no byte is counted as initialised.
    pub fn is_empty(&self) -> bool {
        self.init == 0
    }

    /// Sets the length, clamped to the capacity.
    pub fn set_len(&mut self, len: usize) {
        self.init = len.min(self.cap);
    }

    /// Length 0.
    pub fn clear(&mut self) {
        self.init = 0;
    }

    /// Appends as much of `src` as fits; returns how much did.
    pub fn put_slice(&mut self, src: &[u8]) -> usize {
        let n = src.len().min(self.cap - self.init);
        // SAFETY: `init + n <= cap`, inside the handle's own region, which
        // no one else refers to; `src` is a distinct borrow (a Rust slice
        // cannot alias memory the handle owns exclusively).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr().add(self.init), n) };
        self.init += n;
        n
    }

    /// For writing fixed operations: the index to put in the SQE's
    /// `buf_index` on the loop running here (`Some`: the kernel has the
    /// buffer in its table), `None` when the loop registered the buffers
    /// without the kernel (epoll; a kernel that refused them) and the plain
    /// path must be taken.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the registry is registered on another loop, or
    /// not registered (never, or unregistered); outside a runtime.
    pub fn ring_index(&self) -> io::Result<Option<u16>> {
        self.store.ring_index(self.index)
    }
}

impl Deref for FixedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `init <= cap` initialised bytes of the handle's own region.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.init) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and exclusively through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.init) }
    }
}

impl AsRef<[u8]> for FixedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.store.check_in(self.index, self.init);
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.init)
            .field("capacity", &self.cap)
            .finish()
    }
}

// SAFETY: the region is heap memory owned by the store, which the handle
// keeps alive (`Rc`) and which never moves; all `cap` bytes are
// initialised, `init <= cap`; only this handle refers to the region while
// it lives, and only `&mut self` methods change it.
unsafe impl crate::buf::IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.init
    }
    fn bytes_total(&self) -> usize {
        self.cap
    }
}

// SAFETY: the same region, writable over its `cap` bytes.
unsafe impl crate::buf::IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // The kernel may have written it through the ring, unseen by
        // valgrind.
        crate::valgrind::mark_defined(self.ptr.as_ptr(), pos);
        self.init = self.init.max(pos.min(self.cap));
    }
}
