//! The glue hyper 1.x needs on ringloop, and nothing else (no hyper-util):
//!
//! - [`HyperIo`]: hyper's own `rt::Read`/`rt::Write` over any stream with
//!   tokio's I/O traits, such as `ringloop::net::compat::CopyIo` (feature
//!   `tokio-io`). The read side lends hyper's buffer to the stream, which
//!   copies into it what arrived (the same glue runs hyper on tokio in
//!   `examples/hyper_tokio.rs`, where the stream reads straight into it).
//! - [`LocalExec`]: hyper's `rt::Executor` for `!Send` futures, spawning on
//!   the current loop (HTTP/2 runs each stream, and its client connection,
//!   as a task).
//! - [`RingTimer`]: hyper's `rt::Timer` over `ringloop::time` (header read
//!   timeouts, HTTP/2 keep-alive). ringloop's `Sleep` is `Send + Sync`, as
//!   hyper asks; it is still polled on the connection's own loop.
#![allow(dead_code)] // shared by the examples and tests; each uses a part

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::ReadBufCursor;

/// hyper's I/O traits over a stream with tokio's.
///
/// One thing beyond forwarding: hyper's HTTP/1 connection polls its read
/// side before it flushes, and takes an end of stream seen while its last
/// response is still being flushed for a request cut short
/// (`IncompleteMessage`). Over a socket whose flush is a no-op that window
/// is never hit; over a copying adapter on io_uring the flush completes a
/// loop turn after the write, so a client that closes as soon as it has
/// the response (curl) hits it. So an end of stream read while hyper has
/// written without a completed flush is held back until the flush
/// completes (hyper flushes on every turn of its connection, so it always
/// does), and then reported.
#[derive(Debug)]
pub struct HyperIo<T> {
    io: T,
    /// hyper wrote since its last completed flush.
    unflushed: bool,
    /// An end of stream was read while `unflushed`; not reported yet.
    held_eof: bool,
}

impl<T> HyperIo<T> {
    pub fn new(io: T) -> HyperIo<T> {
        HyperIo {
            io,
            unflushed: false,
            held_eof: false,
        }
    }

    pub fn into_inner(self) -> T {
        self.io
    }
}

impl<T: tokio::io::AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.held_eof {
            if this.unflushed {
                // Woken by poll_flush once the flush completes.
                return Poll::Pending;
            }
            return Poll::Ready(Ok(()));
        }
        let wanted = buf.remaining();
        let n = {
            // SAFETY: tokio's ReadBuf never de-initialises bytes; it only
            // writes into the unfilled part and tracks what it filled.
            let mut tbuf = tokio::io::ReadBuf::uninit(unsafe { buf.as_mut() });
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut tbuf))?;
            tbuf.filled().len()
        };
        if n == 0 && wanted > 0 && this.unflushed {
            this.held_eof = true;
            return Poll::Pending;
        }
        // SAFETY: poll_read filled (so initialised) the first `n` bytes of
        // the cursor's unfilled part.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = ready!(Pin::new(&mut self.io).poll_write(cx, buf));
        self.unflushed |= matches!(r, Ok(n) if n > 0);
        Poll::Ready(r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs));
        self.unflushed |= matches!(r, Ok(n) if n > 0);
        Poll::Ready(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = ready!(Pin::new(&mut self.io).poll_flush(cx));
        self.flushed(cx);
        Poll::Ready(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
        self.flushed(cx);
        Poll::Ready(r)
    }
}

impl<T> HyperIo<T> {
    /// A flush completed: report a held end of stream on the next read.
    fn flushed(&mut self, cx: &mut Context<'_>) {
        self.unflushed = false;
        if self.held_eof {
            cx.waker().wake_by_ref();
        }
    }
}

/// Spawns hyper's background futures on the current ringloop loop; they
/// may be `!Send`. The task is detached: hyper keeps no handle.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalExec;

impl<F: Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, fut: F) {
        drop(ringloop::spawn(fut));
    }
}

/// hyper's timer over `ringloop::time`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RingTimer;

/// A `ringloop::time::Sleep` as hyper's `rt::Sleep`.
struct RingSleep(ringloop::time::Sleep);

impl Future for RingSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for RingSleep {}

impl hyper::rt::Timer for RingTimer {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(RingSleep(ringloop::time::sleep(d)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(RingSleep(ringloop::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<RingSleep>() {
            Some(mut s) => s.0.reset(deadline),
            None => *sleep = self.sleep_until(deadline),
        }
    }
}
