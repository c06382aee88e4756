//! The process-wide half of signal handling: the `sigaction` handler and
//! the table of listeners it notifies.
//!
//! A signal is delivered to whichever thread of the process does not block
//! it, so the handler cannot know which loop wants it. It therefore does the
//! only async-signal-safe thing there is: for every listener slot whose mask
//! names the signal, it writes 1 to that slot's eventfd with `write(2)`.
//! Each listener (a [`Signal`](super::Signal)) waits for its own eventfd to
//! become readable on its own loop, on either backend.
//!
//! The table is a fixed array of [`MAX_LISTENERS`] slots so the handler never
//! allocates or locks. A slot is claimed with a compare-and-swap, published
//! by storing its fd and then its mask, and released in the reverse order;
//! `busy` counts handlers inside the slot, so the releasing thread waits for
//! them (a few instructions) before the fd may be closed and its number
//! reused. A handler running on the releasing thread itself finishes before
//! the release resumes, so the wait cannot deadlock.
//!
//! The handler is installed for a signal the first time a listener asks for
//! it and stays installed for the life of the process (as in tokio): after
//! the last listener goes, the signal is caught and ignored, no longer
//! fatal. It replaces an inherited `SIG_IGN` (a server started from `nohup`
//! or as a background job still stops on SIGINT).

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Listeners that can exist at once in a process.
pub(crate) const MAX_LISTENERS: usize = 1024;

/// The highest signal number (`SIGRTMAX` on Linux).
const MAX_SIGNAL: i32 = 64;

struct Slot {
    /// Claimed by a listener.
    taken: AtomicBool,
    /// Bit `n - 1` set: signal `n` is wanted. 0 while claimed but not
    /// yet published, and after release.
    mask: AtomicU64,
    /// The listener's eventfd, -1 when none.
    fd: AtomicI32,
    /// Handlers currently inside this slot.
    busy: AtomicU32,
}

#[allow(clippy::declare_interior_mutable_const)] // only to initialise SLOTS
const EMPTY: Slot = Slot {
    taken: AtomicBool::new(false),
    mask: AtomicU64::new(0),
    fd: AtomicI32::new(-1),
    busy: AtomicU32::new(0),
};

static SLOTS: [Slot; MAX_LISTENERS] = [EMPTY; MAX_LISTENERS];
/// One past the highest slot ever claimed: the handler looks no further.
static HIGH: AtomicUsize = AtomicUsize::new(0);
/// Signals whose handler is installed (bit `n - 1`).
static INSTALLED: AtomicU64 = AtomicU64::new(0);
/// Serialises installation.
static INSTALL: Mutex<()> = Mutex::new(());

/// Signals a listener may not take: their default action is what makes a
/// program debuggable or killable (tokio forbids the same set).
const FORBIDDEN: [i32; 7] = [
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGKILL,
    libc::SIGSEGV,
    libc::SIGSTOP,
    libc::SIGBUS,
    libc::SIGTRAP,
];

fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

extern "C" fn on_signal(sig: libc::c_int) {
    // SAFETY: `__errno_location` returns this thread's errno; saving and
    // restoring it keeps the interrupted code's errno intact.
    let errno = unsafe { *libc::__errno_location() };
    if (1..=MAX_SIGNAL).contains(&sig) {
        let want = bit(sig);
        let high = HIGH.load(Ordering::SeqCst).min(MAX_LISTENERS);
        for slot in &SLOTS[..high] {
            slot.busy.fetch_add(1, Ordering::SeqCst);
            if slot.mask.load(Ordering::SeqCst) & want != 0 {
                let fd = slot.fd.load(Ordering::SeqCst);
                if fd >= 0 {
                    let one: u64 = 1;
                    // SAFETY: `write(2)` is async-signal-safe; `fd` stays
                    // open while `busy` is non-zero (see `release`), and the
                    // 8 bytes come from a local.
                    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
                }
            }
            slot.busy.fetch_sub(1, Ordering::SeqCst);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Checks that `sig` may be listened to.
pub(crate) fn check(sig: i32) -> io::Result<()> {
    if !(1..=MAX_SIGNAL).contains(&sig) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("ringloop::signal: {sig} is not a signal number (1..={MAX_SIGNAL})"),
        ));
    }
    if FORBIDDEN.contains(&sig) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("ringloop::signal: signal {sig} cannot be listened to (its default action must stay)"),
        ));
    }
    Ok(())
}

/// Installs the handler for `sig` unless it already is.
pub(crate) fn install(sig: i32) -> io::Result<()> {
    check(sig)?;
    if INSTALLED.load(Ordering::SeqCst) & bit(sig) != 0 {
        return Ok(());
    }
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if INSTALLED.load(Ordering::SeqCst) & bit(sig) != 0 {
        return Ok(());
    }
    // SAFETY: a zeroed sigaction is a valid starting value; the fields set
    // below make it a plain handler with an empty mask.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: `act.sa_mask` is a valid sigset to clear.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: `act` is initialised; `on_signal` is async-signal-safe; a
    // null old-action pointer is allowed.
    crate::sys::cvt(unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) })
        .map_err(|e| crate::sys::context(e, format_args!("ringloop::signal: sigaction({sig})")))?;
    INSTALLED.fetch_or(bit(sig), Ordering::SeqCst);
    Ok(())
}

/// A claimed listener slot; releasing it is the caller's job
/// ([`release`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotId(usize);

/// Claims a slot that writes to `fd` on `sig`.
pub(crate) fn claim(sig: i32, fd: RawFd) -> io::Result<SlotId> {
    for (i, slot) in SLOTS.iter().enumerate() {
        if slot
            .taken
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            HIGH.fetch_max(i + 1, Ordering::SeqCst);
            slot.fd.store(fd, Ordering::SeqCst);
            slot.mask.store(bit(sig), Ordering::SeqCst);
            return Ok(SlotId(i));
        }
    }
    Err(io::Error::other(format!(
        "ringloop::signal: {MAX_LISTENERS} signal listeners exist already"
    )))
}

/// Unpublishes the slot and waits until no handler can still write to its
/// fd; afterwards the caller may close the fd.
pub(crate) fn release(id: SlotId) {
    let slot = &SLOTS[id.0];
    slot.mask.store(0, Ordering::SeqCst);
    slot.fd.store(-1, Ordering::SeqCst);
    // A handler that entered before the stores may still hold the old fd.
    while slot.busy.load(Ordering::SeqCst) != 0 {
        std::hint::spin_loop();
    }
    slot.taken.store(false, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_and_forbidden_signals_are_errors() {
        assert_eq!(check(0).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(check(65).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            check(libc::SIGKILL).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(check(libc::SIGUSR1).is_ok());
    }

    #[test]
    fn slots_are_reused_after_release() {
        // More claims than slots: each release makes its slot claimable.
        for _ in 0..2 * MAX_LISTENERS {
            release(claim(libc::SIGUSR2, -1).unwrap());
        }
    }
}
