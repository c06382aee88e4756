//! The readiness path's syscall economy: a request-response connection
//! costs one `recv` per message, not a `recv` that gets `EAGAIN` and then
//! one that gets the data, because a stream read shorter than its buffer
//! marks the socket drained until its next edge (as tokio does). On
//! io_uring the same exchange takes no per-op syscall at all. A task woken
//! for another reason does not retry a drained socket's syscall.
mod util;

use std::time::Duration;

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::Backend;

const ROUNDS: u64 = 2000;

each_backend!(ping_pong_costs_one_syscall_per_message, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let server = ringloop::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            loop {
                let (r, b) = s.read(buf).await;
                let n = r.unwrap();
                if n == 0 {
                    return;
                }
                let (r, b) = s.write_all(b).await;
                r.unwrap();
                buf = b;
                buf.clear();
            }
        });
        let before = ringloop::Handle::current().metrics();
        let mut msg = vec![7u8; 64];
        let mut back = Vec::with_capacity(4096);
        for _ in 0..ROUNDS {
            let (r, m) = c.write_all(msg).await;
            r.unwrap();
            msg = m;
            let (r, b) = c.read(back).await;
            assert_eq!(r.unwrap(), 64);
            back = b;
            back.clear();
        }
        let after = ringloop::Handle::current().metrics();
        let own = (after.io_syscalls - before.io_syscalls) as f64 / ROUNDS as f64;
        eprintln!("{b}: {own:.3} op syscalls per round trip (4 messages: 2 sends, 2 recvs)");
        match b {
            Backend::IoUring => assert!(own < 0.01, "{own} syscalls per round trip on io_uring"),
            // Two sends and two receives; an EAGAIN receive per message
            // would make it 6.
            _ => assert!(own < 4.1, "{own} syscalls per round trip on epoll"),
        }
        TcpStream::shutdown(&c, std::net::Shutdown::Write)
            .await
            .unwrap();
        server.await.unwrap();
    });
});

each_backend!(
    a_drained_socket_is_not_retried_on_every_wake,
    |b: Backend| {
        let rt = util::rt(b);
        rt.block_on(async {
            let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
            let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            // A read that waits, raced against 200 timer wakes of its task.
            let before = ringloop::Handle::current().metrics();
            let read = s.read(Vec::with_capacity(64));
            let mut read = std::pin::pin!(read);
            for _ in 0..200 {
                let timer = ringloop::time::sleep(Duration::from_micros(50));
                poll_until(read.as_mut(), timer).await;
            }
            let after = ringloop::Handle::current().metrics();
            let own = after.io_syscalls - before.io_syscalls;
            eprintln!("{b}: {own} op syscalls for a read polled 200 times without data");
            // The first attempt (EAGAIN) and the fd's registration; no retry
            // per wake.
            assert!(
                own <= 3,
                "{own} syscalls: the waiting read retried on wakes"
            );
            let (r, _) = c.write_all(vec![1u8; 10]).await;
            r.unwrap();
            let (r, b) = read.await;
            assert_eq!(r.unwrap(), 10);
            assert_eq!(b, vec![1u8; 10]);
        });
    }
);

each_backend!(the_eof_after_the_last_bytes_is_seen, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        // A read that waits once (on epoll: the socket is registered and
        // known not ready), then is given up.
        {
            let read = s.read(Vec::with_capacity(64));
            let mut read = std::pin::pin!(read);
            std::future::poll_fn(|cx| {
                let pending = std::future::Future::poll(read.as_mut(), cx).is_pending();
                assert!(pending, "no data was sent yet");
                std::task::Poll::Ready(())
            })
            .await;
        }
        // The last bytes and the FIN arrive together: one edge. The read
        // that takes the bytes is short, and the next must see the EOF
        // rather than wait for an edge that never comes.
        let (r, _) = c.write_all(vec![3u8; 5]).await;
        r.unwrap();
        TcpStream::shutdown(&c, std::net::Shutdown::Write)
            .await
            .unwrap();
        let limit = Duration::from_secs(10);
        let (r, got) = ringloop::time::timeout(limit, s.read(Vec::with_capacity(64)))
            .await
            .expect("the bytes before the FIN were not read");
        assert_eq!(r.unwrap(), 5);
        assert_eq!(got, vec![3u8; 5]);
        let (r, _) = ringloop::time::timeout(limit, s.read(Vec::with_capacity(64)))
            .await
            .expect("the read after the last bytes waited instead of seeing the EOF");
        assert_eq!(r.unwrap(), 0);
    });
});

/// Polls `a` until `t` fires (then leaves `a` pending, not dropped).
async fn poll_until<A, T>(mut a: std::pin::Pin<&mut A>, t: T)
where
    A: std::future::Future,
    T: std::future::Future,
{
    let mut t = std::pin::pin!(t);
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() {
            panic!("the read completed without data");
        }
        t.as_mut().poll(cx).map(|_| ())
    })
    .await
}
