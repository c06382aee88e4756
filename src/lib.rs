//! ringloop: an async runtime for Linux built on io_uring as a *proactor*,
//! with an epoll *reactor* behind the same seam.
//!
//! # The model
//!
//! - **Proactor (io_uring).** An operation is handed to the kernel whole —
//!   "read into this buffer", "accept on this socket" — as a submission
//!   queue entry; the kernel performs it and posts a completion, which wakes
//!   the waiting future. SQEs are batched: one `io_uring_enter` per loop
//!   turn submits them all and waits.
//! - **Reactor (epoll).** Where io_uring is missing or forbidden, the same
//!   operations try their syscall non-blocking and wait for readiness after
//!   `EAGAIN`; what has no readiness (regular files) runs on the blocking
//!   pool. [`Backend::Auto`] picks io_uring and falls back to epoll, telling
//!   you why ([`Runtime::fallback_reason`]).
//! - **Owned buffers.** The kernel may write a buffer after the call that
//!   started a read returned, so I/O takes buffers by value and gives them
//!   back ([`buf`], [`io`]). A dropped future never frees memory the kernel
//!   may still touch: the driver keeps it until the final completion.
//! - **Thread-per-core.** Each loop thread owns its executor and driver;
//!   tasks never migrate, so they may be `!Send`. A [`Builder`] starts N
//!   loops; [`Runtime::run_on_each_thread`] runs one future per loop, and a
//!   [`Handle`] lets other threads send work to a loop.
//!
//! # Where things are
//!
//! | module | what |
//! |---|---|
//! | [`task`] | [`spawn`], [`spawn_blocking`], [`yield_now`], [`JoinHandle`] |
//! | [`net`] | TCP, UDP and Unix sockets |
//! | [`fs`] | files and paths (no thread pool on io_uring) |
//! | [`io`] | the owned-buffer `AsyncRead`/`AsyncWrite` traits, [`io::os_error`] |
//! | [`buf`] | `IoBuf`/`IoBufMut`, slices, iovecs |
//! | [`time`] | `sleep`, `timeout`, `interval` |
//! | [`signal`] | `ctrl_c`, Unix signals |
//! | [`metrics`] | loop health: counters, loop lag, stalls ([`Handle::metrics`]) |
//! | [`driver`] | for writing your own operations (`OpCode`, `Op`) |
//!
//! # Example
//!
//! Features (all off by default): `futures-io` and `tokio-io` give
//! `net::compat::CopyIo`, poll-based `futures_io` / tokio I/O traits over
//! ringloop's streams, for hyper, tokio-util and the like (it copies:
//! see `docs/compat.md`); `valgrind` tells memcheck what io_uring wrote.
//!
//! ```
//! use std::time::Duration;
//!
//! let out = ringloop::block_on(async {
//!     let task = ringloop::spawn(async {
//!         ringloop::time::sleep(Duration::from_millis(1)).await;
//!         21
//!     });
//!     task.await.unwrap() * 2
//! });
//! assert_eq!(out, 42);
//! ```
//!
//! # Attribute macros
//!
//! With the default feature `macros`, [`#[ringloop::main]`](macro@main)
//! runs `async fn main` on a runtime, and [`#[ringloop::test]`](macro@test)
//! turns an `async fn` into one test per backend (`name::uring`,
//! `name::epoll`). Both take `threads = N` and `backend = "..."`; see
//! [`ringloop_macros`] for what they expand to.
#![deny(unsafe_code, missing_docs, missing_debug_implementations)]
#![doc(test(attr(deny(warnings))))]

#[doc(inline)]
pub use ringloop_runtime::{block_on, current_backend, spawn, spawn_blocking, yield_now};
#[doc(inline)]
pub use ringloop_runtime::{Backend, Builder, Handle, JoinError, JoinHandle, Runtime};
#[doc(inline)]
pub use ringloop_runtime::{MetricsSnapshot, BACKEND_ENV};

/// Faults injected into the io_uring driver, for tests (feature
/// `fault-injection`).
#[cfg(feature = "fault-injection")]
pub use ringloop_runtime::faults;
#[doc(inline)]
pub use ringloop_runtime::{buf, io, metrics, signal, sys, task, time};

/// For writing your own operations: an [`OpCode`](driver::OpCode) is one
/// operation lowered for both backends, awaited as an [`Op`](driver::Op)
/// or a [`MultiOp`](driver::MultiOp). The socket and file crates are
/// written with exactly these types; the SQE is built with the `io-uring`
/// crate, re-exported as `ringloop::driver::io_uring`.
///
/// ```
/// use ringloop::driver::{ops::Nop, Op};
///
/// ringloop::block_on(async {
///     Op::new(Nop).await.unwrap();
/// });
/// ```
pub mod driver {
    #[doc(inline)]
    pub use ringloop_runtime::driver::{
        ops, BlockingJob, BufPool, BufSlot, Cached, Completion, Fallback, Interest, MultiOp,
        MultishotOpCode, Op, OpCode, PooledBuf, PooledBufs, SharedFd, NO_OPCODE,
    };

    #[doc(hidden)]
    pub use ringloop_runtime::driver::io_uring;
}

/// Sockets: TCP, UDP and Unix, with owned buffers, on both backends (the
/// `ringloop-net` crate).
pub mod net {
    #[doc(inline)]
    pub use ringloop_net::*;
}

/// Files and paths: on io_uring every operation is an SQE (no thread pool);
/// on epoll they run on the blocking pool (the `ringloop-fs` crate).
pub mod fs {
    #[doc(inline)]
    pub use ringloop_fs::*;
}

/// The README's code, compiled as doctests so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Runs an `async fn main` on a new runtime: a sync `main` that builds the
/// runtime (`threads`, `backend`), runs the body on loop 0 with
/// [`Runtime::block_on`] and returns its output. A runtime that cannot be
/// built is reported on stderr and the program exits with code 1.
///
/// # Examples
///
/// ```
/// #[ringloop::main]
/// async fn main() -> std::io::Result<()> {
///     let task = ringloop::spawn(async { 21 });
///     let v = task.await.map_err(|e| std::io::Error::other(e.to_string()))?;
///     assert_eq!(v * 2, 42);
///     assert!(ringloop::current_backend().is_some());
///     Ok(())
/// }
/// ```
#[cfg(feature = "macros")]
pub use ringloop_macros::main;

/// Turns `async fn name()` into a module `name` with the tests
/// `name::uring` and `name::epoll`, each running the body once on a
/// runtime of that backend (skipped, with a reason, where io_uring cannot
/// start or `RINGLOOP_BACKEND` selects the other backend).
///
/// # Examples
///
/// ```
/// #[ringloop::test]
/// async fn sleeps() {
///     ringloop::time::sleep(std::time::Duration::from_millis(1)).await;
/// }
/// # fn main() {}
/// ```
#[cfg(feature = "macros")]
pub use ringloop_macros::test;

#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __private {
    //! What the code `#[ringloop::main]` and `#[ringloop::test]` generate
    //! calls. Not a public API: it changes with the macros.
    //!
    //! The test half does what the workspace's `tests/util` does for its
    //! `each_backend!` (a proc macro's expansion cannot use that module),
    //! with one difference: `RINGLOOP_BACKEND` is read when a test runs,
    //! not when it is compiled (the facade's build script sets cfgs for
    //! its own tests only), so the other backend's test exists and reports
    //! a skip.

    use std::future::Future;
    use std::io::Write;
    use std::process::{ExitCode, Termination};
    use std::sync::OnceLock;

    use crate::{Backend, Builder, Runtime, BACKEND_ENV};

    /// The environment variable that turns an io_uring skip into a failure.
    pub const REQUIRE_URING: &str = "RINGLOOP_REQUIRE_URING";
    /// The environment variable naming the file skips are appended to.
    pub const SKIP_LOG: &str = "RINGLOOP_SKIP_LOG";
    /// The skip reason of a test whose backend `RINGLOOP_BACKEND` does not
    /// select.
    pub const OTHER_BACKEND: &str = "RINGLOOP_BACKEND selects the other backend";

    /// `Builder::new().backend(backend).threads(threads).build()`, or, when
    /// that fails, the error on stderr and exit code 1.
    pub fn main_runtime(backend: Backend, threads: usize) -> Runtime {
        match runtime(backend, threads) {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the ringloop runtime: {e}");
                std::process::exit(1);
            }
        }
    }

    /// A runtime of `threads` loops on `backend`.
    pub fn runtime(backend: Backend, threads: usize) -> std::io::Result<Runtime> {
        Builder::new().backend(backend).threads(threads).build()
    }

    /// Runs `body` once on a runtime of `threads` loops on `backend`, as the
    /// test `<module without its crate>::<backend>`, unless the test is to
    /// be skipped ([`skip`]): `RINGLOOP_BACKEND` names the other backend,
    /// or `backend` is io_uring and io_uring cannot start here.
    ///
    /// `should_panic` is what a `#[should_panic]` on the test expects
    /// (`Some("")` when it expects any panic). libtest fails such a test
    /// when it returns, so a skip of it ends in a panic (without the panic
    /// hook's message) whose payload names the skip and contains the
    /// expected text.
    ///
    /// # Panics
    ///
    /// When the body panics or its output reports a failure (an `Err`),
    /// when the runtime cannot be built for another reason, when
    /// `RINGLOOP_BACKEND` is not a backend name, and for an io_uring skip
    /// under `RINGLOOP_REQUIRE_URING=1`.
    #[track_caller]
    pub fn run_test<F, Fut>(
        module: &str,
        backend: Backend,
        threads: usize,
        should_panic: Option<&str>,
        body: F,
    ) where
        F: FnOnce() -> Fut,
        Fut: Future,
        Fut::Output: Termination,
    {
        let test = test_name(module, backend);
        if !selected(&test, backend) {
            return skipped(&test, None, OTHER_BACKEND, should_panic);
        }
        // Probe io_uring first whatever `backend` is, as tests/util does:
        // the probe opens and closes a ring, and then no later test body
        // that counts fds sees it happen.
        let uring = uring_unavailable();
        if backend == Backend::IoUring {
            if let Some(why) = uring {
                let reason = format!("{backend} cannot start: {why}");
                return skipped(&test, Some(REQUIRE_URING), &reason, should_panic);
            }
        }
        let rt = runtime(backend, threads).unwrap_or_else(|e| {
            panic!("{test}: cannot build a {backend} runtime of {threads} loop(s): {e}")
        });
        let out = rt.block_on(body());
        drop(rt);
        let code = out.report();
        if code != ExitCode::SUCCESS {
            panic!("{test}: the test's output reports a failure ({code:?})");
        }
    }

    /// [`skip`], then, for a test that expects a panic, a panic it accepts.
    fn skipped(test: &str, require: Option<&str>, reason: &str, should_panic: Option<&str>) {
        skip(test, require, reason);
        if let Some(expected) = should_panic {
            let msg = format!("{test} skipped ({reason}); it expects a panic: {expected}");
            std::panic::resume_unwind(Box::new(msg));
        }
    }

    /// The name libtest gives the test: `module` without its crate, then
    /// the backend.
    fn test_name(module: &str, backend: Backend) -> String {
        let path = module.split_once("::").map_or(module, |(_, rest)| rest);
        format!("{path}::{backend}")
    }

    /// Whether `RINGLOOP_BACKEND` lets `backend`'s test run: unset, empty
    /// or `auto` let both run.
    fn selected(test: &str, backend: Backend) -> bool {
        let v = std::env::var(BACKEND_ENV).unwrap_or_default();
        match v.parse::<Backend>() {
            Ok(Backend::Auto) => true,
            Ok(b) => b == backend,
            Err(e) => panic!("{test}: {BACKEND_ENV}: {e}"),
        }
    }

    /// Why io_uring cannot start on this machine, if it cannot; probed once
    /// per process, on a thread of its own (a ring's teardown may post task
    /// work to the thread that made it, which interrupts that thread's
    /// blocking reads with `EINTR`).
    pub fn uring_unavailable() -> Option<String> {
        static URING: OnceLock<Option<String>> = OnceLock::new();
        URING
            .get_or_init(|| {
                std::thread::spawn(|| {
                    Builder::new()
                        .backend(Backend::IoUring)
                        .build()
                        .err()
                        .map(|e| e.to_string())
                })
                .join()
                .expect("the io_uring probe thread")
            })
            .clone()
    }

    /// Records that `test` did not run, and why: a line `skipped: <test>:
    /// <reason>` on stderr and `<test>\t<reason>` appended to the file
    /// `RINGLOOP_SKIP_LOG` names. Panics instead when `require` names an
    /// environment variable set to `1`.
    pub fn skip(test: &str, require: Option<&str>, reason: &str) {
        if let Some(require) = require {
            if std::env::var(require).as_deref() == Ok("1") {
                panic!("{test}: {reason}, and {require}=1 requires it");
            }
        }
        eprintln!("skipped: {test}: {reason}");
        if let Ok(path) = std::env::var(SKIP_LOG) {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{test}\t{reason}");
            }
        }
    }
}
