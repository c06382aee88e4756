//! Signals and stopping for the bundled servers.
#![allow(dead_code)] // shared by several examples; each uses a part
//!
//! Loop 0 listens for SIGINT and SIGTERM with [`ringloop::signal`] (a
//! process-wide handler, so it works whichever thread the kernel delivers
//! to, and also when the parent left SIGINT ignored) and tells every loop
//! to stop through its `Handle`; a second signal exits at once. Each loop
//! keeps its stop flag in a thread-local [`Stop`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

use ringloop::signal::{signal, Signal, SignalKind};

thread_local! {
    static STOP: Stop = Stop::default();
}

/// A loop's stop flag with the wakers of the tasks waiting on it: one entry
/// per waiting [`or_stop`], removed when it returns or is dropped.
#[derive(Default)]
pub struct Stop {
    stopped: Cell<bool>,
    next_id: Cell<u64>,
    waiters: RefCell<HashMap<u64, Waker>>,
}

/// Sets this loop's stop flag and wakes its waiters.
pub fn trigger() {
    let wakers: Vec<Waker> = STOP.with(|s| {
        s.stopped.set(true);
        s.waiters.borrow_mut().drain().map(|(_, w)| w).collect()
    });
    wakers.into_iter().for_each(Waker::wake);
}

/// Whether this loop was told to stop.
pub fn stopped() -> bool {
    STOP.with(|s| s.stopped.get())
}

/// Number of tasks waiting in [`or_stop`] on this loop (for leak tests).
pub fn waiters() -> usize {
    STOP.with(|s| s.waiters.borrow().len())
}

/// Runs `fut` until it completes (`Some`) or the loop is told to stop
/// (`None`, and `fut` is dropped, cancelling what it was doing).
pub async fn or_stop<F: Future>(fut: F) -> Option<F::Output> {
    /// Unlists the waiter however the wait ends.
    struct Waiting(u64);
    impl Drop for Waiting {
        fn drop(&mut self) {
            let _ = STOP.try_with(|s| s.waiters.borrow_mut().remove(&self.0));
        }
    }
    let id = STOP.with(|s| {
        let id = s.next_id.get();
        s.next_id.set(id + 1);
        id
    });
    let _waiting = Waiting(id);
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if stopped() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        STOP.with(|s| {
            let mut w = s.waiters.borrow_mut();
            match w.get_mut(&id) {
                Some(old) if old.will_wake(cx.waker()) => {}
                Some(old) => old.clone_from(cx.waker()),
                None => {
                    w.insert(id, cx.waker().clone());
                }
            }
        });
        Poll::Pending
    })
    .await
}

/// Builds a runtime with `backend` and `threads` loops (exits with a
/// message if it cannot start) and says on stderr when io_uring fell back.
pub fn build_runtime(name: &str, backend: ringloop::Backend, threads: usize) -> ringloop::Runtime {
    build_runtime_with(name, backend, threads, |_| {})
}

/// As [`build_runtime`], with more settings from `configure`.
pub fn build_runtime_with(
    name: &str,
    backend: ringloop::Backend,
    threads: usize,
    configure: impl FnOnce(&mut ringloop::Builder),
) -> ringloop::Runtime {
    let mut b = ringloop::Builder::new();
    b.backend(backend).threads(threads);
    configure(&mut b);
    let rt = b.build().unwrap_or_else(|e| {
        eprintln!("{name}: cannot start the runtime: {e}");
        std::process::exit(1)
    });
    if let Some(why) = rt.fallback_reason() {
        eprintln!("{name}: io_uring unavailable ({why}); using epoll");
    }
    rt
}

/// Runs `factory(i, bound)` on every loop `i` of `rt` until each returns;
/// SIGINT or SIGTERM makes every loop stop ([`trigger`]). Each loop calls
/// its [`Bound`] once it listens; `announce` is printed when all have (and
/// the signals are being listened for), so whoever waits for it may connect
/// and signal the server from then on.
pub fn run_until_signal<M, F, T>(
    rt: &ringloop::Runtime,
    name: &'static str,
    announce: String,
    factory: M,
) -> Vec<T>
where
    M: Fn(usize, Bound) -> F + Send + Sync + 'static,
    F: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let handles = rt.handles();
    let pending = Arc::new((AtomicUsize::new(rt.threads()), announce));
    rt.run_on_each_thread(move |i| {
        // Loop 0 listens before it binds, so the announcement (after every
        // bind) comes after the handlers are in place.
        let signals = (i == 0).then(|| {
            let listen = |k| {
                signal(k).unwrap_or_else(|e| {
                    eprintln!("{name}: cannot listen for signals: {e}");
                    std::process::exit(1)
                })
            };
            (
                listen(SignalKind::interrupt()),
                listen(SignalKind::terminate()),
            )
        });
        let handles = handles.clone();
        let serve = factory(i, Bound(pending.clone()));
        async move {
            if let Some((int, term)) = signals {
                drop(ringloop::spawn(watch(name, int, term, handles)));
            }
            serve.await
        }
    })
}

/// A loop's "I listen" for [`run_until_signal`]; the last loop to call it
/// prints the announcement.
pub struct Bound(Arc<(AtomicUsize, String)>);

impl Bound {
    pub fn done(self) {
        if self.0 .0.fetch_sub(1, Ordering::SeqCst) == 1 {
            println!("{}", self.0 .1);
        }
    }
}

/// The first signal stops every loop; a second exits at once.
async fn watch(name: &str, mut int: Signal, mut term: Signal, handles: Vec<ringloop::Handle>) {
    let sig = next_signal(&mut int, &mut term).await;
    eprintln!("{name}: {sig}, stopping (again to exit at once)");
    for h in &handles {
        drop(h.spawn(async { trigger() }));
    }
    let sig = next_signal(&mut int, &mut term).await;
    eprintln!("{name}: {sig} again, exiting now");
    std::process::exit(130);
}

async fn next_signal(int: &mut Signal, term: &mut Signal) -> &'static str {
    poll_fn(|cx| {
        if int.poll_recv(cx).is_ready() {
            return Poll::Ready("SIGINT");
        }
        if term.poll_recv(cx).is_ready() {
            return Poll::Ready("SIGTERM");
        }
        Poll::Pending
    })
    .await
}
