//! Shared by the benches: one runtime per backend, so every bench group
//! measures io_uring and epoll in the same run.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use ringloop::{Backend, Builder, Runtime};

/// A single-loop runtime per backend this machine can start (a backend that
/// cannot start is skipped with a message).
pub fn runtimes() -> Vec<(Backend, Runtime)> {
    [Backend::IoUring, Backend::Epoll]
        .into_iter()
        .filter_map(|b| match Builder::new().backend(b).build() {
            Ok(rt) => Some((b, rt)),
            Err(e) => {
                eprintln!("skipping {b}: {e}");
                None
            }
        })
        .collect()
}

/// Runs `f(i)` for `i in 0..iters` inside one `block_on` and returns the
/// time the loop took, for criterion's `iter_custom`.
pub fn per_iter<F, Fut>(rt: &Runtime, iters: u64, f: F) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: Future,
{
    rt.block_on(async {
        let t = Instant::now();
        for i in 0..iters {
            std::hint::black_box(f(i).await);
        }
        t.elapsed()
    })
}
