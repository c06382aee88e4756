//! Owned buffers for completion-based I/O.
//!
//! On io_uring the kernel reads or writes a buffer *after* the call that
//! started the operation has returned, and until its completion arrives. A
//! borrowed `&mut [u8]` cannot express that: the caller could drop or reuse it
//! while the kernel still writes. So every ringloop I/O call takes its buffer
//! **by value** and hands it back with the result, as a [`BufResult`]. If the
//! future is dropped before completion, the runtime keeps the buffer alive
//! until the kernel is done with it, then frees it.
//!
//! [`IoBuf`] is a buffer the kernel may read (for writes and sends);
//! [`IoBufMut`] one it may write (for reads and receives). They are
//! implemented for `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`, `&'static str`
//! (read-only) and [`Slice`], a window into any of them, so a read can fill the
//! middle of a buffer without copying.
//!
//! The same API runs on the epoll backend, where the runtime performs the
//! syscall itself; user code does not change.

mod io_buf;
pub mod iovec;
mod slice;

/// A loop-owned receive buffer (from a pooled receive): see
/// [`crate::driver::PooledBuf`].
pub use crate::driver::PooledBuf;
pub use io_buf::{IoBuf, IoBufMut};
pub use slice::Slice;

/// The result of an owned-buffer operation: the outcome and the buffer, which
/// is always handed back, on error too.
pub type BufResult<T, B> = (std::io::Result<T>, B);
