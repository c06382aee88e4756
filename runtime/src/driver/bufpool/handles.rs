//! The handles of a [`BufPool`]'s buffers: a free [`BufSlot`] to receive
//! into, the [`PooledBuf`] of bytes received, and the [`PooledBufs`] of a
//! receive bundle (several buffers from one completion, in order).

use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

use super::BufPool;

/// A free buffer taken from a [`BufPool`] to receive into: give it back
/// by dropping it (nothing received), or turn it into the [`PooledBuf`] of
/// what was received with [`filled`](Self::filled).
pub struct BufSlot {
    pool: Option<Rc<BufPool>>,
    id: u16,
}

impl BufSlot {
    pub(super) fn new(pool: Rc<BufPool>, id: u16) -> BufSlot {
        BufSlot {
            pool: Some(pool),
            id,
        }
    }

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
        PooledBuf::new(pool, self.id, 0, n)
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
    pub(super) pool: Rc<BufPool>,
    pub(super) id: u16,
    /// Where its bytes start in buffer `id` (incremental consumption).
    pub(super) off: u32,
    pub(super) len: usize,
}

impl PooledBuf {
    /// The handle of `len` bytes received at `off` in held buffer `id`.
    pub(super) fn new(pool: Rc<BufPool>, id: u16, off: usize, len: usize) -> PooledBuf {
        let off = off.min(pool.buf_size());
        let len = len.min(pool.buf_size() - off);
        PooledBuf {
            pool,
            id,
            off: off as u32,
            len,
        }
    }

    /// The address of its first byte.
    fn ptr(&self) -> *mut u8 {
        // SAFETY: `off <= size` (see `new`): inside (or one past) buffer `id`.
        unsafe { self.pool.addr(self.id).add(self.off as usize) }
    }

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
        // The pool gives the buffer to nobody else before every handle to
        // it dropped, and the kernel (which may fill on after them, with
        // incremental consumption) never writes bytes it handed out.
        // SAFETY: these `len` bytes were written by the receive and are not
        // written while the handle lives (above).
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
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
            .field("off", &self.off)
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: the pointer is into the pool's allocation, which the handle keeps
// alive (an `Rc`) and which does not move; the `len` bytes from it are
// initialised, and nobody writes them while the handle lives.
unsafe impl crate::buf::IoBuf for PooledBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
}

/// The buffers one completion filled, in the order the bytes arrived: one
/// buffer, or several for a receive bundle (see [`BufPool::bundles`]).
/// Iterate it for the [`PooledBuf`]s (each goes back to the pool when
/// dropped), or read it in place with [`slices`](Self::slices); the
/// buffers not yet taken go back when it drops.
///
/// A socket's `recv_bundles()` yields them (`ringloop::net::RecvBundles`
/// has an example).
pub struct PooledBufs {
    /// The next buffer to yield (`None` once all were taken).
    head: Option<PooledBuf>,
    /// Buffers after `head`, linked in the pool (`BufPool::next_in_bundle`).
    rest: usize,
    /// Bytes in those.
    rest_len: usize,
}

impl PooledBufs {
    /// `head`, then `rest` more held buffers of the same bundle holding
    /// `rest_len` bytes (each full but the last).
    pub(super) fn new(head: PooledBuf, rest: usize, rest_len: usize) -> PooledBufs {
        PooledBufs {
            head: Some(head),
            rest,
            rest_len,
        }
    }

    /// Bytes received, over all the buffers left.
    pub fn len(&self) -> usize {
        self.head.as_ref().map_or(0, PooledBuf::len) + self.rest_len
    }

    /// Whether no bytes are left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buffers left.
    pub fn buffers(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest
    }

    /// The bytes of each buffer left, in order.
    pub fn slices(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let head = self.head.as_ref();
        let mut at = head.map(|h| (h.id, h.len));
        let (mut rest, mut rest_len) = (self.rest, self.rest_len);
        let mut first = true;
        std::iter::from_fn(move || {
            let (id, len) = at.take()?;
            let head = head?;
            let pool = &head.pool;
            if rest > 0 {
                let n = rest_len.min(pool.buf_size());
                at = Some((pool.next_in_bundle(id), n));
                rest -= 1;
                rest_len -= n;
            }
            if std::mem::take(&mut first) {
                return Some(&**head);
            }
            // SAFETY: buffer `id` (after the first, whose piece is `head`)
            // is held by this bundle until it drops (or yields it), which
            // `&self` prevents while the slice lives; its first `len` bytes
            // were written by the receive.
            Some(unsafe { std::slice::from_raw_parts(pool.addr(id), len) })
        })
    }

    /// Copies every byte left into one `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        self.slices().for_each(|s| v.extend_from_slice(s));
        v
    }
}

impl From<PooledBuf> for PooledBufs {
    fn from(b: PooledBuf) -> PooledBufs {
        PooledBufs::new(b, 0, 0)
    }
}

impl Iterator for PooledBufs {
    type Item = PooledBuf;

    fn next(&mut self) -> Option<PooledBuf> {
        let head = self.head.take()?;
        if self.rest > 0 {
            let n = self.rest_len.min(head.pool.buf_size());
            let id = head.pool.next_in_bundle(head.id);
            self.head = Some(PooledBuf::new(head.pool.clone(), id, 0, n));
            self.rest -= 1;
            self.rest_len -= n;
        }
        Some(head)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.buffers(), Some(self.buffers()))
    }
}

impl Drop for PooledBufs {
    fn drop(&mut self) {
        // The rest of the bundle (held, never yielded) goes back first,
        // read from the links before the head's own drop recycles it.
        if let Some(head) = &self.head {
            let mut id = head.id;
            for _ in 0..self.rest {
                id = head.pool.next_in_bundle(id);
                head.pool.recycle(id);
            }
        }
    }
}

impl fmt::Debug for PooledBufs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBufs")
            .field("buffers", &self.buffers())
            .field("len", &self.len())
            .finish()
    }
}
