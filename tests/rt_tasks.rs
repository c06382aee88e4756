//! Tasks: spawn, join, abort, yield, wakes from other threads, the Send
//! handle. Every test runs on both backends.
mod util;

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};

use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

each_backend!(hundred_thousand_tasks, |b: Backend| {
    let rt = util::rt(b);
    let sum = rt.block_on(async {
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| ringloop::spawn(async move { i * 2 }))
            .collect();
        let mut sum = 0u64;
        for (i, h) in handles.into_iter().enumerate() {
            let v = h.await.unwrap();
            assert_eq!(v, i as u64 * 2);
            sum += v;
        }
        sum
    });
    assert_eq!(sum, 99_999 * 100_000);
    let m = rt.metrics();
    assert_eq!(m.tasks_spawned, 100_000);
    assert_eq!(m.tasks_completed, 100_000);
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(tasks_may_be_not_send, |b: Backend| {
    let rt = util::rt(b);
    let shared = Rc::new(Cell::new(0));
    let s2 = shared.clone();
    rt.block_on(async move {
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let s = s2.clone();
                ringloop::spawn(async move {
                    ringloop::yield_now().await;
                    s.set(s.get() + 1);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(shared.get(), 10);
});

/// A future that records when it is dropped.
struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

each_backend!(abort_drops_the_task, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let dropped = Rc::new(Cell::new(false));
        let flag = DropFlag(dropped.clone());
        let h = ringloop::spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        ringloop::yield_now().await;
        assert!(!dropped.get());
        h.abort();
        let err = timeout(LIMIT, h)
            .await
            .expect("abort completes")
            .unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(dropped.get(), "the aborted future was dropped");
        // Aborting a finished task keeps its output.
        let h = ringloop::spawn(async { 3 });
        ringloop::yield_now().await;
        ringloop::yield_now().await;
        h.abort();
        assert_eq!(h.await.unwrap(), 3);
    });
});

each_backend!(panic_becomes_join_error, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let h = ringloop::spawn(async { panic!("boom") });
        let e = h.await.unwrap_err();
        assert!(e.is_panic());
        assert!(e.to_string().contains("boom"));
        // The loop survives.
        assert_eq!(ringloop::spawn(async { 1 }).await.unwrap(), 1);
    });
});

each_backend!(detached_task_runs_to_end, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        drop(ringloop::spawn(async move {
            ringloop::yield_now().await;
            d.set(true);
        }));
        timeout(
            LIMIT,
            poll_fn(|cx| {
                if done.get() {
                    Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }),
        )
        .await
        .unwrap();
    });
});

each_backend!(wake_from_std_thread, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let flag = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::channel::<()>();
        let (f2, s2) = (flag.clone(), slot.clone());
        let t = std::thread::spawn(move || {
            // Wait until the task parked its waker, then wake it.
            rx.recv().unwrap();
            f2.store(true, Ordering::SeqCst);
            s2.lock().unwrap().take().unwrap().wake();
        });
        let mut sent = Some(tx);
        let r = timeout(
            LIMIT,
            poll_fn(|cx| {
                if flag.load(Ordering::SeqCst) {
                    return Poll::Ready(());
                }
                *slot.lock().unwrap() = Some(cx.waker().clone());
                if let Some(tx) = sent.take() {
                    tx.send(()).unwrap();
                }
                Poll::Pending
            }),
        )
        .await;
        r.expect("the remote wake reached the parked loop");
        t.join().unwrap();
    });
    assert!(rt.metrics().remote_wakes >= 1);
});

each_backend!(send_handle_spawns_from_other_thread, |b: Backend| {
    let rt = util::rt(b);
    let handle = ringloop::Handle::try_current();
    assert!(handle.is_none(), "no loop outside block_on");
    rt.block_on(async {
        let h = ringloop::Handle::current();
        assert_eq!(h.backend(), b);
        let t = std::thread::spawn(move || {
            let on = std::thread::current().id();
            let j = h.spawn(async move {
                ringloop::yield_now().await;
                (std::thread::current().id(), on)
            });
            // A !Send future built on the loop's thread.
            let k = h.spawn_with(|| {
                let rc = Rc::new(5);
                async move { *rc + 1 }
            });
            (j, k)
        });
        let (j, k) = t.join().unwrap();
        let (ran_on, sent_from) = timeout(LIMIT, j).await.unwrap().unwrap();
        assert_eq!(ran_on, std::thread::current().id());
        assert_ne!(ran_on, sent_from);
        assert_eq!(timeout(LIMIT, k).await.unwrap().unwrap(), 6);
    });
});

each_backend!(spawn_to_dropped_runtime_is_cancelled, |b: Backend| {
    let rt = util::rt(b);
    let h = rt.handles().remove(0);
    drop(rt);
    let j = h.spawn(async { 1 });
    let out = util::rt(b).block_on(j);
    assert!(out.unwrap_err().is_cancelled());
});

each_backend!(current_backend_and_metrics, |b: Backend| {
    assert_eq!(ringloop::current_backend(), None);
    let rt = util::rt(b);
    rt.block_on(async {
        assert_eq!(ringloop::current_backend(), Some(b));
        ringloop::yield_now().await;
        let m = ringloop::Handle::current().metrics();
        assert_eq!(m.backend, Some(b));
        assert!(m.loop_iterations >= 1);
        assert_eq!(m.tasks_spawned, 0, "only the main future ran");
        assert!(
            m.tasks_polled >= 2,
            "the block_on future counts as a task poll"
        );
    });
});
