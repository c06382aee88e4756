//! Whether a byte range of a file is in the page cache, so that
//! `sendfile(2)` on the loop thread cannot wait for the disk:
//! `cachestat(2)` (Linux 6.5) counts the cached pages of a range without
//! touching them. A kernel without it (`ENOSYS`) is remembered; the answer
//! is then "unknown", and the caller keeps its old path (the loop thread,
//! as every reactor server's sendfile does).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `__NR_cachestat`: 451 on every architecture (the unified syscall table).
const SYS_CACHESTAT: libc::c_long = 451;

/// Whether the kernel has `cachestat` (cleared on `ENOSYS`).
static HAS_CACHESTAT: AtomicBool = AtomicBool::new(true);
/// The page size, read once (0: not read yet).
static PAGE: AtomicUsize = AtomicUsize::new(0);

/// `struct cachestat_range` (uapi `linux/mman.h`).
#[repr(C)]
struct Range {
    off: u64,
    len: u64,
}

/// `struct cachestat` (uapi `linux/mman.h`).
#[repr(C)]
#[derive(Default)]
struct Stat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

fn page_size() -> u64 {
    let p = PAGE.load(Ordering::Relaxed);
    if p != 0 {
        return p as u64;
    }
    // SAFETY: sysconf takes no pointer.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let p = if p > 0 { p as usize } else { 4096 };
    PAGE.store(p, Ordering::Relaxed);
    p as u64
}

/// Whether every page of `off..off + len` of `fd` that exists (below
/// `size`, the file's length) is cached; `None` when the kernel cannot
/// tell.
pub(crate) fn all_cached(fd: RawFd, off: u64, len: u64, size: u64) -> Option<bool> {
    if !HAS_CACHESTAT.load(Ordering::Relaxed) {
        return None;
    }
    let end = off.saturating_add(len).min(size);
    if end <= off {
        return Some(true);
    }
    let page = page_size();
    let pages = end.div_ceil(page) - off / page;
    let range = Range {
        off,
        len: end - off,
    };
    let mut st = Stat::default();
    // SAFETY: `range` and `st` are valid, properly laid out uapi structs on
    // this stack frame for the call; flags must be 0.
    let r = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            fd,
            &range as *const Range,
            &mut st as *mut Stat,
            0,
        )
    };
    if r < 0 {
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            HAS_CACHESTAT.store(false, Ordering::Relaxed);
        }
        return None;
    }
    Some(st.nr_cache >= pages)
}
