//! Batching, on both backends: many operations that become ready in one
//! loop turn must cost a handful of wait syscalls, not one per op — that is
//! the whole point of the proactor, and a reactor must not wake once per fd
//! either. And when more are ready than one wait can return (a ring far
//! smaller than the batch on io_uring, so the SQ flushes early and the CQ
//! overflows; more ready fds than one `epoll_wait` returns on epoll), no
//! completion may be lost. The counts are syscall counts, not timings: they
//! do not depend on load.
mod util;

use std::os::fd::{AsRawFd, OwnedFd};

use ringloop::driver::{ops::Nop, Op};
use ringloop::{Backend, Builder, MetricsSnapshot};
use util::ops::{pipe, PipeRead};

/// `n` pipe reads waiting at once; then one byte written into every pipe
/// from the loop thread, in one turn. Returns the loop's counters over the
/// part after the writes, and the number of reads that completed.
fn ready_at_once(b: Backend, entries: u32, n: usize) -> (MetricsSnapshot, usize) {
    util::raise_nofile();
    let rt = Builder::new()
        .backend(b)
        .ring_entries(entries)
        .build()
        .unwrap();
    let (delta, done) = rt.block_on(async {
        let pipes: Vec<_> = (0..n).map(|_| pipe()).collect();
        let reads: Vec<_> = pipes
            .iter()
            .map(|(rd, _)| {
                let fd = rd.clone();
                ringloop::spawn(async move {
                    let (r, buf) = Op::new(PipeRead {
                        fd,
                        buf: Vec::with_capacity(8),
                    })
                    .await;
                    r.unwrap() == 1 && buf == [b'x']
                })
            })
            .collect();
        // Every read is started (FIFO run queue), then a driver turn hands
        // them to the kernel (io_uring) or to epoll after their EAGAIN.
        ringloop::yield_now().await;
        Op::new(Nop).await.unwrap();
        let before = ringloop::Handle::current().metrics();
        let wr: Vec<&OwnedFd> = pipes.iter().map(|(_, w)| w).collect();
        for w in &wr {
            // SAFETY: a 1-byte write from a static to a pipe we own.
            let n = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
            assert_eq!(n, 1);
        }
        let mut done = 0;
        for r in reads {
            done += usize::from(r.await.unwrap());
        }
        let after = ringloop::Handle::current().metrics();
        (delta(&after, &before), done)
    });
    assert_eq!(rt.debug_resources()[..3], [0, 0, 0]);
    (delta, done)
}

fn delta(a: &MetricsSnapshot, b: &MetricsSnapshot) -> MetricsSnapshot {
    let mut d = MetricsSnapshot::default();
    d.wait_syscalls = a.wait_syscalls - b.wait_syscalls;
    d.io_syscalls = a.io_syscalls - b.io_syscalls;
    d.ops_completed = a.ops_completed - b.ops_completed;
    d
}

each_backend!(thousand_ready_reads_few_waits, |b: Backend| {
    let (d, done) = ready_at_once(b, 256, 1000);
    assert_eq!(done, 1000, "every read got its byte");
    eprintln!(
        "{b}: {} wait + {} other syscalls for 1000 reads",
        d.wait_syscalls, d.io_syscalls
    );
    // The budget (128 task polls per turn) bounds the turns: ~1000/128.
    assert!(
        d.wait_syscalls <= 16,
        "{} waits for 1000 ready ops: not batched",
        d.wait_syscalls
    );
    match b {
        // The completion path makes no syscall of its own.
        Backend::IoUring => assert_eq!(d.io_syscalls, 0),
        // One successful read(2) per op; no retry storm, no re-registering.
        _ => assert!(
            d.io_syscalls <= 1000 + 16,
            "{} read attempts for 1000 ready pipes",
            d.io_syscalls
        ),
    }
});

each_backend!(
    more_ready_than_one_wait_returns_loses_nothing,
    |b: Backend| {
        // io_uring: 4 SQEs and 8 CQEs for 3,000 completions (SQ flushed when
        // full, CQ overflow parked in the kernel and flushed). epoll: 3,000 fds
        // ready at once, more than one epoll_wait returns (1,024).
        let (_, done) = ready_at_once(b, 4, 3000);
        assert_eq!(done, 3000);
    }
);
