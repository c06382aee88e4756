//! [`Slice`]: a window into an owned buffer, so an operation can read into
//! or write from part of it without copying.

use std::ops::{Deref, DerefMut};

use super::{IoBuf, IoBufMut};

/// A window `[begin, end)` into an owned buffer.
///
/// I/O on a slice reads or writes only inside the window; the whole buffer
/// comes back with [`into_inner`](Slice::into_inner). Made with
/// [`IoBuf::slice`].
#[derive(Debug)]
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
}

impl<T: IoBuf> Slice<T> {
    pub(super) fn new(buf: T, begin: usize, end: usize) -> Self {
        debug_assert!(begin <= end && end <= buf.bytes_total());
        Slice { buf, begin, end }
    }

    /// Offset of the window's start in the underlying buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Offset of the window's end in the underlying buffer.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The underlying buffer.
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// The underlying buffer, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.buf
    }

    /// Gives the whole underlying buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

// SAFETY: the window lies inside the inner buffer's allocation (checked at
// construction), which is stable because `T: IoBuf`.
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        // `begin <= bytes_total`, so this stays inside (or one past) the allocation.
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    fn bytes_init(&self) -> usize {
        self.buf
            .bytes_init()
            .min(self.end)
            .saturating_sub(self.begin)
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as above, and `T: IoBufMut` makes the window writable.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // The inner length may only grow past `begin` when the bytes before
        // the window are initialised too: the window starts inside the
        // initialised part.
        if self.begin <= self.buf.bytes_init() {
            // SAFETY: the caller promises the window's first `pos` bytes are
            // initialised, and the bytes before `begin` are (checked above).
            unsafe { self.buf.set_init(self.begin + pos) }
        }
    }
}

impl<T: IoBuf> Deref for Slice<T> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `bytes_init` bytes from `stable_ptr` are initialised and
        // inside the allocation (IoBuf contract).
        unsafe { std::slice::from_raw_parts(self.stable_ptr(), self.bytes_init()) }
    }
}

impl<T: IoBufMut> DerefMut for Slice<T> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.bytes_init();
        // SAFETY: as for `deref`, and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.stable_mut_ptr(), len) }
    }
}
