//! Runtime benches, io_uring vs epoll in one run (the backend is the bench
//! parameter, so criterion's report reads as a ratio):
//!
//! - `spawn_join`: spawn a task and await its output;
//! - `yield_pingpong`: two tasks taking turns through `yield_now`; the time
//!   is per switch (each iteration is two yields, one per task);
//! - `nop_roundtrip`: one no-op operation awaited (an `IORING_OP_NOP`
//!   through the ring on io_uring; on epoll the closest equivalent, an op
//!   that completes on the spot);
//! - `nop_vs_raw`: the op path against its floor, time per NOP: ringloop
//!   awaiting one `Op<Nop>` at a time (`ringloop/1`) or 1,000 at once
//!   (`ringloop/1000`), against the same ring setup driven directly with the
//!   `io-uring` crate (`raw/1`, `raw/1000`; see `support/raw_ring.rs`) —
//!   the runtime's cost per op is the difference;
//! - `timer_fire`: arm a 20 µs sleep and wait for it to fire;
//! - `health_overhead/*`: `spawn_join` and `nop_roundtrip` with loop-health
//!   timing (poll timing, lag histogram, stall detector) on and off, per
//!   backend — the cost of keeping it on.
//!
//! Each bench runs its iterations inside one `block_on`, so runtime setup is
//! not measured. Pin it for steadier figures: `taskset -c 1 cargo bench
//! --bench runtime`.

use std::future::Future;
use std::time::{Duration, Instant};

#[path = "support/raw_ring.rs"]
mod raw_ring;
#[path = "support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ringloop::driver::{ops::Nop, Op};
use ringloop::{Backend, Builder};
use support::{per_iter, runtimes};

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    for (b, rt) in runtimes() {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                per_iter(&rt, iters, |i| async move {
                    ringloop::spawn(async move { i }).await.unwrap()
                })
            })
        });
    }
    g.finish();
}

fn yield_pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield_pingpong");
    for (b, rt) in runtimes() {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                // Half as many rounds as criterion's iterations: each round
                // is two switches, so the time reads per switch.
                let iters = iters.div_ceil(2);
                rt.block_on(async move {
                    let t = Instant::now();
                    let other = ringloop::spawn(async move {
                        for _ in 0..iters {
                            ringloop::yield_now().await;
                        }
                    });
                    for _ in 0..iters {
                        ringloop::yield_now().await;
                    }
                    other.await.unwrap();
                    // Two yields (one per task) per iteration.
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
}

fn nop_roundtrip(c: &mut Criterion) {
    let mut g = c.benchmark_group("nop_roundtrip");
    for (b, rt) in runtimes() {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                per_iter(&rt, iters, |_| async { Op::new(Nop).await.unwrap() })
            })
        });
    }
    g.finish();
}

/// Awaits `n` NOPs started together: the first pass submits them all, later
/// passes go on from the first one not yet done (NOPs complete in order).
async fn nops(n: usize) {
    let mut ops: Vec<Op<Nop>> = (0..n).map(|_| Op::new(Nop)).collect();
    let mut first = true;
    let mut next = 0;
    std::future::poll_fn(|cx| {
        if first {
            first = false;
            for op in &mut ops[..] {
                let _ = std::pin::Pin::new(op).poll(cx);
            }
        }
        while next < ops.len() {
            match std::pin::Pin::new(&mut ops[next]).poll(cx) {
                std::task::Poll::Ready(r) => {
                    r.unwrap();
                    next += 1;
                }
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
        std::task::Poll::Ready(())
    })
    .await
}

fn nop_vs_raw(c: &mut Criterion) {
    let mut g = c.benchmark_group("nop_vs_raw");
    let Ok(rt) = Builder::new().backend(Backend::IoUring).build() else {
        eprintln!("skipping nop_vs_raw: io_uring cannot start");
        return;
    };
    let mut raw = raw_ring::RawRing::new(256).expect("the raw ring");
    for batch in [1u64, 1000] {
        g.bench_function(BenchmarkId::new("ringloop", batch), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(batch);
                        if n == 1 {
                            Op::new(Nop).await.unwrap();
                        } else {
                            nops(n as usize).await;
                        }
                        left -= n;
                    }
                    t.elapsed()
                })
            })
        });
        g.bench_function(BenchmarkId::new("raw", batch), |bench| {
            bench.iter_custom(|iters| {
                let t = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let n = left.min(batch);
                    raw.nops(n as u32);
                    left -= n;
                }
                t.elapsed()
            })
        });
    }
    g.finish();
}

fn timer_fire(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_fire");
    g.sample_size(20);
    for (b, rt) in runtimes() {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                per_iter(&rt, iters, |_| {
                    ringloop::time::sleep(Duration::from_micros(20))
                })
            })
        });
    }
    g.finish();
}

fn health_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("health_overhead");
    for b in [Backend::IoUring, Backend::Epoll] {
        for on in [true, false] {
            let Ok(rt) = Builder::new()
                .backend(b)
                .poll_timing(on)
                .stall_threshold(on.then_some(Duration::from_millis(10)))
                .build()
            else {
                continue;
            };
            let label = format!("{b}-{}", if on { "on" } else { "off" });
            g.bench_function(BenchmarkId::new("spawn_join", &label), |bench| {
                bench.iter_custom(|iters| {
                    per_iter(&rt, iters, |i| async move {
                        ringloop::spawn(async move { i }).await.unwrap()
                    })
                })
            });
            g.bench_function(BenchmarkId::new("nop", &label), |bench| {
                bench.iter_custom(|iters| {
                    per_iter(&rt, iters, |_| async { Op::new(Nop).await.unwrap() })
                })
            });
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    spawn_join,
    yield_pingpong,
    nop_roundtrip,
    nop_vs_raw,
    timer_fire,
    health_overhead
);
criterion_main!(benches);
