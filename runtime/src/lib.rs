//! ringloop's runtime: a thread-per-core executor over an io_uring
//! *proactor*, with an epoll *reactor* behind the same seam.
//!
//! # The model
//!
//! - **Proactor (io_uring).** An operation is handed to the kernel whole —
//!   "read into this buffer", "accept on this socket" — as a submission
//!   queue entry; the kernel performs it and posts a completion, which wakes
//!   the waiting future. SQEs are batched: one `io_uring_enter` per loop turn
//!   submits them all and waits.
//! - **Reactor (epoll).** Where io_uring is missing or forbidden, the same
//!   operations try their syscall non-blocking and wait for readiness after
//!   `EAGAIN`; what has no readiness (regular files) runs on the blocking
//!   pool. [`Backend::Auto`] picks io_uring and falls back to epoll, telling
//!   you why ([`Runtime::fallback_reason`]).
//! - **Owned buffers.** The kernel may write a buffer after the call that
//!   started a read returned, so I/O takes buffers by value and gives them
//!   back ([`buf`]). A dropped future never frees memory the kernel may still
//!   touch: the driver keeps it until the final completion ([`driver::Op`]).
//! - **Thread-per-core.** Each loop thread owns its executor and driver;
//!   tasks never migrate, so they may be `!Send`. A [`Builder`] starts N
//!   loops; [`Runtime::run_on_each_thread`] runs one future per loop, and a
//!   [`Handle`] lets other threads send work to a loop.
//!
//! # Where things live (for contributors)
//!
//! - `event_loop/`: the loop of one thread — what it owns, the run/park
//!   cycle, the timing of each poll, building loops and worker threads.
//! - `executor/`: tasks and run queues; it knows no loop, driver or timer.
//! - `driver/`: the seam (`driver/mod.rs`: the `IoDriver` trait and the
//!   choice of backend), the whole life of an operation (`driver/op.rs`),
//!   the pool path (`driver/pool.rs`), and the two backends (`uring/`,
//!   `epoll/`).
//! - `time/`, `signal/`, `buf/`, `io/`, `metrics/`: timers, signals, owned
//!   buffers, the I/O traits, loop health; `sys.rs`: the one errno and
//!   context convention every ringloop crate uses.
//!
//! # Example
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

#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![doc(test(attr(deny(warnings))))]

mod backend_name;
mod blocking;
pub mod buf;
mod builder;
pub mod driver;
mod event_loop;
mod executor;
#[cfg(feature = "fault-injection")]
pub mod faults;
#[cfg(not(feature = "fault-injection"))]
mod faults;
mod handle;
pub mod io;
#[cfg(all(test, loom))]
mod loom_models;
pub mod metrics;
#[doc(hidden)]
pub mod mutant;
mod runtime;
pub mod signal;
mod sync;
pub mod sys;
pub mod task;
pub mod time;
mod trace;
mod valgrind;

use std::future::Future;

pub use builder::{Backend, Builder, BACKEND_ENV};
pub use handle::Handle;
pub use metrics::MetricsSnapshot;
pub use runtime::Runtime;
pub use task::{spawn, spawn_blocking, yield_now, JoinError, JoinHandle};

/// Runs `fut` on a new single-loop runtime on this thread, with
/// [`Backend::Auto`] (or `RINGLOOP_BACKEND`).
///
/// # Panics
///
/// When the runtime cannot be built (a forced backend that cannot start, an
/// unknown `RINGLOOP_BACKEND`), or when called inside a runtime. Use
/// [`Builder::build`] to handle those as errors.
#[track_caller]
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let rt = Builder::new()
        .build()
        .unwrap_or_else(|e| panic!("ringloop: cannot build a runtime: {e}"));
    rt.block_on(fut)
}

/// The backend of the loop running on this thread; `None` outside a runtime.
pub fn current_backend() -> Option<Backend> {
    event_loop::with(|cx| cx.backend)
}
