//! ringloop's files: file and path operations as OpCode families.
//!
//! # The model
//!
//! Regular files have no readiness: `epoll` reports them always readable and
//! always writable, and a `pread` on a cold page cache simply blocks the
//! thread. So the two backends take very different paths for the same call:
//!
//! - **io_uring (proactor).** Every operation here is one SQE — `OPENAT`,
//!   `READ`, `WRITE`, `READV`, `WRITEV`, `FSYNC`, `STATX`, `FTRUNCATE`, `FALLOCATE`,
//!   `UNLINKAT`, `MKDIRAT`, `RENAMEAT`, `LINKAT`, `SYMLINKAT`, `CLOSE` — and
//!   **no thread of the blocking pool is ever started** for them: the kernel
//!   does the work (inline, or on its own io-wq workers) and posts a
//!   completion. `Runtime::metrics().blocking.threads_started` stays 0; the
//!   test `tests/fs_no_pool.rs` proves it.
//! - **epoll (reactor) and kernels without an opcode.** The same calls run
//!   the matching syscall (`openat`, `pread`, `fsync`, `statx`, ...) on the
//!   runtime's blocking pool ([`Fallback::Blocking`]), through each op's
//!   `blocking_job`. The running kernel's io_uring probe decides per opcode:
//!   `FTRUNCATE` needs 6.9, `MKDIRAT`/`SYMLINKAT`/`LINKAT` 5.15,
//!   `RENAMEAT`/`UNLINKAT` 5.11, the rest 5.6; an op the kernel lacks takes
//!   the pool path instead of failing.
//! - **Directory listing** ([`read_dir`]) has no io_uring opcode (there is no
//!   `getdents` SQE): it runs on the pool on both backends.
//!
//! # Owned buffers
//!
//! Reads and writes take their buffer by value and hand it back with the
//! result (a [`BufResult`](ringloop_runtime::buf::BufResult)). Dropping a
//! read or write future before it completes never frees the buffer under
//! the kernel: the runtime keeps the operation value (buffer, path, iovecs,
//! a clone of the fd) alive until the kernel's final completion (io_uring)
//! or until the pool job returns (epoll), then drops it. Whether the bytes
//! were written is then unknown, as after any cancelled write.
//!
//! # Errors
//!
//! Errors keep their [`io::ErrorKind`](std::io::ErrorKind) and say which
//! operation on which path failed, for example
//! `open("/nope/x"): No such file or directory (os error 2)`. A path with an
//! interior NUL byte is an `InvalidInput` error, never a panic.
//!
//! # Example
//!
//! ```
//! ringloop::block_on(async {
//!     let dir = std::env::temp_dir().join(format!("ringloop-fs-doc-{}", std::process::id()));
//!     ringloop::fs::create_dir_all(&dir).await.unwrap();
//!     let path = dir.join("hello.txt");
//!     ringloop::fs::write(&path, b"hello").await.unwrap();
//!
//!     let file = ringloop::fs::File::open(&path).await.unwrap();
//!     let (res, buf) = file.read_at(vec![0u8; 16], 1).await;
//!     assert_eq!(res.unwrap(), 4);
//!     assert_eq!(&buf[..4], b"ello");
//!     file.close().await.unwrap();
//!
//!     ringloop::fs::remove_file(&path).await.unwrap();
//!     ringloop::fs::remove_dir(&dir).await.unwrap();
//! });
//! ```
//!
//! [`Fallback::Blocking`]: ringloop_runtime::driver::Fallback::Blocking
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
#![doc(test(attr(deny(warnings))))]

mod cursor;
mod dir;
mod error;
mod file;
mod file_fixed;
mod metadata;
mod open_options;
mod ops;
mod path_ops;

pub use dir::{read_dir, DirEntry, ReadDir};
pub use file::File;
pub use metadata::{FileType, Metadata};
pub use open_options::OpenOptions;
pub use path_ops::{
    create_dir, create_dir_all, hard_link, metadata, read, read_to_string, remove_dir, remove_file,
    rename, symlink, symlink_metadata, write,
};
