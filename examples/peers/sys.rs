//! The few process-level calls the comparison needs: pinning to a core,
//! the fd limit, CPU time and resident memory.

use std::io;

/// Pins the calling thread (and every thread it starts afterwards) to
/// `core`, like `taskset -c core`.
pub fn pin_to(core: usize) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t and `core` is below CPU_SETSIZE
    // (checked by the caller's core count, at most 2 here; CPU_SET bounds
    // it anyway).
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: pid 0 is this thread; `set` lives across the call and its
    // size is passed.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if r == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("pin to core {core}: {e}")))
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft one.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 0;
    }
    if r.rlim_cur < r.rlim_max {
        r.rlim_cur = r.rlim_max;
        // SAFETY: `r` is a valid rlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
    }
    r.rlim_cur
}

/// User + system CPU time of this process (all its threads), in µs.
pub fn cpu_us() -> u64 {
    // SAFETY: an all-zero rusage is a valid out-value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out-pointer for the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(u.ru_utime) + us(u.ru_stime)
}

/// VmRSS of process `pid`, in bytes (`/proc/PID/status`).
pub fn vm_rss(pid: u32) -> io::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// A listening socket on 127.0.0.1, port 0, with a 4096 backlog (std's
/// bind listens with 128; a second `listen` raises it), for every server.
pub fn listener() -> io::Result<std::net::TcpListener> {
    use std::os::fd::AsRawFd;
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    // SAFETY: listen(2) on a socket this function owns.
    if unsafe { libc::listen(l.as_raw_fd(), 4096) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(l)
}
