//! [`CancelToken`]: a cancel signal for the I/O calls that hand their buffer
//! back when cancelled (the sockets' `read_cancellable`).
//!
//! Why not just drop the future: dropping an owned-buffer operation cancels
//! it, but the buffer stays with the runtime until the kernel's last
//! completion and is then freed, never handed back. A cancellable call
//! takes the cancel signal as an argument instead, so it can finish on its
//! own terms and return `(Err(cancelled), buf)`.

use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::rc::Rc;
use std::task::{Poll, Waker};

#[derive(Default)]
struct State {
    cancelled: bool,
    wakers: Vec<Waker>,
}

/// A cancel signal, shared by cloning (on one loop thread: it is `!Send`).
/// [`cancel`](Self::cancel) completes every [`cancelled`](Self::cancelled)
/// future of every clone, now and later.
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
    state: Rc<RefCell<State>>,
}

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels: wakes every waiting [`cancelled`](Self::cancelled) future.
    pub fn cancel(&self) {
        let wakers = {
            let mut st = self.state.borrow_mut();
            st.cancelled = true;
            std::mem::take(&mut st.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.state.borrow().cancelled
    }

    /// Completes once the token is cancelled (at once if it is).
    pub fn cancelled(&self) -> impl Future<Output = ()> + 'static {
        let state = self.state.clone();
        poll_fn(move |cx| {
            let mut st = state.borrow_mut();
            if st.cancelled {
                return Poll::Ready(());
            }
            if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                st.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Message of the error a cancelled call returns.
const CANCELLED: &str = "cancelled before any byte was transferred (the buffer is handed back)";

/// The error a cancellable call returns when its cancel signal won: kind
/// `Interrupted`, recognised by [`is_cancelled`].
pub fn cancelled_error() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, CANCELLED)
}

/// Whether `e` is the error of a cancelled call ([`cancelled_error`]), as
/// opposed to an `EINTR`.
pub fn is_cancelled(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
        && e.get_ref().is_some_and(|m| m.to_string() == CANCELLED)
}
