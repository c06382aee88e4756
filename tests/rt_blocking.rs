//! The blocking pool: many jobs, bounded threads, a bounded queue whose
//! overflow is reported. Both backends.
mod util;

use std::sync::{Arc, Barrier};

use ringloop::{Backend, Builder};

each_backend!(thousand_jobs, |b: Backend| {
    let rt = Builder::new()
        .backend(b)
        .max_blocking_threads(8)
        .build()
        .unwrap();
    let total = rt.block_on(async {
        let hs: Vec<_> = (0..1000u64)
            .map(|i| ringloop::spawn_blocking(move || i * i))
            .collect();
        let mut total = 0;
        for (i, h) in hs.into_iter().enumerate() {
            let v = h.await.unwrap();
            assert_eq!(v, (i * i) as u64);
            total += v;
        }
        total
    });
    assert_eq!(total, (0..1000u64).map(|i| i * i).sum::<u64>());
    let m = rt.metrics().blocking;
    assert!(m.threads_started >= 1 && m.threads_started <= 8, "{m:?}");
    assert_eq!(m.jobs_completed, 1000);
    assert_eq!(m.jobs_rejected, 0);
});

each_backend!(full_queue_is_reported, |b: Backend| {
    let rt = Builder::new()
        .backend(b)
        .max_blocking_threads(1)
        .blocking_queue_capacity(2)
        .build()
        .unwrap();
    rt.block_on(async {
        // Hold the only thread until the queue has been overfilled.
        let gate = Arc::new(Barrier::new(2));
        let g = gate.clone();
        let (started_tx, started) = std::sync::mpsc::channel();
        let busy = ringloop::spawn_blocking(move || {
            started_tx.send(()).unwrap();
            g.wait();
            0
        });
        // The job left the queue and holds the only thread.
        started.recv_timeout(util::LIMIT).unwrap();
        let mut hs = Vec::new();
        for i in 1..=4 {
            hs.push(ringloop::spawn_blocking(move || i));
        }
        gate.wait();
        assert_eq!(busy.await.unwrap(), 0);
        let mut ok = 0;
        let mut rejected = 0;
        for h in hs {
            match h.await {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(e.is_rejected(), "{e}");
                    assert!(e.to_string().contains("queue full"), "{e}");
                    rejected += 1;
                }
            }
        }
        // Two fit in the queue; the rest are refused, not queued.
        assert_eq!((ok, rejected), (2, 2));
    });
    assert!(rt.metrics().blocking.jobs_rejected >= 1);
});

each_backend!(panicking_job_is_an_error, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let e = ringloop::spawn_blocking(|| panic!("job failed"))
            .await
            .unwrap_err();
        assert!(e.is_panic());
        assert_eq!(ringloop::spawn_blocking(|| 2).await.unwrap(), 2);
    });
});
