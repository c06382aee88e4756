//! Signals and stopping for the bundled servers.
#![allow(dead_code)] // shared by several examples; each uses a part
//!
//! `SIGINT` and `SIGTERM` are blocked in every thread (before the runtime
//! starts its threads, which inherit the mask) and taken by one plain
//! thread with `sigwait`, which then tells every loop to stop through its
//! `Handle`. Each loop keeps its stop flag in a thread-local [`Stop`].

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Poll, Waker};

thread_local! {
    static STOP: Stop = Stop::default();
}

/// A loop's stop flag with the wakers of the tasks waiting on it.
#[derive(Default)]
pub struct Stop {
    stopped: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

/// Sets this loop's stop flag and wakes its waiters.
pub fn trigger() {
    STOP.with(|s| {
        s.stopped.set(true);
        for w in s.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    });
}

/// Whether this loop was told to stop.
pub fn stopped() -> bool {
    STOP.with(|s| s.stopped.get())
}

/// Runs `fut` until it completes (`Some`) or the loop is told to stop
/// (`None`, and `fut` is dropped, cancelling what it was doing).
pub async fn or_stop<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if stopped() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        STOP.with(|s| s.waiters.borrow_mut().push(cx.waker().clone()));
        Poll::Pending
    })
    .await
}

/// Builds a runtime with `backend` and `threads` loops (exits with a
/// message if it cannot start), says on stderr when io_uring fell back, and
/// makes SIGINT/SIGTERM stop every loop (see [`trigger`]).
pub fn runtime_stopped_by_signals(
    name: &'static str,
    backend: ringloop::Backend,
    threads: usize,
) -> ringloop::Runtime {
    let rt = ringloop::Builder::new()
        .backend(backend)
        .threads(threads)
        .build()
        .unwrap_or_else(|e| {
            eprintln!("{name}: cannot start the runtime: {e}");
            std::process::exit(1)
        });
    let handles = rt.handles();
    on_signal(move |sig| {
        eprintln!("{name}: signal {sig}, stopping");
        for h in &handles {
            drop(h.spawn(async { trigger() }));
        }
    });
    if let Some(why) = rt.fallback_reason() {
        eprintln!("{name}: io_uring unavailable ({why}); using epoll");
    }
    rt
}

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts
/// later, and starts a thread that calls `on_signal` when one arrives.
pub fn on_signal(on_signal: impl FnOnce(i32) + Send + 'static) {
    // SAFETY: sigset manipulation on a local set, then masking the calling
    // thread; both are plain libc calls with valid pointers.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut sig = 0;
            // SAFETY: `set` is a valid sigset; `sig` receives the signal.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                on_signal(sig);
            }
        })
        .expect("cannot start the signal thread");
}
