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
//! [`IoBufMut`] one it may write (for reads and receives):
//!
//! | type | `IoBuf` | `IoBufMut` |
//! |---|---|---|
//! | `Vec<u8>`, `Box<[u8]>`, `Box<[u8; N]>` | yes | yes |
//! | `&'static [u8]`, `&'static [u8; N]`, `&'static str`, `String` | yes | — |
//! | `Rc<[u8]>`, `Arc<[u8]>`, `Rc<Vec<u8>>`, `Arc<Vec<u8>>`, `Rc<str>`, `Arc<str>` | yes | — |
//! | `bytes::Bytes` (feature `bytes`) | yes | — |
//! | `bytes::BytesMut` (feature `bytes`) | yes | yes |
//! | [`Slice`] of any of them | yes | as the inner |
//!
//! A shared buffer (`Rc`, `Arc`, `Bytes`) sends the same bytes to many
//! sockets without copying: each operation owns one count. A bare
//! `[u8; N]` is not a buffer: its bytes move with the value, and the kernel
//! may hold their address; box it.
//!
//! # The initialised length after a read
//!
//! A read or receive of `n` bytes into a buffer *raises* its initialised
//! length to at least `n` ([`IoBufMut::set_init`]); it never lowers it. So
//! a receive of a 5-byte datagram into `vec![0; 1500]` gives `n == 5` and a
//! Vec still 1500 long (tokio-uring does the same; monoio shrinks the Vec
//! to 5). The count is the truth: use `&buf[..n]`, or pass
//! `Vec::with_capacity(1500)` (length 0), which comes back 5 long. Never
//! shrinking is what lets a read into a [`Slice`] in the middle of a buffer
//! leave the bytes after the window alone.
//!
//! The same API runs on the epoll backend, where the runtime performs the
//! syscall itself; user code does not change.

#[cfg(feature = "bytes")]
mod bytes;
mod io_buf;
pub mod iovec;
mod more;
mod slice;

/// A loop-owned receive buffer (from a pooled receive): see
/// [`crate::driver::PooledBuf`].
pub use crate::driver::PooledBuf;

/// Registered (fixed) buffers: [`FixedBufRegistry`](fixed::FixedBufRegistry)
/// (checked out by index), [`FixedBufPool`](fixed::FixedBufPool) (by
/// capacity), and the handle both give, [`FixedBuf`](fixed::FixedBuf).
///
/// A ring has one table of registered buffers, so a loop has at most one
/// registered registry or pool at a time. Registered with io_uring
/// (`IORING_REGISTER_BUFFERS2`, Linux 5.13), the fixed operations name a
/// buffer by its index and the kernel skips its per-call page lookup:
///
/// | operation | io_uring, buffers registered | epoll, or the kernel refused them |
/// |---|---|---|
/// | `File::read_fixed_at` / `write_fixed_at` | `READ_FIXED` / `WRITE_FIXED` (5.1) | plain `READ`/`WRITE` SQE; the pool on epoll |
/// | `TcpStream::send_fixed` | `SEND_ZC` with `IORING_RECVSEND_FIXED_BUF` (6.0) | `send(2)` on readiness |
/// | `TcpStream::recv_fixed` | `READ_FIXED` on the socket (5.1) | `recv(2)` on readiness |
///
/// The kernel takes `IORING_RECVSEND_FIXED_BUF` on zero-copy sends only
/// (on 6.18 a plain `SEND` or `RECV` with it fails with `EINVAL`); so a
/// fixed send is a zero-copy send whose buffer comes back after the
/// kernel's notification, and a fixed receive is a `READ_FIXED`, as in
/// tokio-uring. Every path gives the same bytes and counts.
///
/// A buffer checked out ([`FixedBuf`](fixed::FixedBuf)) holds the
/// registry's memory (an `Rc`), and an operation owns its buffer until its
/// final completion, so memory the kernel may write outlives every
/// operation using it, also after the registry was dropped. Unregistering
/// (or dropping the registry) fails new fixed operations with its buffers
/// at once (`InvalidInput`; so does a buffer used on another loop); those
/// in flight complete normally, and the ring's table is taken down once
/// every buffer is back, so the unregistration never waits in the kernel.
pub mod fixed {
    pub use crate::driver::{FixedBuf, FixedBufPool, FixedBufRegistry};
}
pub use io_buf::{IoBuf, IoBufMut};
pub use slice::Slice;

/// The result of an owned-buffer operation: the outcome and the buffer, which
/// is always handed back, on error too.
pub type BufResult<T, B> = (std::io::Result<T>, B);
