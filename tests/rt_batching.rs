//! Batching and completion-queue overflow, on both backends.
//!
//! 1,000 Nops issued in one loop turn must cost a handful of
//! `io_uring_enter` calls, not one per op (that is the whole point of the
//! proactor); with a ring far smaller than the batch, the SQ is flushed when
//! full and the CQ overflows, and still no completion may be lost. The
//! counts are syscall counts, not timings: they do not depend on load.
mod util;

use ringloop::driver::{ops::Nop, Op};
use ringloop::{Backend, Builder};

fn batch(b: Backend, entries: u32, n: usize) -> (u64, u64) {
    let rt = Builder::new()
        .backend(b)
        .ring_entries(entries)
        .build()
        .unwrap();
    let (enters, done) = rt.block_on(async {
        // Warm up: the first turn also arms the eventfd read.
        Op::new(Nop).await.unwrap();
        let before = ringloop::metrics().unwrap();
        let hs: Vec<_> = (0..n).map(|_| ringloop::spawn(Op::new(Nop))).collect();
        for h in hs {
            h.await.unwrap().unwrap();
        }
        let after = ringloop::metrics().unwrap();
        (
            after.wait_syscalls - before.wait_syscalls,
            after.ops_completed - before.ops_completed,
        )
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    (enters, done)
}

each_backend!(thousand_nops_few_syscalls, |b: Backend| {
    let (enters, done) = batch(b, 256, 1000);
    assert_eq!(done, 1000);
    eprintln!(
        "{b}: {enters} wait syscalls for 1000 Nops ({:.4} per op)",
        enters as f64 / 1000.0
    );
    // The spawn budget (128 task polls per turn) and a 256-entry SQ bound
    // this: about 1000/128 turns, each one enter at most.
    assert!(
        enters <= 16,
        "{enters} syscalls for 1000 ops: SQEs are not batched"
    );
});

each_backend!(tiny_ring_overflows_without_loss, |b: Backend| {
    // 4 SQEs, 8 CQEs, 1000 ops per batch.
    let (_, done) = batch(b, 4, 1000);
    assert_eq!(done, 1000);
});
