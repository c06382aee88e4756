//! The smallest end-to-end check, on both backends: a Nop and a Timeout
//! op through the seam, a spawned task, a timer. Written with
//! `#[ringloop::test]` (the facade's `macros` feature).
use ringloop::driver::{ops::Nop, ops::Timeout, Op};
use ringloop::Backend;
use std::time::{Duration, Instant};

#[ringloop::test]
async fn nop_and_timeout() {
    let b = ringloop::current_backend().unwrap();
    assert!(matches!(b, Backend::IoUring | Backend::Epoll), "{b}");
    Op::new(Nop).await.unwrap();
    let t = Instant::now();
    Op::new(Timeout::new(Duration::from_millis(5)))
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(5));
    let h = ringloop::spawn(async { 5 });
    assert_eq!(h.await.unwrap(), 5);
    ringloop::time::sleep(Duration::from_millis(3)).await;
    // Nothing of the above is left with the kernel or the pool.
    assert_eq!(ringloop::Handle::current().metrics().ops_in_flight, 0);
}
