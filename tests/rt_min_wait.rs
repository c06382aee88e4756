//! Min-wait batching (`Builder::min_wait`, io_uring `IORING_FEAT_MIN_TIMEOUT`,
//! 6.12): with it on, the same workload gives the same results as with it
//! off (an echo over several connections, timers in deadline order and
//! never early), its timers are not held back by the min-wait, and the
//! runtime says whether it is in effect (on epoll, or on a kernel without
//! the feature, it is accepted and reported as not in effect).
mod util;

use std::time::{Duration, Instant};

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::{sleep_until, timeout};
use ringloop::{Backend, Builder, Runtime};
use util::LIMIT;

/// A min-wait far longer than anything the tests wait for: a timer or a
/// round trip held back by it would take this long.
const LONG: Duration = Duration::from_secs(20);

fn rt(b: Backend, min_wait: Option<(u32, Duration)>) -> Runtime {
    let mut bld = Builder::new();
    bld.backend(b);
    if let Some((n, d)) = min_wait {
        bld.min_wait(n, d);
    }
    bld.build().unwrap()
}

/// Whether this io_uring kernel has the feature (the description's flag).
fn kernel_has_min_timeout(rt: &Runtime) -> bool {
    rt.driver_description().contains("min_timeout=true")
}

/// `conns` connections, each `rounds` round trips of distinct bytes through
/// an echo task; returns every byte the clients got back, in order.
fn echo_workload(rt: &Runtime, conns: usize, rounds: usize) -> Vec<Vec<u8>> {
    rt.block_on(async move {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let server = ringloop::spawn(async move {
            for _ in 0..conns {
                let (s, _) = l.accept().await.unwrap();
                drop(ringloop::spawn(async move {
                    let mut buf = Vec::with_capacity(256);
                    loop {
                        buf.clear();
                        let (r, b) = s.read(buf).await;
                        if matches!(r, Ok(0) | Err(_)) {
                            return;
                        }
                        let (r, b) = s.write_all(b).await;
                        if r.is_err() {
                            return;
                        }
                        buf = b;
                    }
                }));
            }
        });
        let clients: Vec<_> = (0..conns)
            .map(|c| {
                ringloop::spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    let mut got = Vec::new();
                    for r in 0..rounds {
                        let msg = vec![(c * 31 + r) as u8; 1 + (c + r) % 64];
                        let want = msg.len();
                        let (res, _) = s.write_all(msg).await;
                        res.unwrap();
                        let mut n = 0;
                        while n < want {
                            let (res, b) = s.read(Vec::with_capacity(want - n)).await;
                            let k = res.unwrap();
                            assert!(k > 0, "early end of stream");
                            n += k;
                            got.extend_from_slice(&b);
                        }
                    }
                    got
                })
            })
            .collect();
        let mut out = Vec::new();
        for c in clients {
            out.push(timeout(LIMIT, c).await.expect("echo finished").unwrap());
        }
        timeout(LIMIT, server).await.unwrap().unwrap();
        out
    })
}

each_backend!(echo_with_min_wait_equals_without, |b: Backend| {
    let off = echo_workload(&rt(b, None), 8, 50);
    let on = rt(b, Some((16, Duration::from_micros(200))));
    let got = echo_workload(&on, 8, 50);
    assert_eq!(got, off, "the same bytes back with min-wait on");
});

each_backend!(
    timers_with_min_wait_fire_in_order_never_early,
    |b: Backend| {
        let rt = rt(b, Some((64, LONG)));
        let start = Instant::now();
        let fired = rt.block_on(async move {
            let mut hs = Vec::new();
            for ms in [9u64, 3, 15, 1, 6] {
                let deadline = start + Duration::from_millis(ms * 2);
                hs.push(ringloop::spawn(async move {
                    sleep_until(deadline).await;
                    let now = Instant::now();
                    assert!(now >= deadline, "fired {:?} early", deadline - now);
                    (ms, now)
                }));
            }
            let mut out = Vec::new();
            for h in hs {
                out.push(h.await.unwrap());
            }
            out
        });
        let mut by_time = fired.clone();
        by_time.sort_by_key(|&(_, t)| t);
        let order: Vec<u64> = by_time.iter().map(|&(ms, _)| ms).collect();
        assert_eq!(order, vec![1, 3, 6, 9, 15], "deadline order");
        // The timers bound the wait: none is held back until the min-wait
        // (64 completions or 20 s) is over.
        let last = by_time.last().unwrap().1;
        assert!(
            last - start < LONG,
            "the last timer (30 ms) fired after {:?}: held back by the min-wait",
            last - start
        );
    }
);

each_backend!(min_wait_is_reported, |b: Backend| {
    let off = rt(b, None);
    assert!(off.driver_description().ends_with("min_wait=off"));
    assert!(!off.min_wait_in_effect());
    let on = rt(b, Some((16, Duration::from_micros(200))));
    let d = on.driver_description();
    eprintln!("{d}");
    assert!(d.contains("min_wait=16x200us"), "{d}");
    match b {
        Backend::Epoll => {
            assert!(!on.min_wait_in_effect());
            assert!(d.ends_with("(not in effect: epoll)"), "{d}");
        }
        _ => {
            let has = kernel_has_min_timeout(&on);
            assert_eq!(on.min_wait_in_effect(), has, "{d}");
            assert_eq!(d.contains("not in effect"), !has, "{d}");
        }
    }
    // Zero completions or a zero wait: off.
    assert!(rt(b, Some((0, Duration::from_micros(5))))
        .driver_description()
        .ends_with("min_wait=off"));
    assert!(rt(b, Some((4, Duration::ZERO)))
        .driver_description()
        .ends_with("min_wait=off"));
});

/// A kernel without `IORING_FEAT_MIN_TIMEOUT` (forced): accepted, reported
/// as not in effect, and the workload is the same.
#[cfg(feature = "fault-injection")]
mod forced_off {
    use super::*;

    each_backend!(without_the_feature, |b: Backend| {
        let mut f = ringloop::faults::Faults::new();
        f.no_min_timeout = true;
        let rt = Builder::new()
            .backend(b)
            .faults(f)
            .min_wait(16, Duration::from_micros(200))
            .build()
            .unwrap();
        assert!(!rt.min_wait_in_effect());
        let d = rt.driver_description();
        assert!(d.contains("min_wait=16x200us (not in effect"), "{d}");
        let off = echo_workload(&super::rt(b, None), 4, 20);
        assert_eq!(echo_workload(&rt, 4, 20), off);
    });
}
