//! `bytes::Bytes` (for writes) and `bytes::BytesMut` (both ways), behind
//! the `bytes` feature.
//!
//! A `Bytes` points into a shared, immutable allocation (or static memory)
//! that stays put while the operation owns the `Bytes`. A `BytesMut` owns
//! its view of the allocation; only `&mut` methods (`reserve`, `split`...)
//! can move or shrink it, and the operation holds it by value.

use bytes::{Bytes, BytesMut};

use super::{IoBuf, IoBufMut};

// SAFETY: the bytes live in a heap or static allocation that does not move
// with the `Bytes` handle and lives while it does; `len` bytes are
// initialised and nobody writes them.
unsafe impl IoBuf for Bytes {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: a BytesMut's view lies in a heap allocation that does not move
// with the handle; `len` bytes are initialised, `capacity` are allocated
// for this view alone.
unsafe impl IoBuf for BytesMut {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: same view, writable up to `capacity` (the spare capacity belongs
// to this handle alone).
unsafe impl IoBufMut for BytesMut {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        crate::valgrind::mark_defined(self.as_ptr(), pos);
        if pos > self.len() {
            // SAFETY: the caller promises the first `pos <= capacity` bytes
            // are initialised.
            unsafe { self.set_len(pos) }
        }
    }
}
