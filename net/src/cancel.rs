//! Socket reads that can be cancelled and hand their buffer back:
//! `read_cancellable(buf, cancel)` on TCP and Unix streams and their read
//! halves.
//!
//! How: the buffer is never lent to the kernel asynchronously. The read
//! tries a non-blocking `recv` at once; on `EAGAIN` it waits for
//! readability (the cancel-safe `Ready` wait: a zero-timeout `poll` then
//! `POLL_ADD` on io_uring, the fd's edge on epoll) *or* the cancel signal,
//! whichever comes first, and tries again after readiness. When the
//! signal wins, nothing is in flight with the buffer, so it comes back
//! untouched with [`cancelled_error`]. Data already readable is returned
//! even if the signal has fired (the read prefers progress).
//!
//! The cost on io_uring is one more syscall per read that has to wait (the
//! readiness wait, then `recv` on the loop thread, instead of one `RECV`
//! SQE); a read that finds data at once costs one `recv`. Use it where a
//! read must be abandoned without losing its buffer (a `select!` against a
//! shutdown signal, a deadline), and the plain `read` elsewhere.
//!
//! [`cancelled_error`]: ringloop_runtime::io::cancelled_error

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;

use ringloop_runtime::buf::{BufResult, IoBufMut};
use ringloop_runtime::driver::Interest;
use ringloop_runtime::io::cancelled_error;

use crate::socket::Socket;
use crate::split::ReadHalf;
use crate::tcp::TcpStream;
use crate::unix::UnixStream;

/// One non-blocking `recv` into the buffer's capacity, from its start.
fn try_recv<B: IoBufMut>(sock: &Socket, buf: &mut B) -> io::Result<usize> {
    let len = buf.bytes_total();
    // SAFETY: the buffer is writable for `bytes_total` bytes (IoBufMut) and
    // borrowed mutably for the call, which returns before anything else
    // touches it.
    let r = unsafe {
        libc::recv(
            sock.raw(),
            buf.stable_mut_ptr().cast(),
            len,
            libc::MSG_DONTWAIT,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = r as usize;
    // SAFETY: `recv` wrote the first `n <= len` bytes.
    unsafe { buf.set_init(n) };
    Ok(n)
}

async fn recv_cancellable<B, C>(sock: &Socket, mut buf: B, cancel: C) -> BufResult<usize, B>
where
    B: IoBufMut,
    C: Future,
{
    let mut cancel = pin!(cancel);
    loop {
        match try_recv(sock, &mut buf) {
            Ok(n) => return (Ok(n), buf),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (Err(sock.ctx("recv")(e)), buf),
        }
        let mut ready = pin!(sock.ready(Interest::Readable));
        let woke = poll_fn(|cx| {
            if cancel.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            ready.as_mut().poll(cx).map(Some)
        })
        .await;
        match woke {
            None => return (Err(cancelled_error()), buf),
            Some(Err(e)) => return (Err(e), buf),
            Some(Ok(())) => {}
        }
    }
}

macro_rules! read_cancellable {
    ($([$($g:tt)*] $t:ty),*) => {$(
        impl<$($g)*> $t {
            /// Reads into `buf` (as `read`) unless `cancel` completes
            /// first; either way the buffer comes back. Cancelled: the
            /// buffer is untouched and the error is
            /// [`cancelled_error`](ringloop_runtime::io::cancelled_error)
            /// (check with [`is_cancelled`](ringloop_runtime::io::is_cancelled)).
            /// `cancel` may be a [`CancelToken`](ringloop_runtime::io::CancelToken)'s
            /// `cancelled()`, a timer, or any future. See `net/src/cancel.rs`
            /// for how, and what it costs on io_uring.
            pub async fn read_cancellable<B: IoBufMut, C: Future>(
                &self,
                buf: B,
                cancel: C,
            ) -> BufResult<usize, B> {
                recv_cancellable(&self.sock, buf, cancel).await
            }
        }
    )*};
}

read_cancellable!([] TcpStream, [] UnixStream, [S] ReadHalf<S>);
