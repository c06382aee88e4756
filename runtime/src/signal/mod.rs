//! Unix signals as futures: [`ctrl_c`], and [`signal`] for any catchable
//! signal, with tokio's names.
//!
//! # How it works
//!
//! The first listener for a signal installs a process-wide `sigaction`
//! handler. Whichever thread the kernel delivers the signal to (a loop
//! thread, a blocking-pool thread, a thread the runtime never saw), the
//! handler writes to the eventfd of every listener that wants it, and each
//! listener wakes on its own loop: a readiness wait on its eventfd, on
//! io_uring and on epoll alike. So signals work with any number of loop
//! threads and with no thread's signal mask to get right, and nothing is
//! lost between the call to [`signal`] and the first [`Signal::recv`].
//!
//! - Deliveries coalesce: several signals that arrive before `recv` is
//!   polled again make one `recv` return, as in tokio.
//! - Every [`Signal`] for a kind sees every delivery of it, on whatever
//!   loop it lives.
//! - Once installed, the handler stays for the life of the process: after
//!   the last listener is dropped, that signal is caught and ignored instead
//!   of taking its default action (tokio does the same). An inherited
//!   `SIG_IGN` is replaced when the first listener is made.
//! - `SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE` and
//!   `SIGTRAP` are refused with `InvalidInput`.
//!
//! # Examples
//!
//! ```no_run
//! ringloop::block_on(async {
//!     // Register first, so a signal that arrives during setup is kept.
//!     let mut term = ringloop::signal::signal(
//!         ringloop::signal::SignalKind::terminate(),
//!     )?;
//!     term.recv().await;
//!     println!("SIGTERM: shutting down");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod registry;

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::{opcode, squeue};

use crate::driver::SharedFd;
use crate::driver::{Completion, Fallback, Interest, Op, OpCode, NO_OPCODE};
use registry::SlotId;

/// The tokio path (`tokio::signal::unix::{signal, Signal, SignalKind}`), for
/// code ported from it.
pub mod unix {
    pub use super::{signal, Signal, SignalKind};
}

/// A kind of signal, by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number; [`signal`] checks that it may be listened to.
    pub const fn from_raw(signum: libc::c_int) -> Self {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    pub const fn interrupt() -> Self {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite request to stop (`kill`, systemd, Kubernetes).
    pub const fn terminate() -> Self {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; by convention also "reload".
    pub const fn hangup() -> Self {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    pub const fn quit() -> Self {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> Self {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> Self {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process changed state.
    pub const fn child() -> Self {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader.
    pub const fn pipe() -> Self {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGALRM`.
    pub const fn alarm() -> Self {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGWINCH`: the terminal was resized.
    pub const fn window_change() -> Self {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> Self {
        SignalKind(signum)
    }
}

/// A listener for one kind of signal; see the [module docs](self).
///
/// `!Send`: once polled, it waits on the loop of the thread that polled it.
pub struct Signal {
    kind: SignalKind,
    /// The readiness wait in progress, if any.
    wait: Option<Op<Drain>>,
    /// Unpublished (and the handler done with `fd`) before `fd` closes.
    slot: Option<SlotId>,
    fd: ListenerFd,
}

/// The listener's eventfd: owned plainly until the first poll, then shared
/// with the loop that polls it (so that loop's driver forgets its readiness
/// state when it closes; a `SharedFd` made outside a runtime would not).
enum ListenerFd {
    Unpolled(OwnedFd),
    Polled(SharedFd),
    /// Moved out during the switch; never seen outside `shared`.
    Gone,
}

impl ListenerFd {
    fn shared(&mut self) -> &SharedFd {
        if let ListenerFd::Unpolled(_) = self {
            if let ListenerFd::Unpolled(fd) = std::mem::replace(self, ListenerFd::Gone) {
                *self = ListenerFd::Polled(SharedFd::new(fd));
            }
        }
        match self {
            ListenerFd::Polled(fd) => fd,
            _ => unreachable!("switched just above"),
        }
    }

    fn raw(&self) -> std::os::fd::RawFd {
        match self {
            ListenerFd::Unpolled(fd) => fd.as_raw_fd(),
            ListenerFd::Polled(fd) => fd.as_raw_fd(),
            ListenerFd::Gone => -1,
        }
    }
}

/// Listens for `kind` from now on: every delivery after this returns makes
/// a [`Signal::recv`] return (deliveries coalesce until it is polled).
///
/// Works inside or outside a runtime; it is polled on a loop.
///
/// # Errors
///
/// `InvalidInput` for a number that is no signal or one that cannot be
/// caught safely (`SIGKILL`, `SIGSEGV`, ...); the OS error when the
/// eventfd or `sigaction` fails; an error when 1,024 listeners exist.
///
/// # Examples
///
/// ```no_run
/// use ringloop::signal::{signal, SignalKind};
///
/// ringloop::block_on(async {
///     let mut hup = signal(SignalKind::hangup())?;
///     while hup.recv().await.is_some() {
///         println!("SIGHUP: reloading the configuration");
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let sig = kind.as_raw_value();
    registry::check(sig)?;
    // SAFETY: plain syscall, no pointers.
    let raw = crate::sys::cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })
        .map_err(|e| crate::sys::context(e, "ringloop::signal: eventfd"))?;
    // SAFETY: `raw` was just returned by eventfd and is owned by no one else.
    let fd = ListenerFd::Unpolled(unsafe { OwnedFd::from_raw_fd(raw) });
    // Publish the listener before the handler exists, so the first delivery
    // after install already reaches it.
    let slot = registry::claim(sig, fd.raw())?;
    let listener = Signal {
        kind,
        wait: None,
        slot: Some(slot),
        fd,
    };
    // On error the listener's drop releases the slot and closes the fd.
    registry::install(sig)?;
    Ok(listener)
}

impl Signal {
    /// Waits for the next delivery. `None` when the listener can wait no
    /// more (polled outside a ringloop runtime).
    ///
    /// Cancel-safe: dropping the future loses no delivery; the next `recv`
    /// sees it.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery; see [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if crate::driver::current::current().is_none() {
            return Poll::Ready(None);
        }
        let fd = self.fd.shared();
        let wait = self.wait.get_or_insert_with(|| {
            Op::new(Drain {
                fd: fd.clone(),
                count: 0,
            })
        });
        let r = match Pin::new(wait).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        self.wait = None;
        Poll::Ready(r.ok().map(drop))
    }

    /// The kind this listener takes.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl futures_core::Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // The wait holds its own clone of the fd, which may outlive this
        // (an orphaned readiness wait): the fd closes only after both, and
        // only after the handler can no longer write to it.
        self.wait = None;
        if let Some(slot) = self.slot.take() {
            registry::release(slot);
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("fd", &self.fd.raw())
            .finish()
    }
}

/// Waits for the next `SIGINT` (Ctrl-C).
///
/// The listener is made at the first poll; a `SIGINT` before that takes the
/// handler installed so far (or the default action: the process ends).
/// Make a [`signal`]`(SignalKind::interrupt())` early instead when a signal
/// during start-up must be kept.
///
/// # Errors
///
/// As [`signal`].
pub async fn ctrl_c() -> io::Result<()> {
    let mut s = signal(SignalKind::interrupt())?;
    match s.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other(
            "ringloop::signal::ctrl_c polled outside a ringloop runtime",
        )),
    }
}

/// Reads (and so resets) a listener's eventfd: the readiness path on both
/// backends, since a signal is rare and the wait must not consume a count
/// it cannot hand back if dropped.
struct Drain {
    fd: SharedFd,
    count: u64,
}

// SAFETY: no SQE is ever built (`CODE` is `NO_OPCODE`); `try_io` reads into
// `self.count`, owned by the value.
unsafe impl OpCode for Drain {
    type Output = io::Result<u64>;
    const CODE: u8 = NO_OPCODE;

    fn sqe(&mut self) -> squeue::Entry {
        // Never called for NO_OPCODE; a NOP is harmless if it were.
        opcode::Nop::new().build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let buf: *mut u64 = &mut self.count;
        // SAFETY: reads 8 bytes into `self.count`; the eventfd is
        // non-blocking and owned by `self.fd`.
        crate::sys::cvt_len(unsafe { libc::read(self.fd.as_raw_fd(), buf.cast(), 8) })
    }

    fn complete(self, c: Completion) -> io::Result<u64> {
        c.result.map(|_| self.count)
    }
}
