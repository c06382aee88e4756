//! The [`IoBuf`] and [`IoBufMut`] traits, with their `# Safety` contract,
//! and their implementations for `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`
//! and `&'static str`.

use std::ops::{Bound, RangeBounds};

use super::Slice;

/// A buffer the kernel may read from while an operation is in flight.
///
/// # Safety
///
/// Implementors promise that
/// - [`stable_ptr`](IoBuf::stable_ptr) points to memory of at least
///   [`bytes_total`](IoBuf::bytes_total) bytes that stays at the same address
///   while the value is moved (the bytes live on the heap or in static
///   memory, never inside `self`);
/// - the first [`bytes_init`](IoBuf::bytes_init) bytes are initialised, and
///   `bytes_init() <= bytes_total()`;
/// - the memory stays valid until the value is dropped, and only `&mut self`
///   methods change it.
pub unsafe trait IoBuf: Unpin + 'static {
    /// Pointer to the first byte; stable across moves of `self`.
    fn stable_ptr(&self) -> *const u8;

    /// Number of initialised bytes: what a write or send transmits.
    fn bytes_init(&self) -> usize;

    /// Total capacity in bytes.
    fn bytes_total(&self) -> usize;

    /// Restricts the buffer to `range`, relative to its start, without
    /// copying. A read into the slice fills only that window.
    ///
    /// Out-of-range bounds are clamped to the buffer's capacity, so this never
    /// panics; an inverted range becomes empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::buf::IoBuf;
    ///
    /// let s = b"hello world".to_vec().slice(6..);
    /// assert_eq!(&s[..], b"world");
    /// assert_eq!(s.into_inner().len(), 11);
    /// ```
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let total = self.bytes_total();
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.saturating_add(1),
            Bound::Excluded(&n) => n,
            Bound::Unbounded => total,
        };
        let end = end.min(total);
        let begin = begin.min(end);
        Slice::new(self, begin, end)
    }
}

/// A buffer the kernel may write into while an operation is in flight.
///
/// # Safety
///
/// Everything [`IoBuf`] promises, and [`stable_mut_ptr`](IoBufMut::stable_mut_ptr)
/// returns the same address as `stable_ptr`, valid for writes of
/// `bytes_total()` bytes.
pub unsafe trait IoBufMut: IoBuf {
    /// Mutable pointer to the first byte; stable across moves of `self`.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Records that the first `pos` bytes are initialised (after the kernel
    /// or a syscall wrote them). Never shrinks the initialised length: a
    /// 5-byte read into `vec![0; 1500]` leaves it 1500 long (see the
    /// [module docs](crate::buf)); the operation's count says what arrived.
    ///
    /// # Safety
    ///
    /// The first `pos` bytes must really be initialised, and
    /// `pos <= bytes_total()`.
    unsafe fn set_init(&mut self, pos: usize);
}

// SAFETY: a Vec's heap allocation does not move when the Vec value moves; the
// first `len` bytes are initialised and `len <= capacity`.
unsafe impl IoBuf for Vec<u8> {
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

// SAFETY: same allocation as `stable_ptr`, writable up to `capacity`.
unsafe impl IoBufMut for Vec<u8> {
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

// SAFETY: a boxed slice is a heap allocation, fully initialised.
unsafe impl IoBuf for Box<[u8]> {
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

// SAFETY: same allocation, writable over its whole length.
unsafe impl IoBufMut for Box<[u8]> {
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
unsafe impl IoBuf for &'static [u8] {
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

// SAFETY: as for `&'static [u8]`.
unsafe impl IoBuf for &'static str {
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
