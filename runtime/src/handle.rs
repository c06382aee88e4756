//! [`Handle`]: a `Send + Clone` reference to one loop, for other threads.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use crate::executor::shared::{Remote, Shared};
use crate::executor::{JoinHandle, TaskCell};
use crate::metrics::MetricsSnapshot;
use crate::{event_loop, Backend};

/// A handle to one loop thread, usable from any thread.
///
/// A task spawned through it runs on that loop. Work sent to the loop that
/// calls `block_on` runs while a `block_on` is in progress there.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) backend: Backend,
}

impl Handle {
    /// The handle of the loop running on this thread, if any.
    pub fn try_current() -> Option<Handle> {
        event_loop::with(|cx| Handle {
            shared: cx.shared.clone(),
            backend: cx.backend,
        })
    }

    /// The handle of the loop running on this thread.
    ///
    /// # Panics
    ///
    /// Outside a ringloop runtime; see [`try_current`](Self::try_current).
    pub fn current() -> Handle {
        Handle::try_current().expect("ringloop::Handle::current called outside a ringloop runtime")
    }

    /// The backend of this loop.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A snapshot of this loop's counters. On the loop's own thread it also
    /// has the blocking pool's figures and the exact count of operations in
    /// flight; from another thread, the counters as of the loop's last turn.
    ///
    /// # Examples
    ///
    /// ```
    /// ringloop::block_on(async {
    ///     ringloop::spawn(async {}).await.unwrap();
    ///     let m = ringloop::Handle::current().metrics();
    ///     assert!(m.tasks_spawned >= 1);
    /// });
    /// ```
    pub fn metrics(&self) -> MetricsSnapshot {
        event_loop::with(|cx| {
            (cx.shared.id == self.shared.id).then(|| {
                let mut m = cx.metrics.snapshot(cx.backend);
                m.blocking = cx.pool.snapshot();
                if let Ok(d) = cx.driver.try_borrow() {
                    m.ops_in_flight = d.in_flight() as u64;
                }
                m
            })
        })
        .flatten()
        .unwrap_or_else(|| self.shared.metrics.snapshot(self.backend))
    }

    /// Runs a `Send` future on this loop. If the loop has shut down, the
    /// handle resolves to a cancelled [`JoinError`](crate::task::JoinError).
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(move || fut)
    }

    /// Calls `make` on this loop's thread and runs the future it returns
    /// there. The future may be `!Send` (it may hold `Rc`s and sockets);
    /// only `make` and the output cross threads.
    #[track_caller]
    pub fn spawn_with<M, F>(&self, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let at = Location::caller();
        // The cell is allocated here (the handle needs it now); its future
        // is made and installed on the loop's thread.
        let cell = TaskCell::<F>::empty(self.shared.clone(), at);
        let guard = CancelOnDrop(Some(cell.clone()));
        let job = move || {
            let mut guard = guard;
            // `make` may panic: the guard still reports the cancellation.
            let fut = make();
            let Some(cell) = guard.0.take() else { return };
            // Runs from the loop's remote drain, with the loop current.
            event_loop::with(|cx| {
                cx.metrics.tasks_spawned.inc();
                cell.install(fut);
                cx.exec.insert(cell);
            });
        };
        self.shared.push_remote(Remote::Spawn(Box::new(job)));
        JoinHandle::new(cell)
    }
}

/// Completes the task as cancelled if the spawn never ran.
struct CancelOnDrop<F: Future + 'static>(Option<Arc<TaskCell<F>>>);

impl<F: Future + 'static> Drop for CancelOnDrop<F> {
    fn drop(&mut self) {
        if let Some(cell) = self.0.take() {
            cell.cancel_unstarted();
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("loop", &self.shared.id)
            .field("backend", &self.backend)
            .finish()
    }
}
