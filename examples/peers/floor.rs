//! The floor: an echo server with no runtime at all, one io_uring driven by
//! hand on the io-uring crate, as lean as this kernel allows. The ratio of
//! a runtime's CPU per request to this one is what the runtime costs.
//!
//! - one ring, `SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN` (setup fails
//!   rather than falling back: the floor is defined with them);
//! - a multishot accept on the listener;
//! - per connection, a multishot recv into a provided buffer ring (1,024
//!   buffers of 16 KiB, the same pool ringloop's echo is given), so an idle
//!   connection holds no buffer;
//! - each received buffer is sent straight back from the ring (one send in
//!   flight per connection, the rest queued in order), then returned to the
//!   ring;
//! - one `io_uring_enter` per loop turn: submit what the last turn queued
//!   and wait for at least one completion.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::{BufRingEntry, Fd};
use io_uring::{cqueue, opcode, squeue, IoUring, SubmissionQueue, Submitter};

use crate::{child, sys, BUF};

/// Buffers in the provided buffer ring (a power of two).
const BUFS: u16 = 1024;
/// Its buffer group id.
const BGID: u16 = 0;
/// `user_data` of the multishot accept.
const ACCEPT: u64 = u64::MAX;
/// `user_data` of a connection's recv / send: the kind in the top two bits,
/// the connection's slot below.
const RECV: u64 = 1 << 62;
const SEND: u64 = 2 << 62;
const SLOT: u64 = (1 << 62) - 1;

/// Serves echo until the parent closes our stdin; returns only on failure.
pub fn serve() -> io::Error {
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// The provided buffer ring: the entries the kernel reads (page aligned, as
/// the kernel requires) and the memory the buffers point into.
struct BufRing {
    entries: *mut BufRingEntry,
    layout: std::alloc::Layout,
    /// `BUFS` buffers of `BUF` bytes (untouched pages stay unmapped).
    mem: Box<[u8]>,
    /// The tail as we know it; published by [`publish`](Self::publish).
    tail: u16,
}

impl BufRing {
    fn new() -> io::Result<BufRing> {
        let size = BUFS as usize * std::mem::size_of::<BufRingEntry>();
        let layout = std::alloc::Layout::from_size_align(size, 4096).map_err(io::Error::other)?;
        // SAFETY: `layout` has a non-zero size.
        let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        Ok(BufRing {
            entries,
            layout,
            mem: vec![0u8; BUFS as usize * BUF].into_boxed_slice(),
            tail: 0,
        })
    }

    /// Where buffer `bid` starts.
    fn buf(&mut self, bid: u16) -> *mut u8 {
        self.mem[bid as usize * BUF..].as_mut_ptr()
    }

    /// Gives buffer `bid` back to the kernel (visible once published).
    fn push(&mut self, bid: u16) {
        let addr = self.buf(bid) as u64;
        let idx = (self.tail & (BUFS - 1)) as usize;
        // SAFETY: `idx < BUFS`, inside the allocation; the kernel reads only
        // entries between its head and the published tail, and this one is
        // past the published tail. The setters write field by field, so
        // entry 0's `resv` (the shared tail) is left alone.
        let e = unsafe { &mut *self.entries.add(idx) };
        e.set_addr(addr);
        e.set_len(BUF as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the pushed entries to the kernel.
    fn publish(&self) {
        // SAFETY: `entries` is the ring's base; its tail is entry 0's
        // `resv`, a u16 that only we write (uapi layout), naturally aligned,
        // so it may be viewed as an AtomicU16 for the release store the
        // kernel's acquire load pairs with.
        let tail = unsafe { &*BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; the ring that read it
        // was dropped first (see `Floor`'s field order).
        unsafe { std::alloc::dealloc(self.entries.cast(), self.layout) };
    }
}

/// A received buffer waiting to be (or being) sent back.
struct Pending {
    bid: u16,
    off: u32,
    len: u32,
}

struct Conn {
    fd: RawFd,
    /// In arrival order; the front one's send is in flight.
    pending: VecDeque<Pending>,
    /// The multishot recv has ended (EOF or error): close once drained.
    done: bool,
}

#[derive(Default)]
struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
}

impl Conns {
    fn insert(&mut self, fd: RawFd) -> usize {
        let c = Some(Conn {
            fd,
            pending: VecDeque::new(),
            done: false,
        });
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = c;
                i
            }
            None => {
                self.slots.push(c);
                self.slots.len() - 1
            }
        }
    }

    fn close(&mut self, id: usize) {
        if let Some(c) = self.slots[id].take() {
            // SAFETY: the fd came from accept and is closed once, here; no
            // operation on it is in flight (its recv ended, no send queued).
            unsafe { libc::close(c.fd) };
            self.free.push(id);
        }
    }
}

/// Field order is drop order: the ring (and its registration) goes before
/// the buffer memory it points into.
struct Floor {
    ring: IoUring,
    bufs: BufRing,
    conns: Conns,
}

fn run() -> io::Result<Infallible> {
    let listener = sys::listener()?;
    let lfd = listener.as_raw_fd();
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_coop_taskrun()
        .setup_cqsize(16384)
        .build(4096)
        .map_err(|e| io::Error::new(e.kind(), format!("io_uring setup: {e}")))?;
    let mut bufs = BufRing::new()?;
    // SAFETY: `bufs.entries` is page aligned and BUFS entries long; `Floor`
    // keeps it alive until after the ring is dropped.
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(bufs.entries as u64, BUFS, BGID, 0)
            .map_err(|e| io::Error::new(e.kind(), format!("register buffer ring: {e}")))?;
    }
    for bid in 0..BUFS {
        bufs.push(bid);
    }
    bufs.publish();
    let mut f = Floor {
        ring,
        bufs,
        conns: Conns::default(),
    };
    child::announce(listener.local_addr()?.port(), None);

    let mut queued = vec![accept(lfd)];
    loop {
        let Floor { ring, bufs, conns } = &mut f;
        let (submitter, mut sq, mut cq) = ring.split();
        for e in queued.drain(..) {
            push(&submitter, &mut sq, &e)?;
        }
        sq.sync();
        match submitter.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("io_uring_enter: {e}"))),
        }
        cq.sync();
        for cqe in &mut cq {
            on_cqe(&cqe, lfd, bufs, conns, &mut queued);
        }
        bufs.publish();
    }
}

fn accept(lfd: RawFd) -> squeue::Entry {
    opcode::AcceptMulti::new(Fd(lfd)).build().user_data(ACCEPT)
}

fn recv(fd: RawFd, id: usize) -> squeue::Entry {
    opcode::RecvMulti::new(Fd(fd), BGID)
        .build()
        .user_data(RECV | id as u64)
}

fn send(fd: RawFd, bufs: &mut BufRing, p: &Pending, id: usize) -> squeue::Entry {
    // SAFETY: `off < len <= BUF`: inside buffer `bid`.
    let at = unsafe { bufs.buf(p.bid).add(p.off as usize) };
    opcode::Send::new(Fd(fd), at, p.len - p.off)
        .build()
        .user_data(SEND | id as u64)
}

/// Pushes `e`, submitting first when the queue is full.
fn push(
    submitter: &Submitter<'_>,
    sq: &mut SubmissionQueue<'_>,
    e: &squeue::Entry,
) -> io::Result<()> {
    loop {
        // SAFETY: an entry points only into `Floor::bufs` (a send), which
        // outlives the ring; accept and recv carry no pointer.
        if unsafe { sq.push(e) }.is_ok() {
            return Ok(());
        }
        sq.sync();
        submitter.submit()?;
        sq.sync();
    }
}

fn on_cqe(
    cqe: &cqueue::Entry,
    lfd: RawFd,
    bufs: &mut BufRing,
    conns: &mut Conns,
    queued: &mut Vec<squeue::Entry>,
) {
    let (ud, res, flags) = (cqe.user_data(), cqe.result(), cqe.flags());
    let more = cqueue::more(flags);
    if ud == ACCEPT {
        if res >= 0 {
            let id = conns.insert(res);
            queued.push(recv(res, id));
        }
        if !more {
            queued.push(accept(lfd));
        }
        return;
    }
    let id = (ud & SLOT) as usize;
    let Some(c) = conns.slots.get_mut(id).and_then(Option::as_mut) else {
        return;
    };
    if ud & !SLOT == RECV {
        match (res, cqueue::buffer_select(flags)) {
            (1.., Some(bid)) => {
                c.pending.push_back(Pending {
                    bid,
                    off: 0,
                    len: res as u32,
                });
                if c.pending.len() == 1 {
                    queued.push(send(c.fd, bufs, &c.pending[0], id));
                }
                if !more {
                    queued.push(recv(c.fd, id));
                }
            }
            // Out of buffers: the multishot ended; post it again.
            (r, _) if r == -libc::ENOBUFS => queued.push(recv(c.fd, id)),
            // EOF or an error: the multishot ended.
            _ => {
                c.done = true;
                if c.pending.is_empty() {
                    conns.close(id);
                }
            }
        }
        return;
    }
    // A send completed.
    if res < 0 {
        // The peer is gone: give the buffers back; the shutdown ends the
        // recv, whose last completion closes the connection.
        for p in c.pending.drain(..) {
            bufs.push(p.bid);
        }
        if c.done {
            conns.close(id);
        } else {
            // SAFETY: shutdown(2) on an fd this connection owns.
            unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
        }
        return;
    }
    let Some(front) = c.pending.front_mut() else {
        return;
    };
    front.off += res as u32;
    if front.off < front.len {
        queued.push(send(c.fd, bufs, &c.pending[0], id));
        return;
    }
    bufs.push(front.bid);
    c.pending.pop_front();
    if let Some(next) = c.pending.front() {
        queued.push(send(c.fd, bufs, next, id));
    } else if c.done {
        conns.close(id);
    }
}
