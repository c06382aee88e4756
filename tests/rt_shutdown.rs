//! Graceful shutdown: tasks finish within the grace period, the rest are
//! cancelled, in-flight operations drained, threads joined, no fd leaked.
//! Both backends; the two run one at a time because the fd count is
//! process-wide.
mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringloop::driver::Op;
use ringloop::time::sleep;
use ringloop::{Backend, Builder};

static SERIAL: Mutex<()> = Mutex::new(());

each_backend!(graceful_shutdown_finishes_then_cancels, |b: Backend| {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let before = util::open_fds();
    let rt = Builder::new().backend(b).threads(2).build().unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let handles = rt.handles();
    // On the worker loop: 3 tasks that finish within the grace period and
    // 2 that never do (one stuck on an in-flight op).
    for i in 0..5 {
        let finished = finished.clone();
        drop(handles[1].spawn_with(move || async move {
            if i < 3 {
                sleep(Duration::from_millis(5)).await;
                finished.fetch_add(1, Ordering::SeqCst);
            } else if i == 3 {
                Op::new(ringloop::driver::ops::Timeout::new(Duration::from_secs(
                    3600,
                )))
                .await
                .unwrap();
            } else {
                sleep(Duration::from_secs(3600)).await;
            }
        }));
    }
    // On loop 0: the same.
    rt.block_on(async {
        for i in 0..5 {
            let finished = finished.clone();
            drop(ringloop::spawn(async move {
                if i < 3 {
                    sleep(Duration::from_millis(5)).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                } else {
                    sleep(Duration::from_secs(3600)).await;
                }
            }));
        }
    });
    let late = handles[1].clone();
    // The finishing tasks need 5 ms; the grace leaves a wide margin for a
    // loaded machine (it is also how long the never-finishing ones hold
    // the shutdown).
    let cancelled = rt.shutdown(Duration::from_secs(1));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        6,
        "tasks finished within the grace period"
    );
    assert_eq!(cancelled, 4, "the rest were cancelled");
    // Work sent after shutdown is refused, not lost in a queue.
    let j = late.spawn(async { 1 });
    assert!(util::rt(b).block_on(j).unwrap_err().is_cancelled());
    // Handles keep their loop's eventfd alive; drop them, then count.
    drop((late, handles));
    util::assert_no_fd_leak(before, "no fd leaked");
});
