//! [`CancelToken`]: a cancel signal for the I/O calls that hand their buffer
//! back when cancelled: any operation under [`CancelToken::run`] (a cancel
//! scope), and the sockets' `read_cancellable`.
//!
//! Why not just drop the future: dropping an owned-buffer operation cancels
//! it, but the buffer stays with the runtime until the kernel's last
//! completion and is then freed, never handed back. A cancellable call
//! takes the cancel signal as an argument instead, so it can finish on its
//! own terms and return `(Err(cancelled), buf)`.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::driver::scope::{self, CancelState};

/// A cancel signal, shared by cloning (on one loop thread: it is `!Send`).
/// [`cancel`](Self::cancel) completes every [`cancelled`](Self::cancelled)
/// future of every clone, now and later, and cancels in place every
/// operation started under [`run`](Self::run).
///
/// # Examples
///
/// ```
/// use ringloop::io::CancelToken;
/// use ringloop::net::UnixStream;
///
/// ringloop::block_on(async {
///     let (_a, z) = UnixStream::pair().unwrap();
///     let token = CancelToken::new();
///     let t = token.clone();
///     ringloop::spawn(async move { t.cancel() });
///     // Nothing arrives; the read is cancelled and the buffer comes back.
///     let (r, buf) = z.read_cancellable(vec![7u8; 16], token.cancelled()).await;
///     assert!(ringloop::io::is_cancelled(&r.unwrap_err()));
///     assert_eq!(buf, [7u8; 16]);
/// });
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    state: Rc<CancelState>,
}

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels: wakes every waiting [`cancelled`](Self::cancelled) future
    /// and cancels the operations running under [`run`](Self::run).
    pub fn cancel(&self) {
        self.state.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.state.is_cancelled()
    }

    /// Completes once the token is cancelled (at once if it is).
    pub fn cancelled(&self) -> impl Future<Output = ()> + 'static {
        let state = self.state.clone();
        poll_fn(move |cx| {
            if state.is_cancelled() {
                return Poll::Ready(());
            }
            state.wait(cx);
            Poll::Pending
        })
    }

    /// Runs `fut` as a *cancel scope*: when the token is cancelled, every
    /// I/O operation `fut` has started (on any socket, file or pipe, by any
    /// library code it calls) and not finished is cancelled where it
    /// stands and completes the normal way, with an error that
    /// [`is_cancelled`] recognises (`ECANCELED`) — or with its result, if
    /// the kernel had finished it first. Its future gets its output, so
    /// the buffers come back: `fut` sees `(Err(cancelled), buf)` from a
    /// read, decides what to do, and returns. Operations it starts after
    /// the cancel complete at once with the same error, without a syscall.
    ///
    /// Dropping `fut` instead would cancel too, but its buffers would stay
    /// with the runtime until the kernel's last completion and then be
    /// freed, and a partial transfer would be lost with them.
    ///
    /// On io_uring the cancel is an `ASYNC_CANCEL` per operation, sent
    /// again until it lands; on the readiness path (epoll, or an opcode the
    /// kernel lacks) the wait for readiness just ends. What is *not*
    /// cancelled: an operation on the blocking pool (a file operation on
    /// epoll) runs to its end and its result is returned; timers, channels
    /// and other futures that are not I/O operations are not interrupted
    /// (select on [`cancelled`](Self::cancelled) for those); a task
    /// spawned inside the scope is outside it; a close always happens.
    /// Scopes nest: an operation is cancelled by any token it runs under.
    ///
    /// An operation started under a scope costs one small allocation more
    /// (its registration), nothing otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::io::{is_cancelled, AsyncRead, CancelToken};
    /// use ringloop::net::UnixStream;
    ///
    /// ringloop::block_on(async {
    ///     let (_a, z) = UnixStream::pair().unwrap();
    ///     let token = CancelToken::new();
    ///     let t = token.clone();
    ///     ringloop::spawn(async move { t.cancel() });
    ///     // Any operation, here a plain owned-buffer read.
    ///     let (r, buf) = token.run(z.read(Vec::with_capacity(16))).await;
    ///     assert!(is_cancelled(&r.unwrap_err()));
    ///     assert_eq!(buf.capacity(), 16);
    /// });
    /// ```
    pub fn run<F: Future>(&self, fut: F) -> Cancellable<F> {
        Cancellable {
            fut,
            state: self.state.clone(),
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The future of [`CancelToken::run`]: `fut` under a cancel scope.
    #[must_use = "futures do nothing unless polled"]
    pub struct Cancellable<F> {
        #[pin]
        fut: F,
        state: Rc<CancelState>,
    }
}

impl<F: Future> Future for Cancellable<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        scope::enter(this.state, || fut.poll(cx))
    }
}

impl<F> fmt::Debug for Cancellable<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancellable")
            .field("cancelled", &self.state.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Message of the error a cancelled call returns.
const CANCELLED: &str = "cancelled before any byte was transferred (the buffer is handed back)";

/// The error a cancellable call returns when its cancel signal won: kind
/// `Interrupted`, recognised by [`is_cancelled`].
pub fn cancelled_error() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, CANCELLED)
}

/// Whether `e` is the error of a cancelled call: [`cancelled_error`] (a
/// `read_cancellable` whose signal won) or `ECANCELED`, bare or under
/// context (an operation cancelled by its [`CancelToken::run`] scope), as
/// opposed to an `EINTR`.
pub fn is_cancelled(e: &io::Error) -> bool {
    (e.kind() == io::ErrorKind::Interrupted
        && e.get_ref().is_some_and(|m| m.to_string() == CANCELLED))
        || crate::sys::os_error(e) == Some(libc::ECANCELED)
}
