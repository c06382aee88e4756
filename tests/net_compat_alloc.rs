//! `CopyIo` allocates nothing per poll in steady state: over echo round
//! trips (client and server on one loop, through the adapter), a counting
//! allocator sees at most one allocation per operation, the box every
//! ringloop `Op` puts its value in, and no more than the owned-buffer path
//! makes for the same traffic. Both backends.
mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ringloop::io::{AsyncRead as _, AsyncWrite as _};
use ringloop::net::compat::CopyIo;
use ringloop::net::UnixStream;
use ringloop::time::timeout;
use ringloop::Backend;

/// Counts the allocations of the thread that turned counting on.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counters are const-initialised
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                ALLOCS.with(|a| a.set(a.get() + 1));
            }
        });
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations made by this thread while `f` runs.
async fn allocs_during<F: std::future::Future<Output = ()>>(f: F) -> u64 {
    let before = ALLOCS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f.await;
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get) - before
}

const WARM: usize = 200;
const ROUNDS: u64 = 2_000;
const MSG: usize = 64;

/// Allocations per echo round trip through the adapter (tokio traits).
async fn compat_round_trips() -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, b) = UnixStream::pair().unwrap();
    let server = ringloop::spawn(async move {
        let mut s = CopyIo::new(b);
        let mut buf = [0u8; MSG];
        while s.read_exact(&mut buf).await.is_ok() {
            s.write_all(&buf).await.unwrap();
            s.flush().await.unwrap();
        }
    });
    let mut c = CopyIo::new(a);
    let mut buf = [7u8; MSG];
    for _ in 0..WARM {
        c.write_all(&buf).await.unwrap();
        c.flush().await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
    }
    let n = allocs_during(async {
        for _ in 0..ROUNDS {
            c.write_all(&buf).await.unwrap();
            c.flush().await.unwrap();
            c.read_exact(&mut buf).await.unwrap();
        }
    })
    .await;
    drop(c);
    server.await.unwrap();
    n as f64 / ROUNDS as f64
}

/// The same traffic through the owned-buffer API.
async fn owned_round_trips() -> f64 {
    let (a, b) = UnixStream::pair().unwrap();
    let server = ringloop::spawn(async move {
        let mut buf = vec![0u8; MSG];
        loop {
            let (r, got) = b.read_exact(buf).await;
            if r.is_err() {
                return;
            }
            let (r, got) = b.write_all(got).await;
            r.unwrap();
            buf = got;
        }
    });
    let mut buf = vec![7u8; MSG];
    for _ in 0..WARM {
        buf = a.write_all(buf).await.1;
        buf = a.read_exact(buf).await.1;
    }
    let mut slot = Some(buf);
    let n = allocs_during(async {
        let mut buf = slot.take().unwrap();
        for _ in 0..ROUNDS {
            let (r, b) = a.write_all(buf).await;
            r.unwrap();
            let (r, b) = a.read_exact(b).await;
            r.unwrap();
            buf = b;
        }
        slot = Some(buf);
    })
    .await;
    drop(a);
    server.await.unwrap();
    n as f64 / ROUNDS as f64
}

each_backend!(no_allocation_per_poll_in_steady_state, |b: Backend| {
    let rt = util::rt(b);
    let (compat, owned) = rt.block_on(async {
        timeout(util::LIMIT, async {
            (compat_round_trips().await, owned_round_trips().await)
        })
        .await
        .expect("timed out")
    });
    eprintln!("{b}: allocations per round trip: CopyIo {compat:.2}, owned {owned:.2}");
    // Four operations per round trip (client send and receive, server
    // receive and send), one boxed Op value each.
    assert!(
        compat <= 4.05,
        "{b}: {compat:.2} allocations per round trip through CopyIo (4 ops)"
    );
    assert!(
        compat <= owned + 0.05,
        "{b}: CopyIo allocates more than the owned path ({compat:.2} vs {owned:.2})"
    );
});
