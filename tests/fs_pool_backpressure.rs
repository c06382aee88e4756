//! Issue #13 item 6: file operations on the pool path wait for queue room
//! (backpressure) instead of failing with "queue full"; spawn_blocking keeps
//! rejecting and spawn_blocking_wait waits; a dropped operation whose job
//! still waits withdraws it (it never runs). Both backends: on io_uring the
//! reads are SQEs and the pool stays idle, on epoll they are pool jobs.
mod util;

use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use ringloop::fs::File;
use ringloop::{Backend, Builder, Runtime};

const READS: usize = 2000;
const CHUNK: usize = 16;

struct TempFile(PathBuf);

impl TempFile {
    fn new(b: Backend, tag: &str) -> TempFile {
        let p = std::env::temp_dir().join(format!(
            "ringloop-backpressure-{tag}-{}-{b}",
            std::process::id()
        ));
        let data: Vec<u8> = (0..READS * CHUNK).map(|i| (i / CHUNK) as u8).collect();
        std::fs::write(&p, data).unwrap();
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tiny_pool(b: Backend, threads: usize, queue: usize) -> Runtime {
    Builder::new()
        .backend(b)
        .max_blocking_threads(threads)
        .blocking_queue_capacity(queue)
        .cached_file_ops_first(false)
        .build()
        .unwrap()
}

/// Occupies the pool's only thread until the returned gate is sent to or
/// dropped (a failing test drops it while unwinding, so the runtime's drop
/// never waits for the holder).
fn hold_the_pool() -> (mpsc::Sender<()>, ringloop::JoinHandle<()>) {
    let (gate, held) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel();
    let busy = ringloop::spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let _ = held.recv_timeout(util::LIMIT);
    });
    started.recv_timeout(util::LIMIT).unwrap();
    (gate, busy)
}

each_backend!(two_thousand_reads_behind_a_tiny_queue, |b: Backend| {
    let file = TempFile::new(b, "reads");
    let rt = tiny_pool(b, 2, 2);
    rt.block_on(async {
        let f = File::open(&file.0).await.unwrap();
        let reads = (0..READS).map(|i| f.read_exact_at(vec![0u8; CHUNK], (i * CHUNK) as u64));
        let results = futures::future::join_all(reads).await;
        for (i, (r, buf)) in results.into_iter().enumerate() {
            r.unwrap_or_else(|e| panic!("read {i} failed: {e}"));
            assert!(buf.iter().all(|&x| x == i as u8), "read {i}: {buf:?}");
        }
        f.close().await.unwrap();
    });
    let m = rt.metrics().blocking;
    assert_eq!(m.jobs_rejected, 0, "{m:?}");
    match b {
        Backend::IoUring => assert_eq!(m.threads_started, 0, "{m:?}"),
        _ => assert!(m.jobs_completed >= READS as u64, "{m:?}"),
    }
});

each_backend!(dropped_waiting_reads_never_run, |b: Backend| {
    let file = TempFile::new(b, "dropped");
    let rt = tiny_pool(b, 1, 2);
    rt.block_on(async {
        let f = File::open(&file.0).await.unwrap();
        let (gate, busy) = hold_the_pool();
        {
            // Start 100 reads (one poll each), then drop them all: on epoll
            // two sit in the queue and 98 wait for room.
            let mut reads: Vec<_> = (0..100)
                .map(|i| Box::pin(f.read_at(vec![0u8; CHUNK], (i * CHUNK) as u64)))
                .collect();
            for r in &mut reads {
                assert!(futures::poll!(r.as_mut()).is_pending() || b == Backend::IoUring);
            }
        }
        gate.send(()).unwrap();
        busy.await.unwrap();
        // The file still works, and the two queued jobs have run.
        let (r, buf) = f.read_exact_at(vec![0u8; CHUNK], 5 * CHUNK as u64).await;
        r.unwrap();
        assert_eq!(buf, [5u8; CHUNK]);
        f.close().await.unwrap();
    });
    let m = rt.metrics().blocking;
    match b {
        // The holder only: every read was an SQE.
        Backend::IoUring => assert_eq!(m.jobs_completed, 1, "{m:?}"),
        // Exactly two jobs more than the same program without the dropped
        // reads: the two that were queued; the 98 waiting ones never ran.
        _ => {
            let base = {
                let rt = tiny_pool(b, 1, 2);
                rt.block_on(async {
                    let f = File::open(&file.0).await.unwrap();
                    let (gate, busy) = hold_the_pool();
                    gate.send(()).unwrap();
                    busy.await.unwrap();
                    let (r, _) = f.read_exact_at(vec![0u8; CHUNK], 0).await;
                    r.unwrap();
                    f.close().await.unwrap();
                });
                rt.metrics().blocking.jobs_completed
            };
            assert_eq!(m.jobs_completed, base + 2, "{m:?}");
        }
    }
});

each_backend!(
    spawn_blocking_rejects_and_the_wait_form_waits,
    |b: Backend| {
        let rt = tiny_pool(b, 1, 1);
        let dropped_ran = Arc::new(AtomicBool::new(false));
        let d = dropped_ran.clone();
        rt.block_on(async move {
            let (gate, busy) = hold_the_pool();
            let queued = ringloop::spawn_blocking(|| 1);
            let refused = ringloop::spawn_blocking(|| 2);
            let mut waiting = pin!(ringloop::task::spawn_blocking_wait(|| 3));
            assert!(futures::poll!(waiting.as_mut()).is_pending());
            {
                let mut gone = pin!(ringloop::task::spawn_blocking_wait(move || {
                    d.store(true, Ordering::SeqCst)
                }));
                assert!(futures::poll!(gone.as_mut()).is_pending());
            }
            gate.send(()).unwrap();
            busy.await.unwrap();
            let third = waiting.await;
            assert_eq!(queued.await.unwrap(), 1);
            assert!(refused.await.unwrap_err().is_rejected());
            assert_eq!(third.await.unwrap(), 3);
        });
        drop(rt); // joins the pool: every job that will ever run has run
        assert!(!dropped_ran.load(Ordering::SeqCst));
    }
);
