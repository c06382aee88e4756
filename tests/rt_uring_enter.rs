//! How a loop enters the kernel: on io_uring through a registered ring fd
//! (5.18) with its registration returned when the runtime goes (a thread's
//! table holds 16), and without iowait accounting where the kernel has
//! `IORING_FEAT_NO_IOWAIT` (6.15). Runtimes beyond the table's size still
//! work, through the plain fd; on epoll the same scenarios run through the
//! reactor.
mod util;

use ringloop::driver::{ops::Nop, Op};
use ringloop::Backend;

/// The running kernel's (major, minor).
fn kernel() -> (u32, u32) {
    // SAFETY: `uname` fills the zeroed struct it is given.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid utsname.
    assert_eq!(unsafe { libc::uname(&mut u) }, 0);
    // SAFETY: the kernel NUL-terminates `release`.
    let rel = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor)
}

fn flag(desc: &str, name: &str) -> Option<bool> {
    desc.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(|v| v == "true")
}

fn nop_works(rt: &ringloop::Runtime) {
    rt.block_on(async {
        for _ in 0..10 {
            Op::new(Nop).await.unwrap();
        }
    });
}

each_backend!(
    runtimes_made_one_after_another_each_register_their_ring,
    |b: Backend| {
        // More runtimes than the thread's 16 registered-ring slots: each gets a
        // slot only if its predecessor gave its slot back.
        for i in 0..40 {
            let rt = util::rt(b);
            let desc = rt.driver_description();
            if b == Backend::IoUring && kernel() >= (5, 18) {
                assert_eq!(
                    flag(&desc, "registered_ring"),
                    Some(true),
                    "runtime {i} on this thread: {desc}"
                );
            }
            nop_works(&rt);
        }
    }
);

each_backend!(
    runtimes_beyond_the_slot_table_fall_back_to_the_fd,
    |b: Backend| {
        let rts: Vec<_> = (0..24).map(|_| util::rt(b)).collect();
        let registered = rts
            .iter()
            .filter(|rt| flag(&rt.driver_description(), "registered_ring") == Some(true))
            .count();
        if b == Backend::IoUring && kernel() >= (5, 18) {
            assert_eq!(registered, 16, "a thread holds 16 registered rings");
        } else {
            assert_eq!(registered, 0);
        }
        // Both kinds of enter reach their own ring.
        for rt in &rts {
            nop_works(rt);
        }
        drop(rts);
        // And the slots are free again.
        let rt = util::rt(b);
        if b == Backend::IoUring && kernel() >= (5, 18) {
            assert_eq!(
                flag(&rt.driver_description(), "registered_ring"),
                Some(true)
            );
        }
        nop_works(&rt);
    }
);

each_backend!(
    waits_are_not_iowait_where_the_kernel_allows,
    |b: Backend| {
        let rt = util::rt(b);
        let desc = rt.driver_description();
        if b == Backend::IoUring {
            // IORING_FEAT_NO_IOWAIT came with 6.15.
            assert_eq!(
                flag(&desc, "no_iowait"),
                Some(kernel() >= (6, 15)),
                "{desc}"
            );
        } else {
            assert_eq!(flag(&desc, "no_iowait"), None, "{desc}");
        }
        // A waiting enter with the flag set works: park on a timer.
        rt.block_on(async {
            ringloop::time::sleep(std::time::Duration::from_millis(1)).await;
        });
    }
);
