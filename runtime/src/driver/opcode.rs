//! The [`OpCode`] trait: one operation, lowered for both backends.

use std::io;
use std::os::fd::RawFd;

use io_uring::squeue;

/// `OpCode::CODE` for an operation that has no io_uring opcode (for example
/// reading a directory): it always takes its [`Fallback`] path.
pub const NO_OPCODE: u8 = u8::MAX;

/// Readiness direction an operation waits for on the readiness path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Wait until the fd is readable (or hung up, or in error).
    Readable,
    /// Wait until the fd is writable (or in error).
    Writable,
}

/// How an operation makes progress without a completion API (the epoll
/// backend, or io_uring on a kernel whose probe lacks the opcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// [`OpCode::try_io`] always finishes on the spot (a no-op, a
    /// non-blocking syscall that cannot return `EAGAIN`).
    Immediate,
    /// Call [`OpCode::try_io`]; when it returns `WouldBlock`, wait until `fd`
    /// is ready for `interest`, then try again (sockets, pipes, eventfds).
    Readiness {
        /// The file descriptor to wait on.
        fd: RawFd,
        /// The direction to wait for.
        interest: Interest,
    },
    /// The syscall may block (regular files, `open`, `statx`, `fsync`): run
    /// [`OpCode::blocking_job`] on the blocking pool.
    Blocking,
}

/// The outcome of [`OpCode::try_cached`].
#[derive(Debug)]
pub enum Cached {
    /// No attempt was made (the operation has no such form, or the
    /// kernel was found to lack it): go to the pool.
    Skipped,
    /// The kernel would have blocked (or does not support the form for
    /// this case): go to the pool.
    WouldBlock,
    /// Finished on the spot: the operation's result, as for `try_io`.
    Done(io::Result<u32>),
}

/// What the kernel (or the fallback path) reported for an operation.
#[derive(Debug)]
pub struct Completion {
    /// The CQE result: a non-negative value, or the error from a negative
    /// errno.
    pub result: io::Result<u32>,
    /// The CQE flags (`IORING_CQE_F_MORE`, `IORING_CQE_F_BUFFER`, ...); 0 on
    /// the fallback paths.
    pub flags: u32,
}

impl Completion {
    /// Turns a raw CQE result into a completion.
    pub fn from_raw(res: i32, flags: u32) -> Self {
        let result = if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as u32)
        };
        Completion { result, flags }
    }
}

/// A syscall to run on the blocking pool for an operation on the
/// [`Fallback::Blocking`] path. It returns what the io_uring CQE would have
/// carried.
pub struct BlockingJob(pub(crate) Box<dyn FnOnce() -> io::Result<u32> + Send>);

impl BlockingJob {
    /// Wraps a closure that performs the blocking syscall.
    ///
    /// # Safety
    ///
    /// The closure may dereference raw pointers into the operation value it
    /// was built from (its buffer, path, iovecs). That is sound only because
    /// the runtime keeps the operation value alive, at the same address and
    /// untouched by any other code, until the closure has returned, also when
    /// the [`Op`](super::Op) future is dropped first. The closure must use no
    /// other pointer whose lifetime it cannot guarantee, and must not touch
    /// `!Send` state of the operation (reference counts, `Rc`s): only the raw
    /// memory the syscall reads or writes.
    pub unsafe fn new(f: impl FnOnce() -> io::Result<u32> + Send + 'static) -> Self {
        BlockingJob(Box::new(f))
    }
}

impl std::fmt::Debug for BlockingJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockingJob")
    }
}

/// One kind of operation, with everything it owns, lowered for both backends.
///
/// The runtime boxes the value once, so its address is stable from the first
/// poll of its [`Op`](super::Op) until the final completion; the SQE may point
/// into it (a sockaddr, a `CString` path, an iovec, a timespec) and into any
/// buffer it owns.
///
/// # Safety
///
/// Implementors promise that every pointer placed in the SQE from
/// [`sqe`](OpCode::sqe) points into memory owned by `self` (inline fields or
/// heap memory it owns, such as an [`IoBuf`](crate::buf::IoBuf)), valid for the
/// access the opcode makes, and that `self` does not free or move that memory
/// while it lives. The runtime in turn keeps `self` alive and at the same
/// address until the kernel's last completion for the SQE, also after the
/// future is dropped. The same promise covers [`try_io`](OpCode::try_io) and
/// [`blocking_job`](OpCode::blocking_job).
pub unsafe trait OpCode: 'static {
    /// What awaiting the operation yields (usually the result and the
    /// buffers handed back).
    type Output;

    /// The io_uring opcode (`io_uring::opcode::X::CODE`) this operation
    /// submits, checked against the ring's probe; [`NO_OPCODE`] when there is
    /// none. When the running kernel lacks it, the fallback path is used on
    /// io_uring too.
    const CODE: u8;

    /// Whether a cancel scope ([`CancelToken::run`]) may cancel the
    /// operation in place (the default). An operation that must take
    /// effect whatever happens to the code around it (a close) says
    /// `false`, and runs to its end under a cancelled scope too.
    ///
    /// [`CancelToken::run`]: crate::io::CancelToken::run
    const CANCELLABLE: bool = true;

    /// Builds the SQE (user_data is set by the driver). Called at most once.
    fn sqe(&mut self) -> squeue::Entry;

    /// Whether this value takes the completion path when the kernel has
    /// [`CODE`](Self::CODE) (the default). An operation that also needs a
    /// resource the loop may lack (a provided-buffer ring) answers `false`
    /// then, and takes its fallback. Must not reach the driver.
    fn completion_path(&self) -> bool {
        true
    }

    /// How to make progress without the completion path. Called at most
    /// once, before any `try_io` or `blocking_job`; may acquire resources
    /// (a timerfd, for example).
    fn fallback(&mut self) -> io::Result<Fallback>;

    /// The non-blocking attempt for [`Fallback::Immediate`] and
    /// [`Fallback::Readiness`]; `WouldBlock` means "wait and call again".
    fn try_io(&mut self) -> io::Result<u32> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "operation has no non-blocking path",
        ))
    }

    /// On the readiness path: whether `n`, the byte count of a successful
    /// [`try_io`](Self::try_io), shows that the fd has nothing more for this
    /// direction right now (a stream read that got more than nothing and
    /// fewer bytes than it asked for; never a datagram read, which is short
    /// whenever the datagram is), so the next operation of that direction
    /// waits for readiness instead of trying its syscall first and getting
    /// `EAGAIN`. The default, `false`, always tries the syscall first.
    /// Writes keep the default: a partial write is rare and its next
    /// attempt is cheap.
    fn drained(&self, n: u32) -> bool {
        let _ = n;
        false
    }

    /// On the [`Fallback::Blocking`] path, before the pool: the form of
    /// the syscall that cannot block (it returns `EAGAIN` instead, as
    /// `preadv2(RWF_NOWAIT)` and `openat2(RESOLVE_CACHED)` do), tried on the
    /// loop thread. The default, [`Cached::Skipped`], has none.
    fn try_cached(&mut self) -> Cached {
        Cached::Skipped
    }

    /// The pool job for [`Fallback::Blocking`]. Called at most once.
    fn blocking_job(&mut self) -> BlockingJob {
        // SAFETY: the closure touches no pointer at all.
        unsafe {
            BlockingJob::new(|| {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "operation has no blocking path",
                ))
            })
        }
    }

    /// Turns the completion into the output, handing owned buffers back.
    fn complete(self, completion: Completion) -> Self::Output
    where
        Self: Sized;

    /// Consumes the final completion of an operation whose future was
    /// dropped (called with the driver released, once the kernel or the
    /// pool is done with the value). The default drops the output of
    /// [`complete`](Self::complete), whose destructors close an fd it
    /// carries and free its buffers; an operation whose result belongs to
    /// someone else overrides it (an accepted connection goes back to its
    /// listener's queue).
    fn orphaned(self, completion: Completion)
    where
        Self: Sized,
    {
        drop(self.complete(completion));
    }
}

/// An [`OpCode`] whose SQE is multishot: one submission, many completions
/// (`IORING_CQE_F_MORE` on all but the last). Awaited as a
/// [`MultiOp`](super::MultiOp) stream.
pub trait MultishotOpCode: OpCode {
    /// One element of the stream.
    type Item;

    /// Turns one completion into one item. On the fallback path this is
    /// called with the result of each successful or failed `try_io`.
    fn item(&mut self, completion: Completion) -> Self::Item;

    /// Consumes a completion that arrived for a dropped stream (queued and
    /// never yielded, or late); see [`OpCode::orphaned`]. The default drops
    /// the item.
    fn orphaned_item(&mut self, completion: Completion) {
        drop(self.item(completion));
    }
}
