//! What the driver keeps of an operation whose future was dropped.
//!
//! The value must outlive the kernel's use of its memory, and its result
//! must still be *consumed*: an accept or an open that completes after the
//! cancellation was too late returns an fd that nobody else will close. So
//! an orphan is finished with `OpCode::orphaned` (or
//! `MultishotOpCode::orphaned_item` for each queued completion), which by
//! default completes it like a live op and drops the output at once: that
//! closes such an fd and frees the buffers. An accept overrides it to hand
//! the connection back to its listener instead.
//!
//! Finishing runs user-visible destructors (a `SharedFd` closing through the
//! driver), so the driver hands finished orphans out with
//! [`Driver::take_deferred`](super::Driver::take_deferred) and the loop runs
//! them with the driver released.

use super::opcode::{Completion, MultishotOpCode, OpCode};

/// A type-erased orphaned operation value.
pub(crate) trait Orphan {
    /// Consumes the value with every completion it received.
    fn finish(self: Box<Self>, cqes: Vec<Completion>);
}

/// An orphaned single-shot operation.
pub(crate) struct Single<T: OpCode>(pub(crate) Box<T>);

impl<T: OpCode> Orphan for Single<T> {
    fn finish(self: Box<Self>, cqes: Vec<Completion>) {
        // A zero-copy send reports its result first and the buffer release
        // last: the first completion is the result.
        let c = cqes.into_iter().next().unwrap_or(Completion {
            result: Err(std::io::Error::from_raw_os_error(libc::ECANCELED)),
            flags: 0,
        });
        (*self.0).orphaned(c);
    }
}

/// An orphaned multishot operation.
pub(crate) struct Multi<T: MultishotOpCode>(pub(crate) Box<T>);

impl<T: MultishotOpCode> Orphan for Multi<T> {
    fn finish(mut self: Box<Self>, cqes: Vec<Completion>) {
        for c in cqes {
            self.0.orphaned_item(c);
        }
    }
}

/// An orphan whose final completion arrived: ready to be finished with the
/// driver released.
pub(crate) struct Done {
    pub(crate) data: Box<dyn Orphan>,
    pub(crate) cqes: Vec<Completion>,
}

impl Done {
    pub(crate) fn finish(self) {
        if crate::mutant::on("late_result_dropped") {
            return;
        }
        self.data.finish(self.cqes);
    }
}

/// A payload with nothing to finish (a readiness `POLL_ADD`).
pub(crate) struct Nothing;

impl Orphan for Nothing {
    fn finish(self: Box<Self>, _cqes: Vec<Completion>) {}
}
