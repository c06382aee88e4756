//! The write side of [`CopyIo`](super::CopyIo): one owned buffer, at most one
//! send in flight; a failed send surfaces on the next call.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ringloop_runtime::buf::{IoBuf, Slice};
use ringloop_runtime::driver::Op;

use crate::ops::{Send, Shutdown};
use crate::socket::Socket;

/// Where the write side is: idle with an empty buffer, or one send in
/// flight that owns the buffer (then `buf` is an empty, unallocated `Vec`).
pub(super) struct WriteState {
    buf: Vec<u8>,
    /// The most one `poll_write` copies.
    cap: usize,
    /// The send in flight, of the part of the buffer not yet sent; a short
    /// send is resubmitted with the rest.
    op: Option<Op<Send<Slice<Vec<u8>>>>>,
    /// `shutdown(SHUT_WR)` in flight.
    shutdown: Option<Op<Shutdown>>,
    /// The write side was shut down.
    shut: bool,
}

impl WriteState {
    pub(super) fn new(cap: usize) -> WriteState {
        WriteState {
            buf: Vec::new(),
            cap,
            op: None,
            shutdown: None,
            shut: false,
        }
    }

    /// Drives the send in flight (resubmitting short sends) until the
    /// buffer is out; an error ends it and drops the unsent bytes.
    fn poll_drain(&mut self, sock: &Socket, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(op) = &mut self.op {
            let (res, slice) = ready!(Pin::new(op).poll(cx));
            self.op = None;
            let (begin, end) = (slice.begin(), slice.end());
            let buf = slice.into_inner();
            match res {
                Ok(n) if n > 0 && begin + n < end => {
                    self.submit(sock, buf.slice(begin + n..end));
                }
                Ok(0) if begin < end => {
                    self.buf = buf;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!(
                            "{} send wrote 0 of {} bytes (fd {})",
                            sock.kind(),
                            end - begin,
                            sock.raw()
                        ),
                    )));
                }
                Ok(_) => self.buf = buf,
                Err(e) => {
                    self.buf = buf;
                    return Poll::Ready(Err(sock.ctx("send")(e)));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn submit(&mut self, sock: &Socket, slice: Slice<Vec<u8>>) {
        self.op = Some(Op::new(Send::new(sock.shared_fd().clone(), slice)));
    }

    /// Waits for the previous send, then copies as much of `src` as fits
    /// and starts sending it.
    pub(super) fn poll_write(
        &mut self,
        sock: &Socket,
        cx: &mut Context<'_>,
        src: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(sock, cx))?;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for s in src {
            let room = self.cap - buf.len();
            if room == 0 {
                break;
            }
            buf.extend_from_slice(&s[..s.len().min(room)]);
        }
        let n = buf.len();
        if n == 0 {
            self.buf = buf;
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.submit(sock, buf.slice(0..len));
        // Start the send now (on epoll it often completes in this poll). A
        // send that fails at once wrote none of these bytes: say so now.
        match self.poll_drain(sock, cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(n)),
        }
    }

    /// Waits until every byte accepted so far is sent.
    pub(super) fn poll_flush(
        &mut self,
        sock: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_drain(sock, cx)
    }

    /// Flushes, then shuts the write side down (once; later calls return
    /// `Ok` at once). `ENOTCONN` (the connection is already gone) counts as
    /// done.
    pub(super) fn poll_shutdown(
        &mut self,
        sock: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(sock, cx))?;
        if self.shut {
            return Poll::Ready(Ok(()));
        }
        let op = self.shutdown.get_or_insert_with(|| {
            Op::new(Shutdown::new(
                sock.shared_fd().clone(),
                std::net::Shutdown::Write,
            ))
        });
        let res = ready!(Pin::new(op).poll(cx));
        self.shutdown = None;
        match res {
            // The peer reset the connection or it is otherwise gone: its
            // write side is as shut as it gets (tokio's own shutdown would
            // report this; hyper's HTTP/2 then fails a connection that
            // ended cleanly).
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                self.shut = true;
                Poll::Ready(Ok(()))
            }
            Ok(()) => {
                self.shut = true;
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(sock.ctx("shutdown(Write)")(e))),
        }
    }
}

impl fmt::Debug for WriteState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteState")
            .field("in_flight", &self.op.is_some())
            .field("shut", &self.shut)
            .finish()
    }
}
