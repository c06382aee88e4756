//! Opening files beneath the root: `openat2(2)` as the example's own
//! `OpCode`.
//!
//! [`OpenAt2`] opens relative to the root directory fd with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, so the *kernel* refuses any
//! path that leaves the root (`..`, absolute symlinks, symlinks pointing
//! out), whatever `path.rs` let through. io_uring: an `IORING_OP_OPENAT2`
//! SQE (5.6). epoll: first with `RESOLVE_CACHED` on the loop thread, then,
//! if the lookup would block, the syscall on the blocking pool. The op owns the
//! `CString` path and the `open_how` its SQE points to, and an `Arc` of the
//! root fd.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use ringloop::driver::io_uring::{opcode, squeue, types};
use ringloop::driver::{BlockingJob, Cached, Completion, Fallback, Op, OpCode};
use ringloop::fs::{File, Metadata};

use crate::path::{self, RelPath};

/// `O_*` flags of every file the server opens. `O_NONBLOCK` makes opening
/// a FIFO return at once instead of waiting for a writer (it is refused
/// later as not a regular file); it changes nothing for regular files.
const OPEN_FLAGS: i32 = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
const RESOLVE: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
/// Only the dentry cache (5.12): `EAGAIN` if the lookup would block (an
/// older kernel says `EINVAL`).
const RESOLVE_CACHED: u64 = libc::RESOLVE_CACHED;

fn open_how() -> types::OpenHow {
    types::OpenHow::new()
        .flags(OPEN_FLAGS as u64)
        .resolve(RESOLVE)
}

fn openat2_now(
    dirfd: RawFd,
    path: *const libc::c_char,
    how: *const types::OpenHow,
) -> io::Result<u32> {
    // SAFETY: `path` is a NUL-terminated string and `how` an `open_how`
    // (`OpenHow` is `repr(transparent)` over it), both valid for the call
    // (callers' contract); the size passed is that struct's.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path,
            how,
            std::mem::size_of::<types::OpenHow>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u32)
    }
}

/// Opens the served root (`O_PATH | O_DIRECTORY`) and checks that the
/// kernel has `openat2` (5.6): without it the server refuses to start
/// rather than serve without the kernel's `RESOLVE_BENEATH` check.
pub fn open_root(dir: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("root {dir:?}: {e}")))?;
    let root = OwnedFd::from(f);
    let how = open_how();
    match openat2_now(root.as_raw_fd(), c".".as_ptr(), &how) {
        // SAFETY: openat2 returned a new fd that nothing else owns.
        Ok(fd) => drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            return Err(io::Error::new(
                e.kind(),
                "openat2(2) is missing (Linux < 5.6): refusing to serve without RESOLVE_BENEATH",
            ))
        }
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("openat2 on root {dir:?}: {e}"),
            ))
        }
    }
    Ok(root)
}

/// `openat2(root, path, O_RDONLY, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`.
pub struct OpenAt2 {
    /// Keeps the directory fd open while the kernel or a pool thread uses it.
    root: Arc<OwnedFd>,
    path: CString,
    how: types::OpenHow,
}

impl OpenAt2 {
    pub fn new(root: Arc<OwnedFd>, path: CString) -> Self {
        OpenAt2 {
            root,
            path,
            how: open_how(),
        }
    }
}

// SAFETY: the SQE points at `self.path` (heap, owned) and `self.how`
// (inline in the boxed op, whose address the runtime keeps stable) and
// names `self.root`, which the op keeps open.
unsafe impl OpCode for OpenAt2 {
    type Output = io::Result<OwnedFd>;
    const CODE: u8 = opcode::OpenAt2::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt2::new(
            types::Fd(self.root.as_raw_fd()),
            self.path.as_ptr(),
            &self.how,
        )
        .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }

    /// The dentry cache first (`RESOLVE_CACHED`, 5.12), on the loop
    /// thread: `EAGAIN` when the lookup would need the disk, then the pool.
    fn try_cached(&mut self) -> Cached {
        let how = types::OpenHow::new()
            .flags(OPEN_FLAGS as u64)
            .resolve(RESOLVE | RESOLVE_CACHED);
        match openat2_now(self.root.as_raw_fd(), self.path.as_ptr(), &how) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINVAL)) => {
                Cached::WouldBlock
            }
            r => Cached::Done(r),
        }
    }

    fn blocking_job(&mut self) -> BlockingJob {
        let dirfd = self.root.as_raw_fd();
        // Addresses cross to the pool thread as integers; see SAFETY below.
        let path = self.path.as_ptr() as usize;
        let how = &self.how as *const types::OpenHow as usize;
        // SAFETY: `path` and `how` point into this op, which the runtime
        // keeps alive and unmoved until the job returns (BlockingJob
        // contract); `root` keeps `dirfd` open as long.
        unsafe {
            BlockingJob::new(move || {
                openat2_now(
                    dirfd,
                    path as *const libc::c_char,
                    how as *const types::OpenHow,
                )
            })
        }
    }

    fn complete(self, c: Completion) -> io::Result<OwnedFd> {
        // SAFETY: a successful openat2 returns a new fd owned by no one else.
        c.result
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

async fn open(root: &Arc<OwnedFd>, rel: &RelPath) -> io::Result<File> {
    let fd = Op::new(OpenAt2::new(root.clone(), rel.path.clone())).await?;
    Ok(File::from_std(std::fs::File::from(fd)))
}

/// What a target names.
// Returned and matched at once, never stored: boxing would only add an
// allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Opened {
    /// A regular file (the target's own, or a directory's `index.html`),
    /// the path it was found at, and its metadata.
    File(File, RelPath, Metadata),
    /// A directory named without the trailing slash: redirect to the name
    /// with it, so that relative links in its index resolve inside it.
    Directory,
}

/// Opens the target, or the `index.html` of a directory named with a
/// trailing slash, as a regular file; the error is the status to answer
/// (404, or 503 when out of fds). A regular file named with a trailing
/// slash (`/a.txt/`) is 404, as a path lookup of `a.txt/` is in the kernel.
pub async fn open_target(root: &Arc<OwnedFd>, rel: RelPath) -> Result<Opened, u16> {
    let miss = |e: io::Error| -> u16 {
        match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM) => 503,
            _ => 404,
        }
    };
    let f = open(root, &rel).await.map_err(miss)?;
    let meta = f.metadata().await.map_err(|_| 404u16)?;
    if meta.is_file() {
        return if rel.dir {
            Err(404)
        } else {
            Ok(Opened::File(f, rel, meta))
        };
    }
    if !meta.is_dir() {
        return Err(404);
    }
    drop(f);
    if !rel.dir {
        return Ok(Opened::Directory);
    }
    let index = path::index_of(&rel);
    let f = open(root, &index).await.map_err(miss)?;
    let meta = f.metadata().await.map_err(|_| 404u16)?;
    if meta.is_file() {
        Ok(Opened::File(f, index, meta))
    } else {
        Err(404)
    }
}
