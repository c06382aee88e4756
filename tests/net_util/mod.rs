//! Helpers shared by the `net_*` tests (in addition to `util`).
#![allow(dead_code)]

use std::future::{poll_fn, Future};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

/// Polls `fut` exactly once with the task's real waker; `true` if it finished.
pub async fn poll_once<F: Future + Unpin>(fut: &mut F) -> bool {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx).is_ready())).await
}

/// Deterministic bytes for block `i` of a stream `seed`.
pub fn block(seed: u64, i: u64, len: usize) -> Vec<u8> {
    let mut x = seed ^ (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An order-sensitive checksum, fed chunk by chunk.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sum {
    a: u64,
    b: u64,
    n: u64,
}

impl Sum {
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap());
            self.a = self.a.wrapping_add(w);
            self.b = self.b.wrapping_add(self.a);
        }
        for &c in chunks.remainder() {
            self.a = self.a.wrapping_add(u64::from(c));
            self.b = self.b.wrapping_add(self.a);
        }
        self.n += bytes.len() as u64;
    }
}

/// A fresh path for a socket file under the temp dir; removed when dropped.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> TempPath {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("ringloop-{tag}-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Polls `fut` up to `polls` times, letting the loop run a turn after each
/// pending poll, then drops it: an operation cancelled at an awkward moment
/// (queued, submitted, or just completed). `true` if it finished.
pub async fn poll_then_drop<F: Future>(fut: F, polls: usize) -> bool {
    let mut fut = Box::pin(fut);
    for _ in 0..polls {
        if poll_once(&mut fut).await {
            return true;
        }
        ringloop::yield_now().await;
    }
    false
}

/// Waits, bounded by `limit`, until the current loop has no operation in
/// flight; panics with the count otherwise.
pub async fn until_nothing_in_flight(limit: std::time::Duration) {
    let t0 = std::time::Instant::now();
    loop {
        let m = ringloop::Handle::current().metrics();
        if m.ops_in_flight == 0 {
            return;
        }
        assert!(
            t0.elapsed() < limit,
            "{} operations still in flight after {limit:?}",
            m.ops_in_flight
        );
        ringloop::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
