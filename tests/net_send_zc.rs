//! Zero-copy sends (`TcpStream::send_zc`: `IORING_OP_SEND_ZC` on io_uring,
//! whose buffer comes back after the kernel's notification CQE; a plain
//! `send(2)` on epoll): the bytes arrive identical, small and large, on the
//! stream and its write half; on io_uring the opcode is really used (no
//! fallback); and a dropped in-flight send keeps its buffer until the final
//! CQE. Both backends; the drop test also runs under valgrind in CI.
mod net_util;
mod util;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use net_util::{block, poll_once};
use ringloop::buf::IoBuf;
use ringloop::io::AsyncRead;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Dropped sends per test; smaller under valgrind.
fn drop_ops() -> usize {
    std::env::var("RINGLOOP_DROP_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .min(200)
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

/// Whether the running kernel is at least 6.0 (`SEND_ZC`).
fn kernel_has_send_zc() -> bool {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = r
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (major, minor) >= (6, 0)
}

fn send_zc_started(rt: &ringloop::Runtime) -> u64 {
    rt.metrics()
        .ops_by_opcode
        .iter()
        .find(|o| o.name == "SEND_ZC")
        .map_or(0, |o| o.started)
}

each_backend!(send_zc_bytes_arrive_identical, |b: Backend| {
    let rt = util::rt(b);
    let fallback_before = rt.metrics().ops_fallback;
    let started_before = send_zc_started(&rt);
    let sends = rt
        .block_on(timeout(LIMIT, async {
            let (c, s) = tcp_pair().await;
            let mut sends = 0;
            // Small, page-sized, odd, and larger than the socket buffers
            // (many partial sends), each read back whole by a reader task.
            for (i, len) in [1usize, 4096, 4097, 65_536, 1 << 20, 8 << 20]
                .into_iter()
                .enumerate()
            {
                let data = block(7, i as u64, len);
                let reader = async {
                    let (r, got) = s.read_exact(vec![0u8; len]).await;
                    r.unwrap();
                    got
                };
                let writer = async {
                    let mut done = 0;
                    let mut buf = data.clone();
                    while done < len {
                        let (n, slice) = c.send_zc(buf.slice(done..)).await;
                        buf = slice.into_inner();
                        let n = n.unwrap();
                        assert!(n > 0);
                        done += n;
                        sends += 1;
                    }
                    assert_eq!(buf, data, "the buffer comes back unchanged");
                };
                let (got, ()) = futures::join!(reader, writer);
                assert!(got == data, "{len} bytes differ");
            }
            sends
        }))
        .unwrap();
    let fallbacks = rt.metrics().ops_fallback - fallback_before;
    let started = send_zc_started(&rt) - started_before;
    assert!(
        started >= sends,
        "{started} SEND_ZC ops counted, {sends} sends"
    );
    if b == Backend::IoUring && kernel_has_send_zc() {
        // Every send_zc went to the kernel as SEND_ZC (a fallback would be
        // a plain send on the readiness path).
        assert_eq!(fallbacks, 0, "send_zc fell back on a kernel with SEND_ZC");
    }
    if b == Backend::Epoll {
        assert!(fallbacks >= sends, "epoll sends are readiness sends");
    }
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(send_zc_all_on_the_write_half, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (c, s) = tcp_pair().await;
            let (r, w) = c.into_split();
            let data = block(9, 0, 3 << 20);
            let reader = async {
                let (res, got) = s.read_exact(vec![0u8; 3 << 20]).await;
                res.unwrap();
                got
            };
            let writer = async {
                let (res, buf) = w.send_zc_all(data.clone()).await;
                res.unwrap();
                buf
            };
            let (got, back) = futures::join!(reader, writer);
            assert!(got == data && back == data);
            // And on the stream itself, with a static buffer.
            let (res, _) = s.send_zc_all(&b"reply"[..]).await;
            res.unwrap();
            let (res, got) = r.read_exact(vec![0u8; 5]).await;
            res.unwrap();
            assert_eq!(got, b"reply");
            // An empty buffer is sent as nothing.
            let (res, _) = s.send_zc_all(Vec::new()).await;
            res.unwrap();
        }))
        .unwrap();
});

/// A heap buffer (initialised) that counts its drops.
struct Tracked {
    bytes: Box<[u8]>,
    freed: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.freed.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: `bytes` is a heap allocation that never moves or changes size
// while the value lives, and all of it is initialised.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.len()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.len()
    }
}

/// Fills the socket's send buffer and the peer's receive buffer with
/// non-blocking sends until `EAGAIN`; returns the bytes queued.
fn fill(fd: i32) -> usize {
    let chunk = [0x55u8; 65_536];
    let mut total = 0;
    loop {
        // SAFETY: `chunk` is valid for reads of its length.
        let n = unsafe {
            libc::send(
                fd,
                chunk.as_ptr().cast(),
                chunk.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
            return total;
        }
        total += n as usize;
    }
}

each_backend!(
    dropped_send_zc_keeps_its_buffer_until_the_final_cqe,
    |b: Backend| {
        let rt = util::rt(b);
        let freed = Arc::new(AtomicUsize::new(0));
        let made = rt
            .block_on(timeout(LIMIT, async {
                let (c, s) = tcp_pair().await;
                // A full pipe: each send_zc has to wait (in the kernel on
                // io_uring) when it is dropped.
                let queued = fill(c.as_raw_fd());
                let n = drop_ops();
                for _ in 0..n {
                    let buf = Tracked {
                        bytes: vec![0xA5u8; 16_384].into_boxed_slice(),
                        freed: freed.clone(),
                    };
                    let before = freed.load(Ordering::SeqCst);
                    let mut fut = Box::pin(c.send_zc(buf));
                    assert!(!poll_once(&mut fut).await, "the pipe is full");
                    drop(fut);
                    let at_drop = freed.load(Ordering::SeqCst) - before;
                    if ringloop::current_backend() == Some(Backend::IoUring) && kernel_has_send_zc()
                    {
                        assert_eq!(at_drop, 0, "buffer freed while the kernel owned it");
                    } else {
                        assert_eq!(at_drop, 1, "readiness path: nothing in flight");
                    }
                }
                // Whatever the cancelled sends queued is still a byte stream the
                // peer can drain; the connection stays usable to its end.
                drop(c);
                let (r, got) = s.read_to_end(Vec::new()).await;
                r.unwrap();
                assert!(got.len() >= queued, "{} of {queued}", got.len());
                n
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

/// io_uring on a kernel whose probe lacks `SEND_ZC` (hidden by fault
/// injection): `send_zc` is the readiness path's plain send, with the same
/// bytes. io_uring only (the fault is the io_uring driver's).
#[cfg(all(feature = "fault-injection", not(ringloop_test_backend = "epoll")))]
#[test]
fn send_zc_without_the_opcode_is_a_plain_send() {
    util::run_on(Backend::IoUring, |b| {
        let mut faults = ringloop::faults::Faults::new();
        faults.missing_opcodes = vec![io_uring::opcode::SendZc::CODE];
        let rt = ringloop::Builder::new()
            .backend(b)
            .faults(faults)
            .build()
            .unwrap();
        let fallback_before = rt.metrics().ops_fallback;
        rt.block_on(timeout(LIMIT, async {
            let (c, s) = tcp_pair().await;
            let data = block(11, 0, 2 << 20);
            let reader = async {
                let (r, got) = s.read_exact(vec![0u8; 2 << 20]).await;
                r.unwrap();
                got
            };
            let writer = async {
                let (r, buf) = c.send_zc_all(data.clone()).await;
                r.unwrap();
                buf
            };
            let (got, back) = futures::join!(reader, writer);
            assert!(got == data && back == data);
        }))
        .unwrap();
        let sends = send_zc_started(&rt);
        assert!(sends > 0);
        let fallbacks = rt.metrics().ops_fallback - fallback_before;
        assert!(
            fallbacks >= sends,
            "{fallbacks} fallbacks for {sends} sends"
        );
    });
}
