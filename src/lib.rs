//! ringloop: an async runtime for Linux built on io_uring as a proactor, with
//! an epoll reactor behind the same seam.
//!
//! This facade re-exports the runtime at its root, and the socket and file
//! crates as [`net`] and [`fs`]. See [`ringloop_runtime`] for the model.
//!
//! Features (all off by default): `futures-io` and `tokio-io` give
//! `net::compat::CopyIo`, poll-based `futures_io` / tokio I/O traits over
//! ringloop's streams, for hyper, tokio-util and the like (it copies:
//! see `docs/compat.md`); `valgrind` tells memcheck what io_uring wrote.
//!
//! ```
//! let v = ringloop::block_on(async {
//!     ringloop::spawn(async { 7 }).await.unwrap()
//! });
//! assert_eq!(v, 7);
//! ```
#![deny(unsafe_code, missing_docs, missing_debug_implementations)]

pub use ringloop_fs as fs;
pub use ringloop_net as net;
pub use ringloop_runtime::*;
