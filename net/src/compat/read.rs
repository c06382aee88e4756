//! The read side of [`CopyIo`](super::CopyIo): one owned buffer, at most one
//! receive in flight, leftovers kept for the next call.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ringloop_runtime::driver::Op;

use crate::ops::Recv;
use crate::socket::Socket;

/// Where the read side is: buffered bytes `buf[pos..]`, or a receive in
/// flight that owns the buffer (then `buf` is an empty, unallocated `Vec`).
pub(super) struct ReadState {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out.
    pos: usize,
    /// Capacity of `buf` once allocated: the most one receive takes in.
    cap: usize,
    /// The receive in flight; it owns the buffer until it completes (and,
    /// if dropped first, the driver owns it until the final completion).
    op: Option<Op<Recv<Vec<u8>>>>,
}

impl ReadState {
    pub(super) fn new(cap: usize) -> ReadState {
        ReadState {
            buf: Vec::new(),
            pos: 0,
            cap,
            op: None,
        }
    }

    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The buffered bytes, receiving more first if none are left; empty at
    /// end of stream.
    pub(super) fn poll_fill(
        &mut self,
        sock: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&[u8]>> {
        if self.pos < self.buf.len() {
            return Poll::Ready(Ok(&self.buf[self.pos..]));
        }
        let op = match &mut self.op {
            Some(op) => op,
            None => {
                let mut buf = std::mem::take(&mut self.buf);
                buf.clear();
                // Allocates on the first receive only: the buffer comes back
                // from every receive with its capacity.
                buf.reserve_exact(self.cap);
                self.pos = 0;
                self.op
                    .insert(Op::new(Recv::new(sock.shared_fd().clone(), buf, 0, true)))
            }
        };
        let (res, buf) = ready!(Pin::new(op).poll(cx));
        self.op = None;
        self.buf = buf;
        self.pos = 0;
        match res {
            Ok(_) => Poll::Ready(Ok(&self.buf[..])),
            Err(e) => Poll::Ready(Err(sock.ctx("recv")(e))),
        }
    }

    /// Marks `n` buffered bytes as read.
    pub(super) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

impl fmt::Debug for ReadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadState")
            .field("buffered", &(self.buf.len() - self.pos))
            .field("in_flight", &self.op.is_some())
            .finish()
    }
}
