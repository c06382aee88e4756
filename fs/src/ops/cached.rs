//! The cached forms of file syscalls, tried on the loop thread before the
//! blocking pool ([`OpCode::try_cached`]): `preadv2(RWF_NOWAIT)` (4.14)
//! reads what the page cache holds and says `EAGAIN` otherwise;
//! `openat2(RESOLVE_CACHED)` (5.12) opens what the dentry cache can
//! resolve and says `EAGAIN` when the lookup would need the disk. A kernel
//! without the syscall (`ENOSYS`) is remembered and not asked again; a
//! file system without the flag (`EOPNOTSUPP`), or flags the cached form
//! refuses (`EINVAL`), send that one call to the pool, whose result is the
//! operation's.
//!
//! [`OpCode::try_cached`]: ringloop_runtime::driver::OpCode::try_cached

use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use ringloop_runtime::driver::Cached;

/// `RESOLVE_CACHED` (uapi `linux/openat2.h`, 5.12).
const RESOLVE_CACHED: u64 = 0x20;

/// `struct open_how` (uapi `linux/openat2.h`; libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Whether the kernel has `preadv2` (cleared on `ENOSYS`).
static HAS_PREADV2: AtomicBool = AtomicBool::new(true);
/// Whether the kernel has `openat2` (cleared on `ENOSYS`).
static HAS_OPENAT2: AtomicBool = AtomicBool::new(true);

/// Turns a raw syscall return into the cached outcome; `flag` is cleared
/// when the kernel lacks the syscall.
fn outcome(r: isize, flag: &AtomicBool) -> Cached {
    if r >= 0 {
        return Cached::Done(Ok(r as u32));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL) => Cached::WouldBlock,
        Some(libc::ENOSYS) => {
            flag.store(false, Ordering::Relaxed);
            Cached::WouldBlock
        }
        Some(libc::EINTR) => Cached::WouldBlock,
        _ => Cached::Done(Err(e)),
    }
}

/// `preadv2(fd, iov, cnt, pos, RWF_NOWAIT)`; `pos == -1` reads at the
/// file's cursor.
///
/// # Safety
///
/// `iov[..cnt]` must describe writable memory that nothing else touches
/// during the call.
pub(crate) unsafe fn read_nowait(fd: i32, iov: *const libc::iovec, cnt: i32, pos: i64) -> Cached {
    if !HAS_PREADV2.load(Ordering::Relaxed) {
        return Cached::Skipped;
    }
    // SAFETY: forwarded from the caller.
    let r = unsafe { libc::preadv2(fd, iov, cnt, pos, libc::RWF_NOWAIT) };
    outcome(r as isize, &HAS_PREADV2)
}

/// `openat2(AT_FDCWD, path, {flags, 0, RESOLVE_CACHED})`, for opens that
/// create or truncate nothing (those the kernel always refuses in the
/// cached form).
pub(crate) fn open_cached(path: &CStr, flags: i32) -> Cached {
    if flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_TMPFILE) != 0
        || !HAS_OPENAT2.load(Ordering::Relaxed)
    {
        return Cached::Skipped;
    }
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: RESOLVE_CACHED,
    };
    // SAFETY: `path` is a NUL-terminated string and `how` a valid
    // `struct open_how` of the size passed, both alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    outcome(r as isize, &HAS_OPENAT2)
}
