//! Ring-to-ring wakes (`IORING_OP_MSG_RING`, 5.18): spawns and wakes from
//! one loop onto another, from many loops and plain threads at once, all
//! arrive (nothing lost, nothing hangs: every wait is bounded); between
//! io_uring loops they travel ring to ring (loop 0's counters say so), and
//! with `Builder::ring_wakes(false)`, on epoll, or with MSG_RING probed
//! missing, the same workload runs through the eventfds. A lost wake
//! fails the test after `util::LIMIT` (the workload runs on a thread of
//! its own) rather than hanging it.
mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ringloop::time::timeout;
use ringloop::{Backend, Builder, Runtime};
use util::LIMIT;

const LOOPS: usize = 3;
/// Round trips each loop makes to the next one, one at a time.
const CHAIN: usize = 300;
/// Spawns each loop makes onto the next at once, then awaits.
const BURST: usize = 200;
/// Plain threads, and spawns each makes.
const THREADS: usize = 4;
const PER_THREAD: usize = 250;

/// Runs the cross-loop workload; returns what it summed, which is the same
/// for every runtime that loses nothing.
fn workload(rt: &Runtime) -> (usize, usize, usize) {
    let handles = rt.handles();
    assert_eq!(handles.len(), LOOPS);
    let ran = Arc::new(AtomicUsize::new(0));
    // Plain threads spawn onto every loop (the eventfd path: they run no
    // loop), racing the loops' own cross-loop traffic.
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let handles = handles.clone();
            let ran = ran.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|k| {
                        let ran = ran.clone();
                        handles[(t + k) % LOOPS].spawn(async move {
                            ran.fetch_add(1, Ordering::Relaxed);
                            k
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let hs = handles.clone();
    let per_loop = rt.run_on_each_thread(move |i| {
        let next = hs[(i + 1) % LOOPS].clone();
        async move {
            // One at a time: every step is a spawn onto the next loop and a
            // wake back (the JoinHandle), each across threads.
            let mut chain = 0;
            for k in 0..CHAIN {
                chain += timeout(LIMIT, next.spawn(async move { k }))
                    .await
                    .expect("a cross-loop round trip hung")
                    .unwrap();
            }
            // Many at once: wakes coalesce while the target is busy.
            let burst: Vec<_> = (0..BURST).map(|k| next.spawn(async move { k })).collect();
            let mut sum = 0;
            for h in burst {
                sum += timeout(LIMIT, h)
                    .await
                    .expect("a burst spawn hung")
                    .unwrap();
            }
            (chain, sum)
        }
    });
    let from_threads: usize = rt.block_on(async move {
        let mut total = 0;
        for t in threads {
            for h in t.join().unwrap() {
                total += timeout(LIMIT, h)
                    .await
                    .expect("a thread's spawn hung")
                    .unwrap();
            }
        }
        total
    });
    assert_eq!(ran.load(Ordering::Relaxed), THREADS * PER_THREAD);
    let chain = per_loop.iter().map(|p| p.0).sum();
    let burst = per_loop.iter().map(|p| p.1).sum();
    (chain, burst, from_threads)
}

fn expected() -> (usize, usize, usize) {
    let tri = |n: usize| n * (n - 1) / 2;
    (
        LOOPS * tri(CHAIN),
        LOOPS * tri(BURST),
        THREADS * tri(PER_THREAD),
    )
}

/// Builds a runtime with `make` and runs the workload on a thread of its
/// own; a lost wake hangs that thread, and fails the test here after
/// [`LIMIT`] instead of hanging the test. Returns the sums and loop 0's
/// ring-wake counters and description.
fn bounded(
    make: impl FnOnce() -> Runtime + Send + 'static,
) -> ((usize, usize, usize), (u64, u64), String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = make();
        let sums = workload(&rt);
        let _ = tx.send((sums, rt.debug_ring_wakes(), rt.driver_description()));
    });
    rx.recv_timeout(LIMIT)
        .expect("the cross-loop workload did not finish: a wake was lost")
}

fn runtime(b: Backend, ring_wakes: bool) -> Runtime {
    Builder::new()
        .backend(b)
        .threads(LOOPS)
        .ring_wakes(ring_wakes)
        .build()
        .unwrap()
}

each_backend!(
    cross_loop_spawns_from_many_threads_all_arrive,
    |b: Backend| {
        let (sums, (sent, received), desc) = bounded(move || runtime(b, true));
        assert_eq!(sums, expected());
        let msg_ring = desc.contains("msg_ring=true");
        if msg_ring {
            // Loop 0 spawned onto loop 1 and was woken by loop 2's spawns and
            // by loop 1 finishing its tasks: both ways ring to ring.
            assert!(sent > 0, "loop 0 sent no ring wake");
            assert!(received > 0, "loop 0 received no ring wake");
        } else {
            assert_eq!((sent, received), (0, 0), "no MSG_RING here");
        }
        if b == Backend::Epoll {
            assert!(!msg_ring);
        }
    }
);

each_backend!(forced_eventfd_path_gives_the_same, |b: Backend| {
    let (sums, wakes, desc) = bounded(move || runtime(b, false));
    assert_eq!(sums, expected());
    assert_eq!(wakes, (0, 0), "ring wakes turned off");
    assert!(!desc.contains("msg_ring=true"));
});

/// MSG_RING probed missing (a kernel before 5.18): the eventfd path.
#[cfg(feature = "fault-injection")]
mod probe_off {
    use super::*;

    each_backend!(without_msg_ring, |b: Backend| {
        let (sums, wakes, _) = bounded(move || {
            let mut f = ringloop::faults::Faults::new();
            f.missing_opcodes = vec![io_uring::opcode::MsgRingData::CODE];
            Builder::new()
                .backend(b)
                .threads(LOOPS)
                .faults(f)
                .build()
                .unwrap()
        });
        assert_eq!(sums, expected());
        assert_eq!(wakes, (0, 0));
    });
}
