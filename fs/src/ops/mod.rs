//! One file per operation family. Each file holds the op value with
//! everything the kernel may touch while it is in flight (fd clone, buffer,
//! path `CString`, `statx` struct, iovecs), its SQE, its blocking syscall for
//! the pool path, and how the result becomes the output.
//!
//! Every op answers [`Fallback::Blocking`]: regular files and path lookups
//! have no readiness, so without the opcode (epoll, or a kernel whose probe
//! lacks it) the syscall runs on the blocking pool. The pool job captures
//! the raw fd number and raw addresses into the op value, never the
//! `SharedFd` or `Rc`s themselves: the runtime keeps the value alive and in
//! place until the job returns, also when the future was dropped.
//!
//! [`Fallback::Blocking`]: ringloop_runtime::driver::Fallback::Blocking

mod cached;
mod fallocate;
mod fsync;
mod ftruncate;
mod link;
mod mkdir;
mod open;
mod read;
mod read_fixed;
mod rename;
mod statx;
mod unlink;
mod vectored;
mod write;
mod write_fixed;

pub(crate) use fallocate::Fallocate;
pub(crate) use fsync::Fsync;
pub(crate) use ftruncate::Ftruncate;
pub(crate) use link::{Link, Symlink};
pub(crate) use mkdir::Mkdir;
pub(crate) use open::Open;
pub(crate) use read::Read;
pub(crate) use read_fixed::ReadFixed;
pub(crate) use rename::Rename;
pub(crate) use statx::Statx;
pub(crate) use unlink::Unlink;
pub(crate) use vectored::{Readv, Writev};
pub(crate) use write::Write;
pub(crate) use write_fixed::WriteFixed;

/// Largest length one read or write SQE carries (its `len` is 32 bits, and
/// Linux transfers at most `0x7ffff000` bytes per call anyway).
pub(crate) const MAX_RW: usize = 0x7fff_f000;

/// The offset that means "at the file's cursor": io_uring's `-1` (with
/// `IORING_FEAT_RW_CUR_POS`, Linux 5.6) reads or writes at the file
/// position and advances it, as `read(2)`/`write(2)` do; on the pool path
/// the op calls those instead of `pread`/`pwrite`.
pub(crate) const CURSOR: u64 = u64::MAX;

/// Converts a `0`-or-`-1` syscall return into the pool job's result.
pub(crate) fn cvt0(r: libc::c_int) -> std::io::Result<u32> {
    crate::error::cvt(r).map(|r| r as u32)
}
