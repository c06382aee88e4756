//! What a completion that carries buffers did to the pool: read when the
//! driver reaps it ([`BufPool::kernel_took`]), and turned into handles when
//! its receive reads it ([`BufPool::from_completion`]).
//!
//! A completion of `res` bytes whose first buffer starts at `start` (0
//! without incremental consumption) fills `room = size - start` bytes of
//! that buffer, then whole buffers in ring order, the last one partly: it
//! spans `1 + ceil((res - room) / size)` buffers when `res > room`, one
//! otherwise. Every buffer it spans leaves the ring except the last when
//! the completion has `IORING_CQE_F_BUF_MORE` (incremental consumption
//! only): that one stays at the ring's head with `filled` bytes used.
//!
//! With incremental consumption the start of a completion's first piece
//! is the buffer's `filled` *at reap time*, and receives of different
//! sockets are read in any order afterwards, so the driver delivers the
//! completion with a ticket in the buffer-id field (its flags are rewritten
//! by [`kernel_took`](BufPool::kernel_took)); the ticket names the buffer
//! and the start. Tickets are 16 bits: with 65,536 completions reaped and
//! not read, the next one is delivered without a buffer (its receive fails
//! with an error saying so) and its buffers go back at once.

use std::rc::Rc;

use io_uring::cqueue;

use super::{BufPool, PooledBuf, PooledBufs};
use crate::driver::Completion;

/// `IORING_CQE_BUFFER_SHIFT`: where the buffer id sits in the CQE flags.
const BUFFER_SHIFT: u32 = 16;
/// `IORING_CQE_F_BUFFER`.
const F_BUFFER: u32 = 1;

/// The pieces of reaped completions not read yet (incremental
/// consumption): `(buffer, start)` by ticket.
#[derive(Debug, Default)]
pub(super) struct Tickets {
    slots: Vec<(u16, u32)>,
    free: Vec<u16>,
}

impl Tickets {
    fn issue(&mut self, piece: (u16, u32)) -> Option<u16> {
        if let Some(t) = self.free.pop() {
            self.slots[t as usize] = piece;
            return Some(t);
        }
        let t = u16::try_from(self.slots.len()).ok()?;
        self.slots.push(piece);
        Some(t)
    }

    fn redeem(&mut self, t: u16) -> Option<(u16, u32)> {
        let piece = *self.slots.get(t as usize)?;
        self.free.push(t);
        Some(piece)
    }
}

impl BufPool {
    /// How a completion of `res` bytes starting at `start` of its first
    /// buffer lies: `(buffers spanned, bytes in the first)`.
    fn layout(&self, start: u32, res: i32) -> (usize, usize) {
        let size = self.buf_size();
        let room = size - (start as usize).min(size);
        let n = usize::try_from(res).unwrap_or(0);
        if n <= room {
            (1, n)
        } else {
            (1 + (n - room).div_ceil(size), room)
        }
    }

    /// The driver reaped a CQE that carries buffers (`res`, `flags` are its
    /// result and flags): the buffers it filled leave the ring (all but a
    /// last one the kernel fills on, with incremental consumption), those
    /// of a bundle are linked in ring order now, before a later push can
    /// overwrite their entries. Returns the flags to hand the completion
    /// on with (see the module docs).
    pub(crate) fn kernel_took(&self, res: i32, flags: u32) -> u32 {
        let Some(first) = cqueue::buffer_select(flags) else {
            return flags;
        };
        if first as usize >= self.count() {
            return flags;
        }
        let incremental = self.incremental.get();
        let more = incremental && cqueue::buffer_more(flags);
        let mut state = self.state.borrow_mut();
        let start = if incremental {
            state[first as usize].filled
        } else {
            0
        };
        let (n, first_len) = self.layout(start, res);
        let ring = self.ring.borrow();
        let pos = state[first as usize].pos;
        let mut at = first;
        let mut left = usize::try_from(res).unwrap_or(0) - first_len;
        let mut last_len = start as usize + first_len;
        for k in 1..n {
            let Some(ring) = ring.as_ref() else { break };
            let id = ring.bid_at(pos.wrapping_add(k as u16));
            state[at as usize].next = id;
            at = id;
            last_len = left.min(self.buf_size());
            left -= last_len;
        }
        let mut left_ring = n;
        let mut id = first;
        for k in 0..n {
            let st = &mut state[id as usize];
            if k + 1 == n && more {
                st.filled = last_len as u32;
                left_ring -= 1;
            } else {
                st.ringed = false;
                st.filled = 0;
            }
            id = st.next;
        }
        drop(state);
        drop(ring);
        self.in_ring
            .set(self.in_ring.get().saturating_sub(left_ring));
        let c = self.circulating.get();
        if self.in_ring.get() < (c / 4).max(1) && c < self.count() {
            // Double before the kernel runs dry.
            self.grow_ring(c.max(1));
        }
        if !incremental {
            return flags;
        }
        match self.tickets.borrow_mut().issue((first, start)) {
            Some(t) => (flags & ((1 << BUFFER_SHIFT) - 1)) | (u32::from(t) << BUFFER_SHIFT),
            None => {
                // No ticket left: the receive gets no buffer (an error),
                // and the buffers it filled go back now.
                self.give_back_unread(first, n, more);
                flags & !F_BUFFER & ((1 << BUFFER_SHIFT) - 1)
            }
        }
    }

    /// Returns the `n` buffers from `first` a completion filled that no
    /// handle will ever hold (the last stays in the ring when `more`).
    fn give_back_unread(&self, first: u16, n: usize, more: bool) {
        let mut id = first;
        for k in 0..n {
            let next = self.next_in_bundle(id);
            if !(k + 1 == n && more) {
                self.hold(id);
                self.recycle(id);
            }
            id = next;
        }
    }

    /// The buffers a completion with `IORING_CQE_F_BUFFER` carries (one
    /// piece, or a bundle's several in order), holding the completion's
    /// byte count; `None` when it carries none (an error, `ENOBUFS`, or the
    /// end of the stream).
    ///
    /// Call it exactly once for every completion of an operation that
    /// receives into the pool (in `complete`, `item` and the orphaned
    /// forms alike): with incremental consumption the completion names its
    /// piece by a ticket that this call redeems, and a completion never
    /// turned into buffers keeps them out of the pool.
    pub fn from_completion(self: &Rc<Self>, c: &Completion) -> Option<PooledBufs> {
        let tag = cqueue::buffer_select(c.flags)?;
        let (first, start) = if self.incremental.get() {
            self.tickets.borrow_mut().redeem(tag)?
        } else {
            (tag, 0)
        };
        if first as usize >= self.count() {
            return None;
        }
        let res = c.result.as_ref().map_or(0, |&n| n);
        let res = i32::try_from(res).unwrap_or(i32::MAX);
        let (n, first_len) = self.layout(start, res);
        let size = self.buf_size();
        let head = self.handed_out(first, start as usize, first_len);
        let mut left = res as usize - first_len;
        let rest_len = left;
        let mut at = first;
        for _ in 1..n {
            at = self.next_in_bundle(at);
            self.hold(at);
            let piece = left.min(size);
            left -= piece;
            // The kernel wrote these bytes through the ring, unseen by valgrind.
            crate::valgrind::mark_defined(self.addr(at), piece);
        }
        Some(PooledBufs::new(head, n - 1, rest_len))
    }
}

impl PooledBuf {
    /// Where in its buffer this piece starts (0 but with incremental
    /// consumption).
    pub fn offset(&self) -> usize {
        self.off as usize
    }
}
