//! Timers: deadline order, never early, timeout drops its inner future,
//! interval, and the seam's Timeout op. Both backends.
mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use ringloop::driver::{ops::Timeout, Op};
use ringloop::time::{interval, sleep, sleep_until, timeout};
use ringloop::Backend;

each_backend!(fire_in_deadline_order_never_early, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let order = Rc::new(RefCell::new(Vec::new()));
        let start = Instant::now();
        // Spawned in scrambled order; must finish in deadline order.
        let delays = [7u64, 1, 5, 3, 9, 2, 8, 4, 6, 0];
        let hs: Vec<_> = delays
            .iter()
            .map(|&ms| {
                let order = order.clone();
                let deadline = start + Duration::from_millis(ms * 3);
                ringloop::spawn(async move {
                    sleep_until(deadline).await;
                    let now = Instant::now();
                    assert!(now >= deadline, "fired {:?} early", deadline - now);
                    order.borrow_mut().push(ms);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*order.borrow(), (0..10).collect::<Vec<_>>());
        // Many short sleeps: each completes no earlier than asked.
        for i in 0..50u64 {
            let d = Duration::from_micros(100 + i * 37);
            let t = Instant::now();
            sleep(d).await;
            assert!(t.elapsed() >= d);
        }
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

struct Flag(Rc<Cell<bool>>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

each_backend!(timeout_drops_inner_future, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let dropped = Rc::new(Cell::new(false));
        let flag = Flag(dropped.clone());
        let mut t = Box::pin(timeout(Duration::from_millis(5), async move {
            let _f = flag;
            sleep(Duration::from_secs(3600)).await;
        }));
        let r = t.as_mut().await;
        assert!(r.is_err());
        assert!(dropped.get(), "dropped when the deadline passed, not later");
        assert!(t.get_ref().is_none());
        // A ready future wins.
        assert_eq!(timeout(Duration::ZERO, async { 4 }).await, Ok(4));
        // An Op under timeout is cancelled and its timer entry removed.
        let r = timeout(
            Duration::from_millis(2),
            Op::new(Timeout::new(Duration::from_secs(3600))),
        )
        .await;
        assert!(r.is_err());
    });
    // The cancelled op's final completion was reaped before shutdown.
    let [tasks, timers, _, _] = rt.debug_resources();
    assert_eq!((tasks, timers), (0, 0));
});

each_backend!(interval_ticks_in_order, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let mut iv = interval(Duration::from_millis(2));
        let mut last = iv.tick().await;
        for _ in 0..5 {
            let at = iv.tick().await;
            assert!(at >= last + Duration::from_millis(2));
            assert!(Instant::now() >= at);
            last = at;
        }
    });
});

each_backend!(timeout_op_on_the_seam, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let t = Instant::now();
        Op::new(Timeout::new(Duration::from_millis(3)))
            .await
            .unwrap();
        assert!(t.elapsed() >= Duration::from_millis(3));
        Op::new(Timeout::new(Duration::ZERO)).await.unwrap();
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});
