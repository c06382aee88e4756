//! Allocations per operation in steady state, counted by a counting global
//! allocator (how kimojio proves its op path): echo round trips on a TCP
//! connection and positional file reads, on both backends.
mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::Backend;

/// Counts allocations made by threads that opted in (the loop thread
/// during the measured part), so other tests' threads do not disturb it.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ON: AtomicBool = AtomicBool::new(false);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) && COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) && COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
async fn count<F: std::future::Future>(f: F) -> (u64, F::Output) {
    let _one = (); // measured parts run one at a time (util::serial)
    ALLOCS.store(0, Ordering::SeqCst);
    COUNT_HERE.set(true);
    ON.store(true, Ordering::SeqCst);
    let out = f.await;
    ON.store(false, Ordering::SeqCst);
    COUNT_HERE.set(false);
    (ALLOCS.load(Ordering::SeqCst), out)
}

const N: u64 = 10_000;

each_backend!(echo_round_trips, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    rt.block_on(async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let mut cbuf = vec![7u8; 64];
        let mut sbuf = Vec::with_capacity(64);
        // Warm up: slots, queues and the timer table reach their size.
        for _ in 0..1000 {
            let (r, b) = c.write_all(cbuf).await;
            r.unwrap();
            let (r, b2) = s.read_exact(sbuf).await;
            r.unwrap();
            cbuf = b;
            sbuf = b2;
            sbuf.clear();
        }
        let (allocs, _) = count(async {
            for _ in 0..N {
                let (r, b) = c.write_all(cbuf).await;
                r.unwrap();
                let (r, b2) = s.read_exact(sbuf).await;
                r.unwrap();
                cbuf = b;
                sbuf = b2;
                sbuf.clear();
            }
        })
        .await;
        let per_op = allocs as f64 / (2 * N) as f64;
        eprintln!(
            "{b}: {allocs} allocations for {} ops ({per_op:.3} per op)",
            2 * N
        );
        match b {
            Backend::IoUring => assert_eq!(allocs, 0, "the io_uring op path allocates"),
            _ => assert_eq!(allocs, 0, "the epoll readiness path allocates"),
        }
    });
});

each_backend!(file_reads_at, |b: Backend| {
    let _one = util::serial();
    let path = std::env::temp_dir().join(format!("ringloop-alloc-{}-{b}", std::process::id()));
    std::fs::write(&path, vec![1u8; 64 * 1024]).unwrap();
    let rt = util::rt(b);
    rt.block_on(async {
        let f = ringloop::fs::File::open(&path).await.unwrap();
        let mut buf = vec![0u8; 4096];
        for i in 0..1000u64 {
            let (r, b) = f.read_at(buf, (i % 16) * 4096).await;
            r.unwrap();
            buf = b;
        }
        let (allocs, _) = count(async {
            for i in 0..N {
                let (r, b) = f.read_at(buf, (i % 16) * 4096).await;
                r.unwrap();
                buf = b;
            }
        })
        .await;
        let per_op = allocs as f64 / N as f64;
        eprintln!("{b}: {allocs} allocations for {N} read_at ({per_op:.3} per op)");
        match b {
            Backend::IoUring => assert_eq!(allocs, 0, "the io_uring op path allocates"),
            // The pool path: the job's closure, its completion cell and
            // the pool's job box, plus a queue that grows now and then.
            _ => assert!(per_op < 3.05, "{per_op} allocations per read on epoll"),
        }
    });
    std::fs::remove_file(&path).unwrap();
});

each_backend!(spawn_join_allocates_once_per_task, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    rt.block_on(async {
        for i in 0..1000u64 {
            assert_eq!(ringloop::spawn(async move { i }).await.unwrap(), i);
        }
        let (allocs, sum) = count(async {
            let mut sum = 0;
            for i in 0..N {
                sum += ringloop::spawn(async move { i }).await.unwrap();
            }
            sum
        })
        .await;
        assert_eq!(sum, N * (N - 1) / 2);
        eprintln!("{b}: {allocs} allocations for {N} spawn + join");
        // The task cell: header, join state and future in one allocation.
        assert_eq!(allocs, N, "a spawn allocates more than its task cell");
        // Switching between tasks allocates nothing.
        let other = ringloop::spawn(async {
            for _ in 0..N {
                ringloop::yield_now().await;
            }
        });
        let (allocs, _) = count(async {
            for _ in 0..N {
                ringloop::yield_now().await;
            }
        })
        .await;
        other.await.unwrap();
        eprintln!("{b}: {allocs} allocations for {N} yields beside another task");
        assert_eq!(allocs, 0, "a task switch allocates");
    });
});
