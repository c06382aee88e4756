//! The synchronisation primitives of the two cross-thread protocols: a
//! loop's remote queue and unpark (`executor/shared.rs`) and the blocking
//! pool's idle/notified hand-off (`blocking.rs`). std's in every build;
//! loom's under `RUSTFLAGS="--cfg loom"`, where the models in
//! `loom_models.rs` run the real protocol code through every interleaving
//! loom can reach:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p ringloop-runtime --release --lib loom_
//! ```
//!
//! loom's condvar waits never time out; a model that needs the pool's
//! keep-alive to expire sets [`set_waits_time_out`], and every timed wait
//! then releases the lock, lets the other threads run and returns "timed
//! out" (the most eager keep-alive there is).

#[cfg(not(loom))]
mod imp {
    use std::time::Duration;

    pub(crate) use std::sync::atomic::AtomicBool;
    pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
    pub(crate) use std::thread;

    /// `cond.wait_timeout(guard, d)` (`guard` is a lock of `_mutex`): the
    /// guard back, and whether it timed out.
    pub(crate) fn wait_timeout<'a, T>(
        cond: &Condvar,
        _mutex: &'a Mutex<T>,
        guard: MutexGuard<'a, T>,
        d: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        let (g, r) = cond
            .wait_timeout(guard, d)
            .unwrap_or_else(|p| p.into_inner());
        (g, r.timed_out())
    }

    /// Whether the thread of `h` has ended.
    pub(crate) fn is_finished<T>(h: &thread::JoinHandle<T>) -> bool {
        h.is_finished()
    }
}

#[cfg(loom)]
mod imp {
    use std::time::Duration;

    pub(crate) use loom::sync::atomic::AtomicBool;
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
    pub(crate) use loom::thread;

    std::thread_local! {
        /// Set by a model (loom runs a model's threads on the thread of
        /// the test that runs it).
        static WAITS_TIME_OUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[cfg(test)]
    /// Makes every timed wait of this test's models time out at once (see
    /// the module docs).
    pub(crate) fn set_waits_time_out(on: bool) {
        WAITS_TIME_OUT.with(|w| w.set(on));
    }

    pub(crate) fn wait_timeout<'a, T>(
        cond: &Condvar,
        mutex: &'a Mutex<T>,
        guard: MutexGuard<'a, T>,
        d: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        if WAITS_TIME_OUT.with(|w| w.get()) {
            // Released, others run, taken again: a wait whose time ran out
            // (a notify sent meanwhile went to nobody, as it may for real).
            drop(guard);
            thread::yield_now();
            return (mutex.lock().unwrap_or_else(|p| p.into_inner()), true);
        }
        let (g, r) = cond
            .wait_timeout(guard, d)
            .unwrap_or_else(|p| p.into_inner());
        (g, r.timed_out())
    }

    pub(crate) fn is_finished<T>(_h: &thread::JoinHandle<T>) -> bool {
        // loom's handles cannot tell; keeping them is harmless.
        false
    }
}

pub(crate) use imp::*;
