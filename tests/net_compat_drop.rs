//! Dropping a `CopyIo` with a receive or a send in flight, on both
//! backends: the operation's buffer (the adapter's own) goes to the driver,
//! which frees it after the kernel's final completion; the kernel may still
//! write into a dropped receive's buffer or read a dropped send's. Nothing
//! may leak: no driver slot, no fd, no task. `.ci/run` can run this binary
//! under valgrind memcheck (with `RINGLOOP_DROP_OPS` lowering the count),
//! which checks that no such buffer is touched after it is freed. The tests
//! run one at a time: they count this process's fds.
mod net_util;
mod util;

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use ringloop::io::{AsyncRead as _, AsyncWrite as _};
use ringloop::net::compat::CopyIo;
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Adapters dropped per scenario; smaller under valgrind (~50x slower).
fn ops() -> usize {
    std::env::var("RINGLOOP_DROP_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Runs `body` on `b` with the process to itself, then checks that every
/// op was reaped, every task and registration is gone and no fd leaked.
fn scenario<F: std::future::Future<Output = ()>>(b: Backend, body: impl FnOnce() -> F) {
    let _one = util::serial();
    util::raise_nofile();
    let before = util::open_fds();
    let rt = util::rt(b);
    rt.block_on(async {
        timeout(LIMIT, body()).await.expect("timed out");
        net_util::until_nothing_in_flight(LIMIT).await;
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    drop(rt);
    util::assert_no_fd_leak(before, "no fd leaked");
}

/// Polls a futures-io read once: it must be pending (a receive in flight).
async fn start_read(io: &mut CopyIo<UnixStream>, buf: &mut [u8]) {
    use futures_io::AsyncRead;
    let r = poll_fn(|cx| Poll::Ready(Pin::new(&mut *io).poll_read(cx, buf))).await;
    assert!(r.is_pending(), "nothing was sent: the read must wait");
}

each_backend!(dropped_with_a_receive_in_flight, |b: Backend| {
    scenario(b, || async {
        let mut peers = Vec::new();
        for i in 0..ops() {
            let (a, peer) = UnixStream::pair().unwrap();
            let mut a = CopyIo::with_capacity(a, 4096, 4096);
            let mut buf = [0u8; 64];
            start_read(&mut a, &mut buf).await;
            // Let the loop hand the receive to the kernel (io_uring).
            ringloop::yield_now().await;
            drop(a);
            // The kernel may complete the orphaned receive into the
            // driver-held buffer, or see the cancellation first: every
            // other peer writes at once, the rest never.
            if i % 2 == 0 {
                let (r, _) = peer.write(b"into a dropped read".as_slice()).await;
                // EPIPE/ECONNRESET when the other end is already closed.
                drop(r);
            }
            peers.push(peer);
        }
        // Every adapter's socket closes once its receive is reaped: each
        // peer then reads end of stream (or a reset, if it wrote into a
        // buffer that was dropped unread).
        net_util::until_nothing_in_flight(LIMIT).await;
        for peer in peers {
            let (r, _) = peer.read(Vec::with_capacity(64)).await;
            match r {
                Ok(0) => {}
                Ok(n) => panic!("the peer read {n} bytes nobody sent"),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
            }
        }
    });
});

each_backend!(dropped_with_a_send_in_flight, |b: Backend| {
    use futures_io::AsyncWrite;
    scenario(b, || async {
        let n = (ops() / 20).max(10);
        for i in 0..n as u64 {
            let (a, peer) = UnixStream::pair().unwrap();
            let mut a = CopyIo::with_capacity(a, 16, 64 * 1024);
            let pattern = net_util::block(7, i, 64 * 1024);
            // Nobody reads the peer: fill the socket until a send stays in
            // flight (bounded).
            let mut accepted = 0usize;
            for _ in 0..1000 {
                let r = poll_fn(|cx| Poll::Ready(Pin::new(&mut a).poll_write(cx, &pattern))).await;
                match r {
                    Poll::Ready(r) => accepted += r.unwrap(),
                    Poll::Pending => break,
                }
                ringloop::yield_now().await;
            }
            drop(a);
            // The peer reads a prefix of what was accepted (a cancelled
            // send may have sent part of its buffer), each byte as written.
            let mut got = 0usize;
            loop {
                let (r, buf) = peer.read(Vec::with_capacity(128 * 1024)).await;
                let k = r.unwrap();
                if k == 0 {
                    break;
                }
                for (j, &byte) in buf.iter().enumerate() {
                    assert_eq!(byte, pattern[(got + j) % pattern.len()], "byte {}", got + j);
                }
                got += k;
            }
            assert!(got <= accepted, "read {got} of {accepted} accepted bytes");
        }
    });
});

each_backend!(
    dropped_mid_echo_by_abort_and_by_runtime_drop,
    |b: Backend| {
        let _one = util::serial();
        util::raise_nofile();
        let before = util::open_fds();
        let n = (ops() / 40).max(10);
        for abort in [true, false] {
            let rt = util::rt(b);
            rt.block_on(async {
                let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
                let addr = l.local_addr().unwrap();
                let mut tasks = Vec::new();
                for _ in 0..n {
                    let c = TcpStream::connect(addr).await.unwrap();
                    let (s, _) = l.accept().await.unwrap();
                    // One side streams into the other, which echoes through
                    // an adapter: receives and sends in flight at all times.
                    tasks.push(ringloop::spawn(async move {
                        use futures_util::AsyncWriteExt;
                        let mut s = CopyIo::new(s);
                        let (mut r, mut w) = futures_util::AsyncReadExt::split(&mut s);
                        let _ = futures_util::io::copy(&mut r, &mut w).await;
                        let _ = w.close().await;
                    }));
                    tasks.push(ringloop::spawn(async move {
                        let mut c = CopyIo::new(c);
                        let blob = vec![0x5a; 64 * 1024];
                        loop {
                            use futures_util::{AsyncReadExt, AsyncWriteExt};
                            if c.write_all(&blob).await.is_err() {
                                return;
                            }
                            let mut sink = [0u8; 1024];
                            if c.read(&mut sink).await.is_err() {
                                return;
                            }
                        }
                    }));
                }
                // Let the traffic run a few turns, then cut it off.
                for _ in 0..20 {
                    ringloop::yield_now().await;
                }
                if abort {
                    for t in &tasks {
                        t.abort();
                    }
                    for t in tasks {
                        // Cancelled, or already ended by its peer's abort.
                        drop(timeout(LIMIT, t).await.expect("abort is prompt"));
                    }
                    net_util::until_nothing_in_flight(LIMIT).await;
                } else {
                    // Detached: the runtime's drop cancels them in flight.
                    drop(tasks);
                }
            });
            if abort {
                assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
            }
            drop(rt);
        }
        util::assert_no_fd_leak(before, "no fd leaked");
    }
);
