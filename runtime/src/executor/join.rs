//! [`JoinHandle`] and [`JoinError`]: the output side of a task or a
//! blocking job.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Why a task produced no output.
pub struct JoinError {
    kind: Kind,
}

enum Kind {
    Cancelled,
    Panicked(Box<dyn Any + Send>),
    Rejected(String),
}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            kind: Kind::Cancelled,
        }
    }
    pub(crate) fn panicked(p: Box<dyn Any + Send>) -> Self {
        JoinError {
            kind: Kind::Panicked(p),
        }
    }
    pub(crate) fn rejected(why: String) -> Self {
        JoinError {
            kind: Kind::Rejected(why),
        }
    }

    /// The task was aborted, or its runtime shut down before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, Kind::Panicked(_))
    }

    /// The blocking pool refused the job (queue full or shut down).
    pub fn is_rejected(&self) -> bool {
        matches!(self.kind, Kind::Rejected(_))
    }

    /// The panic payload, to resume it with `std::panic::resume_unwind`.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.kind {
            Kind::Panicked(p) => Ok(p),
            kind => Err(JoinError { kind }),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cancelled => f.write_str("task was cancelled"),
            Kind::Panicked(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("non-string payload");
                write!(f, "task panicked: {msg}")
            }
            Kind::Rejected(why) => write!(f, "blocking job rejected: {why}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        let kind = if e.is_rejected() {
            io::ErrorKind::WouldBlock
        } else {
            io::ErrorKind::Other
        };
        io::Error::new(kind, e.to_string())
    }
}

struct State<T> {
    output: Option<Result<T, JoinError>>,
    finished: bool,
    aborted: bool,
    join_waker: Option<Waker>,
    task_waker: Option<Waker>,
}

/// The state a task (or blocking job) shares with its [`JoinHandle`].
pub(crate) struct JoinInner<T> {
    state: Mutex<State<T>>,
}

impl<T> JoinInner<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(JoinInner {
            state: Mutex::new(State {
                output: None,
                finished: false,
                aborted: false,
                join_waker: None,
                task_waker: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic never happens while the lock is held (no user code runs
        // under it), but do not propagate poison if it ever did.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the waker that `abort` wakes so the task sees the flag.
    pub(crate) fn set_task_waker(&self, w: Waker) {
        self.lock().task_waker = Some(w);
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.lock().aborted
    }

    /// Stores the output (first call wins) and wakes the joiner.
    pub(crate) fn complete(&self, out: Result<T, JoinError>) {
        let waker = {
            let mut st = self.lock();
            if st.finished {
                return;
            }
            st.finished = true;
            st.output = Some(out);
            st.task_waker = None;
            st.join_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Awaits the output of a spawned task or blocking job.
///
/// Resolves to `Ok(output)`, or a [`JoinError`] when the task panicked, was
/// aborted, or never ran (runtime shut down, blocking queue full). Dropping
/// the handle detaches the task: it runs on, and its output is dropped.
pub struct JoinHandle<T> {
    inner: Arc<JoinInner<T>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(inner: Arc<JoinInner<T>>) -> Self {
        JoinHandle { inner }
    }

    /// Asks the task to stop: at its next scheduling it is dropped without
    /// being polled again, and the handle resolves to a cancelled
    /// [`JoinError`]. A task that already finished keeps its output. A
    /// blocking job cannot be interrupted: it runs to its end, but its
    /// output is discarded.
    pub fn abort(&self) {
        let waker = {
            let mut st = self.inner.lock();
            if st.finished {
                return;
            }
            st.aborted = true;
            st.task_waker.clone()
        };
        match waker {
            Some(w) => w.wake(),
            // A blocking job: nothing to poll; report cancelled now.
            None => self.inner.complete(Err(JoinError::cancelled())),
        }
    }

    /// Whether the task has finished (output, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.inner.lock().finished
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.inner.lock();
        if let Some(out) = st.output.take() {
            return Poll::Ready(out);
        }
        assert!(
            !st.finished,
            "ringloop: JoinHandle polled after it returned its output"
        );
        match &st.join_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.join_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
