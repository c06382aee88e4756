//! Tasks, by the names tokio users look for: [`spawn`], [`spawn_blocking`],
//! [`yield_now`], [`JoinHandle`], [`JoinError`].
//!
//! A task runs on the loop thread that spawned it and never moves, so its
//! future may be `!Send` (`Rc`, `RefCell`, sockets are fine). Work that
//! must not stall the loop (CPU-heavy, or blocking calls) goes to the
//! blocking pool with [`spawn_blocking`]. To run a future on another loop,
//! use that loop's [`Handle`](crate::Handle).
//!
//! [`spawn_local`] is [`spawn`] under the name tokio's `LocalSet` and
//! `tokio::task::spawn_local` users know: every ringloop task is local.
//!
//! # `select!` and `join!`
//!
//! ringloop has no macros of its own for these: its futures are ordinary
//! futures, so the `futures` crate's `select!`, `join!`, `try_join!` (and
//! `futures::future::select`, `join_all`) work on them, on both backends.
//! A branch that loses a `select!` is dropped: for an I/O future that
//! means cancelled, its buffer kept by the runtime until the kernel is done
//! and then freed (not handed back), as for any dropped operation.
//!
//! ```
//! use std::time::Duration;
//! use futures::FutureExt; // .fuse() for select!
//!
//! ringloop::block_on(async {
//!     let (a, ()) = futures::join!(
//!         ringloop::spawn(async { 1 }),
//!         ringloop::time::sleep(Duration::from_millis(1)),
//!     );
//!     assert_eq!(a.unwrap(), 1);
//!
//!     let mut slow = Box::pin(ringloop::time::sleep(Duration::from_secs(60)).fuse());
//!     let mut quick = Box::pin(async { 7 }.fuse());
//!     let won = futures::select! {
//!         _ = slow => 0,
//!         v = quick => v,
//!     };
//!     assert_eq!(won, 7);
//! });
//! ```

use std::future::Future;
use std::panic::Location;

pub use crate::executor::{yield_now, JoinError, JoinHandle};

/// Spawns a task on the current loop. The future may be `!Send`; it runs on
/// this thread only. The returned handle awaits its output, aborts it, or
/// detaches it when dropped.
///
/// # Panics
///
/// When called outside a ringloop runtime.
#[track_caller]
pub fn spawn<F: Future + 'static>(fut: F) -> JoinHandle<F::Output> {
    let at = Location::caller();
    crate::event_loop::with(|cx| {
        cx.metrics.tasks_spawned.inc();
        cx.exec.spawn(&cx.shared, fut, at)
    })
    .expect("ringloop::spawn called outside a ringloop runtime")
}

/// [`spawn`] by the name tokio gives its `!Send` spawn: every ringloop task
/// is local to the loop that spawned it.
///
/// # Panics
///
/// When called outside a ringloop runtime.
#[track_caller]
pub fn spawn_local<F: Future + 'static>(fut: F) -> JoinHandle<F::Output> {
    spawn(fut)
}

/// Runs blocking `f` on the runtime's blocking pool and returns a handle to
/// its result; **rejects** the job when the pool's bounded queue is full.
///
/// Use it for CPU-heavy work or blocking calls that would stall the loop.
/// The handle resolves to a [`JoinError`] if `f` panics, or if the queue
/// was full ([`JoinError::is_rejected`]; the job never runs): a flood of
/// jobs learns that the pool is saturated instead of queueing without
/// limit. To wait for room instead, use [`spawn_blocking_wait`]. (The
/// runtime's own file operations on the pool path always wait.)
/// [`JoinHandle::abort`] cannot interrupt a running job; it discards the
/// result.
///
/// # Panics
///
/// When called outside a ringloop runtime.
///
/// # Examples
///
/// ```
/// ringloop::block_on(async {
///     let sum = ringloop::spawn_blocking(|| (1..=100u64).sum::<u64>()).await.unwrap();
///     assert_eq!(sum, 5050);
/// });
/// ```
pub fn spawn_blocking<T, F>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    crate::event_loop::with(|cx| cx.pool.spawn(f))
        .expect("ringloop::spawn_blocking called outside a ringloop runtime")
}

/// Runs blocking `f` on the blocking pool, first **waiting** (without
/// blocking the loop) for room in the pool's bounded queue; resolves to the
/// job's handle once it is queued.
///
/// This is backpressure: a loop that submits jobs faster than the pool
/// runs them is held at the queue's capacity, and memory stays bounded.
/// Waiting jobs enter the queue in FIFO order. Dropping this future while
/// it waits withdraws the job (it never runs); once it has resolved, the
/// handle behaves as [`spawn_blocking`]'s. The handle is rejected only
/// when the runtime is shutting down or cannot start a pool thread. A
/// queue capacity of 0 admits one waiting job at a time.
///
/// # Panics
///
/// When polled outside a ringloop runtime.
///
/// # Examples
///
/// ```
/// ringloop::block_on(async {
///     let mut handles = Vec::new();
///     for i in 0..100u64 {
///         handles.push(ringloop::task::spawn_blocking_wait(move || i * 2).await);
///     }
///     let mut sum = 0;
///     for h in handles {
///         sum += h.await.unwrap();
///     }
///     assert_eq!(sum, 9900);
/// });
/// ```
pub async fn spawn_blocking_wait<T, F>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let pool = crate::event_loop::with(|cx| cx.pool.clone())
        .expect("ringloop::task::spawn_blocking_wait polled outside a ringloop runtime");
    let (handle, ticket) = pool.spawn_or_wait(f);
    if let Some(ticket) = ticket {
        // Dropping the ticket (this future) while waiting withdraws the job.
        std::future::poll_fn(|cx| ticket.poll_queued(cx)).await;
    }
    handle
}
