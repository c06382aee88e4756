//! Loop health: stall detector, longest poll, loop lag, fairness under
//! always-ready tasks, per-opcode counts, graceful shutdown. Both backends.
mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringloop::driver::{ops::Nop, Op};
use ringloop::metrics::StallReport;
use ringloop::time::{sleep, timeout};
use ringloop::{Backend, Builder};

each_backend!(stall_is_reported_with_spawn_location, |b: Backend| {
    let seen: Arc<Mutex<Vec<StallReport>>> = Arc::default();
    let s = seen.clone();
    let rt = Builder::new()
        .backend(b)
        .stall_threshold(Some(Duration::from_millis(20)))
        .on_stall(move |r| s.lock().unwrap().push(r.clone()))
        .build()
        .unwrap();
    let line = rt.block_on(async {
        // The blocking call is what is under test, not a synchronisation.
        let line = line!() + 1; // the spawn on the next line
        let h = ringloop::spawn(async { std::thread::sleep(Duration::from_millis(50)) });
        h.await.unwrap();
        line
    });
    let reports = seen.lock().unwrap().clone();
    let r = reports
        .iter()
        .find(|r| r.spawned_at.line() == line)
        .unwrap_or_else(|| panic!("no stall report for line {line}: {reports:?}"));
    assert!(r.spawned_at.file().ends_with("rt_health.rs"), "{r}");
    assert!(r.duration >= Duration::from_millis(50));
    assert_eq!(r.loop_index, 0);
    let m = rt.metrics();
    assert!(m.stalls >= 1);
    let longest = m.longest_poll.expect("polls were timed");
    assert_eq!(longest.spawned_at.line(), line);
    assert!(longest.duration >= Duration::from_millis(50));
    // What a server prints at exit.
    println!("{m}");
});

/// Runs `spinner` (which must stop when the flag is set) beside a task
/// that sleeps 5 ms and sets the flag; the timer must fire while the
/// spinner is still spinning, or the spinner would run to the time limit.
fn timer_fires_beside<F, Fut>(b: Backend, spinner: F)
where
    F: FnOnce(Rc<Cell<bool>>) -> Fut,
    Fut: std::future::Future<Output = u64> + 'static,
{
    let rt = util::rt(b);
    rt.block_on(async {
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(5);
        let timer = ringloop::spawn(async move {
            ringloop::time::sleep_until(deadline).await;
            let late = Instant::now() - deadline;
            f.set(true);
            late
        });
        let spins = timeout(util::LIMIT, ringloop::spawn(spinner(fired.clone())))
            .await
            .expect("the spinner was stopped by the timer, not the limit")
            .unwrap();
        let late = timer.await.unwrap();
        assert!(fired.get());
        eprintln!("{b}: timer fired {late:?} late beside a spinner that ran {spins} iterations");
    });
}

each_backend!(timer_fires_beside_yield_spinner, |b: Backend| {
    timer_fires_beside(b, |stop| async move {
        let mut n = 0u64;
        while !stop.get() {
            ringloop::yield_now().await;
            n += 1;
        }
        n
    });
});

each_backend!(timer_fires_beside_always_ready_ops, |b: Backend| {
    // On epoll a Nop completes on the spot: without the cooperative budget
    // this task would never return Pending and the timer would never fire.
    timer_fires_beside(b, |stop| async move {
        let mut n = 0u64;
        while !stop.get() {
            Op::new(Nop).await.unwrap();
            n += 1;
        }
        n
    });
});

each_backend!(lag_histogram_and_opcode_counts, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        for _ in 0..20 {
            sleep(Duration::from_micros(200)).await;
            Op::new(Nop).await.unwrap();
        }
    });
    let m = rt.metrics();
    assert!(m.loop_lag.count() >= 20, "{:?}", m.loop_lag);
    assert!(m.loop_lag.p50() <= m.loop_lag.p99());
    assert!(m.loop_lag.p99() <= m.loop_lag.max());
    let nop = m
        .ops_by_opcode
        .iter()
        .find(|o| o.name == "NOP")
        .expect("NOP family counted");
    assert_eq!((nop.started, nop.completed), (20, 20));
    assert_eq!(m.timers_fired, 20);
});

/// Blocks the loop thread in a function the stall backtrace must name.
#[inline(never)]
fn stuck_in_named_function(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        // The blocking call is what is under test, not a synchronisation.
        std::thread::sleep(Duration::from_millis(1));
    }
    std::hint::black_box(());
}

each_backend!(stall_report_carries_the_stalled_stack, |b: Backend| {
    let seen: Arc<Mutex<Vec<StallReport>>> = Arc::default();
    let s = seen.clone();
    let rt = Builder::new()
        .backend(b)
        .stall_threshold(Some(Duration::from_millis(10)))
        .stall_backtrace(true)
        .on_stall(move |r| s.lock().unwrap().push(r.clone()))
        .build()
        .unwrap();
    rt.block_on(async {
        let h = ringloop::spawn(async { stuck_in_named_function(Duration::from_millis(300)) });
        h.await.unwrap();
    });
    let reports = seen.lock().unwrap().clone();
    let r = reports
        .iter()
        .find(|r| r.duration >= Duration::from_millis(300))
        .unwrap_or_else(|| panic!("no stall report: {reports:?}"));
    let bt = r.backtrace.as_ref().expect("a backtrace with the report");
    assert!(bt.contains("stuck_in_named_function"), "{r}");
    // Innermost first: the sleep is above the function that called it.
    let pos = |name: &str| {
        bt.frames
            .iter()
            .position(|f| f.symbol.as_deref().is_some_and(|s| s.contains(name)))
    };
    assert!(pos("sleep") < pos("stuck_in_named_function"), "{r}");
    // The handler's own frames are left out.
    assert!(!bt.contains("watchdog::capture"), "{r}");
    assert!(rt.metrics().stall_backtraces >= 1);
    println!("{r}");
});

each_backend!(stall_backtrace_is_off_by_default, |b: Backend| {
    let seen: Arc<Mutex<Vec<StallReport>>> = Arc::default();
    let s = seen.clone();
    let rt = Builder::new()
        .backend(b)
        .stall_threshold(Some(Duration::from_millis(10)))
        .on_stall(move |r| s.lock().unwrap().push(r.clone()))
        .build()
        .unwrap();
    rt.block_on(async { stuck_in_named_function(Duration::from_millis(30)) });
    let reports = seen.lock().unwrap().clone();
    assert!(!reports.is_empty());
    assert!(reports.iter().all(|r| r.backtrace.is_none()));
});
