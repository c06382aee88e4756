//! Shared test helpers.
//!
//! [`backends`] is the set of backends an I/O test runs on: both, or only
//! the one `RINGLOOP_BACKEND` names (CI runs the suite once per backend).
//! [`each_backend!`] turns one body into one `#[test]` per backend.
#![allow(dead_code)]

use std::time::Duration;

use ringloop::{Backend, Builder, Runtime};

/// Backends to run on in this process.
pub fn backends() -> Vec<Backend> {
    match std::env::var("RINGLOOP_BACKEND").ok().as_deref() {
        Some("uring") | Some("io_uring") => vec![Backend::IoUring],
        Some("epoll") => vec![Backend::Epoll],
        _ => vec![Backend::IoUring, Backend::Epoll],
    }
}

/// Whether this process should run `b` (see [`backends`]).
pub fn wants(b: Backend) -> bool {
    backends().contains(&b)
}

/// A single-loop runtime on `b`.
pub fn rt(b: Backend) -> Runtime {
    Builder::new()
        .backend(b)
        .build()
        .unwrap_or_else(|e| panic!("cannot build a {b} runtime: {e}"))
}

/// Serialises the tests of one test binary that take it: for those that
/// count this process's fds or otherwise need the process to themselves.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Number of fds this process has open (the count is process-wide: tests
/// that compare it run one at a time, see [`serial`]).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft
/// limit.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid out-pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    if r.rlim_cur < r.rlim_max {
        r.rlim_cur = r.rlim_max;
        // SAFETY: `r` is a valid rlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
    }
    r.rlim_cur
}

/// Upper bound for any wait in a test; generous for valgrind and busy CI.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Defines `mod name { #[test] fn uring(); #[test] fn epoll(); }`, each
/// running `body(backend)` unless `RINGLOOP_BACKEND` selects the other.
#[macro_export]
macro_rules! each_backend {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn uring() {
                if $crate::util::wants(ringloop::Backend::IoUring) {
                    ($body)(ringloop::Backend::IoUring);
                } else {
                    eprintln!("skipped: RINGLOOP_BACKEND selects the other backend");
                }
            }
            #[test]
            fn epoll() {
                if $crate::util::wants(ringloop::Backend::Epoll) {
                    ($body)(ringloop::Backend::Epoll);
                } else {
                    eprintln!("skipped: RINGLOOP_BACKEND selects the other backend");
                }
            }
        }
    };
}
