//! More owned buffers: fixed-size boxed arrays, static arrays, `String`,
//! and shared read-only buffers (`Rc<[u8]>`, `Arc<[u8]>`, `Rc<Vec<u8>>`,
//! `Arc<Vec<u8>>`, `Rc<str>`, `Arc<str>`) for writes.
//!
//! Not here, on purpose: a bare `[u8; N]`. Its bytes live *inside* the
//! value, so they move with it — from the caller into the operation, then
//! into the runtime's box — while an iovec built on the way, or the kernel,
//! may hold the old address. `Box<[u8; N]>` is the same buffer on the heap.
//!
//! A shared buffer is sound because the operation owns one strong count:
//! the allocation lives until the operation is done with it, and nobody can
//! mutate it meanwhile (`Rc::get_mut` and friends need the only count, and
//! the operation holds one).

use std::rc::Rc;
use std::sync::Arc;

use super::{IoBuf, IoBufMut};

// SAFETY: a boxed array is a heap allocation of N bytes, fully initialised,
// that does not move when the box moves.
unsafe impl<const N: usize> IoBuf for Box<[u8; N]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
    fn bytes_total(&self) -> usize {
        N
    }
}

// SAFETY: same allocation, writable over its N bytes.
unsafe impl<const N: usize> IoBufMut for Box<[u8; N]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Always initialised to Rust; the kernel may have written it
        // unseen by valgrind.
        crate::valgrind::mark_defined(self.as_ptr(), pos);
    }
}

// SAFETY: static memory never moves and is never freed; fully initialised.
unsafe impl<const N: usize> IoBuf for &'static [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
    fn bytes_total(&self) -> usize {
        N
    }
}

// SAFETY: a String's heap allocation does not move with the value, and its
// `len` bytes are initialised. Read-only: the kernel writing into it could
// break UTF-8, so there is no IoBufMut.
unsafe impl IoBuf for String {
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

/// `IoBuf` for a shared pointer to bytes: the pointee is a heap allocation
/// that lives as long as any count, and is immutable while shared.
macro_rules! shared {
    ($($t:ty),*) => {$(
        // SAFETY: the pointee lives in the pointer's heap allocation, which
        // does not move when the pointer moves and stays alive while this
        // count does; it cannot be mutated while this count exists (see the
        // module docs); all its bytes are initialised.
        unsafe impl IoBuf for $t {
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
    )*};
}

shared!(
    Rc<[u8]>,
    Arc<[u8]>,
    Rc<Vec<u8>>,
    Arc<Vec<u8>>,
    Rc<str>,
    Arc<str>
);
