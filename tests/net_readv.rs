//! Vectored reads on stream sockets (`readv`: one `RECVMSG` on io_uring,
//! `recvmsg(2)` on the readiness path): bytes land across the buffers in
//! order with their initialised lengths set in order, short reads, end of
//! stream, the halves and the `AsyncRead` trait, and a dropped in-flight
//! readv whose buffers the driver keeps until the final completion. Both
//! backends; the drop test also runs under valgrind in CI
//! (`RINGLOOP_DROP_OPS` lowers its count there).
mod net_util;
mod util;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use net_util::poll_once;
use ringloop::buf::{IoBuf, IoBufMut};
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Dropped readvs per test; smaller under valgrind.
fn drop_ops() -> usize {
    std::env::var("RINGLOOP_DROP_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
        .min(1_000)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 1) as u8).collect()
}

/// A connected TCP pair (client, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

/// Waits until `s` has at least `n` bytes queued (`SIOCINQ`), so that one
/// read can take them all: loopback TCP gives no promise about when sent
/// bytes reach the receive queue.
async fn queued(fd: i32, n: usize) {
    loop {
        let mut q: libc::c_int = 0;
        // SAFETY: FIONREAD (SIOCINQ) writes one int to `q`.
        let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut q) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        if q as usize >= n {
            return;
        }
        ringloop::yield_now().await;
    }
}

/// The initialised bytes of every buffer, concatenated.
fn joined(bufs: &[Vec<u8>]) -> Vec<u8> {
    bufs.concat()
}

/// Through the trait only: a type without a real `readv` reads into its
/// first buffer only.
async fn readv_via_trait<R: AsyncRead>(r: &R, bufs: Vec<Vec<u8>>) -> (usize, Vec<Vec<u8>>) {
    let (n, bufs) = r.readv(bufs).await;
    (n.unwrap(), bufs)
}

fn caps(caps: &[usize]) -> Vec<Vec<u8>> {
    caps.iter().map(|&c| Vec::with_capacity(c)).collect()
}

each_backend!(tcp_readv_fills_buffers_in_order, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (c, s) = tcp_pair().await;
            let msg = data(40);
            c.write_all(msg.clone()).await.0.unwrap();
            queued(s.as_raw_fd(), 40).await;
            // An empty buffer in the middle takes nothing; the last has
            // room to spare.
            let (n, bufs) = s.readv(caps(&[10, 0, 20, 64])).await;
            assert_eq!(n.unwrap(), 40);
            let lens: Vec<usize> = bufs.iter().map(Vec::len).collect();
            assert_eq!(lens, [10, 0, 20, 10]);
            assert_eq!(joined(&bufs), msg);
        }))
        .unwrap();
});

each_backend!(unix_readv_short_read_sets_init_in_order, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (a, z) = UnixStream::pair().unwrap();
            a.write_all(&b"12345"[..]).await.0.unwrap();
            // Buffers that already hold bytes keep their length (it is
            // raised, never lowered) and the bytes past the read.
            let bufs = vec![vec![0xAAu8; 3], vec![0xBBu8; 8], vec![0xCCu8; 8]];
            let (n, bufs) = z.readv(bufs).await;
            assert_eq!(n.unwrap(), 5);
            assert_eq!(bufs[0], b"123");
            assert_eq!(bufs[1], [b'4', b'5', 0xBB, 0xBB, 0xBB, 0xBB, 0xBB, 0xBB]);
            assert_eq!(bufs[2], [0xCC; 8]);
            // Fresh buffers: only what arrived is initialised.
            a.write_all(&b"abcdefg"[..]).await.0.unwrap();
            let (n, bufs) = z.readv(caps(&[4, 4, 4])).await;
            assert_eq!(n.unwrap(), 7);
            assert_eq!(bufs, [b"abcd".to_vec(), b"efg".to_vec(), vec![]]);
        }))
        .unwrap();
});

each_backend!(readv_at_end_of_stream_returns_zero, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (c, s) = tcp_pair().await;
            c.write_all(&b"last"[..]).await.0.unwrap();
            c.shutdown(std::net::Shutdown::Write).await.unwrap();
            let mut got = Vec::new();
            loop {
                let (n, bufs) = s.readv(caps(&[2, 2])).await;
                let n = n.unwrap();
                if n == 0 {
                    assert!(bufs.iter().all(Vec::is_empty), "EOF wrote nothing");
                    break;
                }
                got.extend(joined(&bufs));
            }
            assert_eq!(got, b"last");
            // No capacity at all: 0 at once, without waiting for data.
            let (a, _z) = UnixStream::pair().unwrap();
            let (n, bufs) = a.readv(caps(&[0, 0])).await;
            assert_eq!((n.unwrap(), bufs.len()), (0, 2));
        }))
        .unwrap();
});

each_backend!(readv_on_halves_and_through_the_trait, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            // The trait's readv is the socket's own (the default would
            // fill the first buffer only).
            let (a, z) = UnixStream::pair().unwrap();
            a.write_all(&b"12345"[..]).await.0.unwrap();
            let (n, bufs) = readv_via_trait(&z, caps(&[3, 8])).await;
            assert_eq!((n, joined(&bufs)), (5, b"12345".to_vec()));

            let (c, s) = tcp_pair().await;
            let fd = s.as_raw_fd();
            let (r, w) = s.into_split();
            c.write_all(&b"hello world"[..]).await.0.unwrap();
            queued(fd, 11).await;
            let (n, bufs) = readv_via_trait(&r, caps(&[5, 1, 5])).await;
            assert_eq!(n, 11);
            assert_eq!(bufs, [b"hello".to_vec(), b" ".to_vec(), b"world".to_vec()]);
            w.write_all(&b"ok"[..]).await.0.unwrap();
            let (n, bufs) = readv_via_trait(&c, caps(&[1, 1])).await;
            assert!(n >= 1, "{n}");
            assert_eq!(joined(&bufs), &b"ok"[..n]);
            // And the inherent method on the read half, with the exact
            // helper over it.
            c.write_all(data(3000)).await.0.unwrap();
            let (res, bufs) = r.read_vectored_exact(vec![vec![0u8; 1000]; 3]).await;
            res.unwrap();
            assert_eq!(joined(&bufs), data(3000));
            let (a2, z2) = UnixStream::pair().unwrap();
            let (zr, _zw) = z2.into_split();
            a2.write_all(&b"xy"[..]).await.0.unwrap();
            let (n, bufs) = zr.readv(caps(&[1, 1])).await;
            assert_eq!((n.unwrap(), joined(&bufs)), (2, b"xy".to_vec()));
        }))
        .unwrap();
});

/// A heap buffer that counts its drops.
struct Tracked {
    bytes: Box<[u8]>,
    init: usize,
    freed: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.freed.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: `bytes` is a heap allocation that never moves or changes size
// while the value lives; `init <= bytes.len()`.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.init
    }
    fn bytes_total(&self) -> usize {
        self.bytes.len()
    }
}

// SAFETY: the same pointer, writable for its whole length.
unsafe impl IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, n: usize) {
        self.init = self.init.max(n.min(self.bytes.len()));
    }
}

each_backend!(
    dropped_readv_keeps_buffers_until_the_final_completion,
    |b: Backend| {
        let rt = util::rt(b);
        let freed = Arc::new(AtomicUsize::new(0));
        let made = rt
            .block_on(timeout(LIMIT, async {
                let (c, s) = tcp_pair().await;
                let mut made = 0;
                for _ in 0..drop_ops() {
                    let bufs: Vec<Tracked> = (0..3)
                        .map(|_| Tracked {
                            bytes: vec![0u8; 512].into_boxed_slice(),
                            init: 0,
                            freed: freed.clone(),
                        })
                        .collect();
                    made += bufs.len();
                    let before = freed.load(Ordering::SeqCst);
                    let mut fut = Box::pin(c.readv(bufs));
                    assert!(!poll_once(&mut fut).await, "nothing to read yet");
                    drop(fut);
                    let at_drop = freed.load(Ordering::SeqCst) - before;
                    if ringloop::current_backend() == Some(Backend::IoUring) {
                        // In the kernel (a RECVMSG SQE): the driver holds the
                        // buffers until the cancellation's CQE.
                        assert_eq!(at_drop, 0, "buffers freed while the kernel owned them");
                    } else {
                        // Readiness path: nothing in flight, freed at once.
                        assert_eq!(at_drop, 3);
                    }
                }
                // Every buffer is freed once the completions are in, and the
                // socket still reads what comes next, with no byte lost.
                s.write_all(data(100)).await.0.unwrap();
                let (r, bufs) = c.read_vectored_exact(vec![vec![0u8; 50]; 2]).await;
                r.unwrap();
                assert_eq!(joined(&bufs), data(100));
                made
            }))
            .unwrap();
        assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
        drop(rt);
        assert_eq!(
            freed.load(Ordering::SeqCst),
            made,
            "every buffer freed once"
        );
    }
);

/// io_uring on a kernel whose probe lacks `RECVMSG` (hidden by fault
/// injection): `readv` takes the readiness path (`recvmsg(2)`), with the
/// same results. io_uring only (the fault is the io_uring driver's).
#[cfg(all(feature = "fault-injection", not(ringloop_test_backend = "epoll")))]
#[test]
fn readv_without_the_opcode_takes_the_readiness_path() {
    util::run_on(Backend::IoUring, |b| {
        let mut faults = ringloop::faults::Faults::new();
        faults.missing_opcodes = vec![io_uring::opcode::RecvMsg::CODE];
        let rt = ringloop::Builder::new()
            .backend(b)
            .faults(faults)
            .build()
            .unwrap();
        let before = rt.metrics().ops_fallback;
        rt.block_on(timeout(LIMIT, async {
            let (a, z) = UnixStream::pair().unwrap();
            a.write_all(&b"12345"[..]).await.0.unwrap();
            let (n, bufs) = z.readv(caps(&[3, 8])).await;
            assert_eq!((n.unwrap(), joined(&bufs)), (5, b"12345".to_vec()));
            // And one that waits for its bytes.
            let (n, bufs) = futures::join!(z.readv(caps(&[1, 1])), async {
                ringloop::yield_now().await;
                a.write_all(&b"xy"[..]).await.0.unwrap();
            })
            .0;
            assert_eq!((n.unwrap(), joined(&bufs)), (2, b"xy".to_vec()));
        }))
        .unwrap();
        assert!(
            rt.metrics().ops_fallback - before >= 2,
            "readv did not fall back"
        );
    });
}
