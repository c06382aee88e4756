//! Thread-per-core: independent loops on their own threads.
mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use ringloop::{Backend, Builder};

each_backend!(two_loops_run_independent_tasks, |b: Backend| {
    let rt = Builder::new().backend(b).threads(2).build().unwrap();
    assert_eq!(rt.threads(), 2);
    let out = rt.run_on_each_thread(|i| async move {
        // !Send state per loop.
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = (0..100)
            .map(|k| {
                let log = log.clone();
                ringloop::spawn(async move {
                    ringloop::time::sleep(Duration::from_micros(50 * (k % 5))).await;
                    log.borrow_mut().push(k);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        let n = log.borrow().len();
        (
            i,
            std::thread::current().id(),
            ringloop::current_backend().unwrap(),
            n,
        )
    });
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0, 0);
    assert_eq!(out[1].0, 1);
    assert_ne!(out[0].1, out[1].1, "each loop on its own thread");
    for (_, _, backend, n) in &out {
        assert_eq!(*backend, b);
        assert_eq!(*n, 100);
    }
    let m = rt.metrics();
    assert_eq!(m.loops, 2);
    // 100 per loop, the two loop futures of run_on_each_thread.
    assert_eq!(m.tasks_spawned, 202);
    let handles = rt.handles();
    assert_eq!(handles.len(), 2);
    // A Send future sent to worker 1 runs there.
    let worker = handles[1].clone();
    let t = rt.block_on(async move {
        worker
            .spawn(async { std::thread::current().id() })
            .await
            .unwrap()
    });
    assert_eq!(t, out[1].1);
});

each_backend!(pinned_loops, |b: Backend| {
    // Loop i goes to the i-th CPU this process may use (under `taskset` or
    // a cpuset that need not include CPU 0).
    let allowed: Vec<i32> = {
        // SAFETY: a zeroed cpu_set_t is a valid empty set to fill.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer of the given size; 0 = this thread.
        let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
        assert_eq!(r, 0);
        (0..libc::CPU_SETSIZE)
            // SAFETY: `c` is below CPU_SETSIZE.
            .filter(|&c| unsafe { libc::CPU_ISSET(c as usize, &set) })
            .collect()
    };
    let rt = Builder::new()
        .backend(b)
        .threads(2)
        .pin_to_cores(true)
        .build()
        .unwrap();
    let cpus = rt.run_on_each_thread(|_| async {
        // SAFETY: sched_getcpu has no preconditions.
        unsafe { libc::sched_getcpu() }
    });
    assert_eq!(cpus, vec![allowed[0], allowed[1 % allowed.len()]]);
});
