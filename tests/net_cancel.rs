//! Dropping in-flight socket operations: the socket stays usable, nothing
//! leaks, and a connection accepted for a dropped future is handed back to
//! its listener. The tests run one at a time ([`util::serial`]): some count
//! this process's fds.
mod net_util;
mod util;

use std::io::Write;
use std::net::SocketAddr;

use net_util::poll_once;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Bound for what must happen at once: a leak fails in seconds.
const SHORT: std::time::Duration = std::time::Duration::from_secs(5);

const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// Starts `fut`, lets the loop submit it (several turns), then drops it.
async fn start_then_drop<F: std::future::Future + Unpin>(mut fut: F) {
    assert!(!poll_once(&mut fut).await, "must still be pending");
    for _ in 0..3 {
        ringloop::yield_now().await;
    }
    assert!(!poll_once(&mut fut).await, "must still be pending");
    drop(fut);
}

each_backend!(dropped_accept_then_accept_again, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        for _ in 0..10 {
            start_then_drop(Box::pin(l.accept())).await;
        }
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        s.write_all(b"still works".as_slice()).await.0.unwrap();
        let (r, got) = c.read_exact(vec![0u8; 11]).await;
        r.unwrap();
        assert_eq!(got, b"still works");
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(dropped_recv_then_recv_again, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        // Many recvs dropped while in flight (their buffers stay with the
        // driver until the kernel's final completion).
        for _ in 0..100 {
            start_then_drop(Box::pin(c.read(vec![0u8; 4096]))).await;
        }
        s.write_all(b"after cancel".as_slice()).await.0.unwrap();
        let (r, got) = c.read_exact(vec![0u8; 12]).await;
        r.unwrap();
        assert_eq!(
            got, b"after cancel",
            "no bytes lost: no recv was pending when they came"
        );
        c.write_all(b"x".as_slice()).await.0.unwrap();
        let (r, got) = s.read_exact(vec![0u8; 1]).await;
        r.unwrap();
        assert_eq!(got, b"x");
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(late_accept_is_handed_back_not_lost, |b: Backend| {
    let _one = util::serial();
    let fds = util::open_fds();
    let rt = util::rt(b);
    rt.block_on(timeout(SHORT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr: SocketAddr = l.local_addr().unwrap();
        let mut fut = Box::pin(l.accept());
        assert!(!poll_once(&mut fut).await);
        // Let the loop submit the accept, so it waits in the kernel...
        for _ in 0..3 {
            ringloop::yield_now().await;
        }
        // ...then a client connects (a blocking connect from this thread:
        // the kernel completes the handshake and wakes the accept) and the
        // future is dropped in the same turn, before the loop reaps that
        // completion. On io_uring the kernel accepts the connection for the
        // dropped op (a late completion); on epoll nothing was accepted.
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"late").unwrap();
        drop(fut);
        // Either way the connection is not lost: the next accept has it.
        let (s, peer) = l.accept().await.unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        let (r, got) = s.read_exact(vec![0u8; 4]).await;
        r.unwrap();
        assert_eq!(got, b"late");
    }))
    .expect("the late connection was lost (timed out)");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    drop(rt);
    util::assert_no_fd_leak(fds, "no fd leaked");
});

each_backend!(dropped_incoming_keeps_queued_connections, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    rt.block_on(timeout(SHORT, async {
        use futures_core::Stream;
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        // 50 clients queued in the kernel; each says who it is.
        let clients: Vec<_> = (0..50u8)
            .map(|i| {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&[i]).unwrap();
                c
            })
            .collect();
        let mut inc = l.incoming();
        let first = std::future::poll_fn(|cx| std::pin::Pin::new(&mut inc).poll_next(cx))
            .await
            .unwrap()
            .unwrap();
        // On io_uring the multishot accept has taken the queue off the
        // kernel by now; dropping the stream must not close those.
        drop(inc);
        let mut seen = [false; 50];
        {
            let s = first;
            let (r, got) = s.read_exact(vec![0u8; 1]).await;
            r.unwrap();
            seen[got[0] as usize] = true;
        }
        for _ in 1..50 {
            let (s, _) = l.accept().await.unwrap();
            let (r, got) = s.read_exact(vec![0u8; 1]).await;
            r.unwrap();
            assert!(!seen[got[0] as usize], "each connection once");
            seen[got[0] as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "all 50 connections accepted");
        drop(clients);
    }))
    .expect("queued connections were lost (timed out)");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(incoming_made_per_turn_serves_every_client, |b: Backend| {
    let _one = util::serial();
    const CLIENTS: usize = 3_000;
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        use futures_core::Stream;
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        let clients = std::thread::spawn(move || {
            use std::io::Read;
            let mut served = 0;
            for i in 0..CLIENTS {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(LIMIT)).unwrap();
                let b = [(i % 251) as u8];
                c.write_all(&b).unwrap();
                let mut got = [0u8; 1];
                if c.read_exact(&mut got).is_ok() && got == b {
                    served += 1;
                }
            }
            served
        });
        // A server that makes a new `incoming()` for every connection.
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let mut inc = l.incoming();
            let s = std::future::poll_fn(|cx| std::pin::Pin::new(&mut inc).poll_next(cx))
                .await
                .unwrap()
                .unwrap();
            drop(inc);
            tasks.push(ringloop::spawn(async move {
                let (r, got) = s.read_exact(vec![0u8; 1]).await;
                r.unwrap();
                s.write_all(got).await.0.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let served = ringloop::spawn_blocking(move || clients.join().unwrap())
            .await
            .unwrap();
        assert_eq!(served, CLIENTS, "every client served");
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(dropped_incoming_then_accept, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        use futures_core::Stream;
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        for _ in 0..5 {
            let mut inc = l.incoming();
            let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut inc).poll_next(cx));
            let mut next = std::pin::pin!(next);
            assert!(!poll_once(&mut next).await);
            ringloop::yield_now().await;
        }
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(dropped_connect_closes_its_socket, |b: Backend| {
    let _one = util::serial();
    let fds = util::open_fds();
    let rt = util::rt(b);
    rt.block_on(timeout(SHORT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        let mut fut = Box::pin(TcpStream::connect(addr));
        let _ = poll_once(&mut fut).await;
        drop(fut);
        net_util::until_nothing_in_flight(SHORT).await;
        let c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"second".as_slice()).await.0.unwrap();
        // The dropped connect may have completed its handshake before it was
        // cancelled: then the listener has that connection too, and its
        // client socket was closed (it reads as end of stream). The second
        // connection works.
        let mut got_second = false;
        while !got_second {
            let (s, peer) = l.accept().await.unwrap();
            let (r, buf) = s.read(Vec::with_capacity(16)).await;
            match r.unwrap() {
                0 => assert_ne!(peer, c.local_addr().unwrap(), "the dropped one ends"),
                _ => {
                    assert_eq!(buf, b"second");
                    assert_eq!(peer, c.local_addr().unwrap());
                    got_second = true;
                }
            }
        }
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    drop(rt);
    assert_eq!(
        util::open_fds(),
        fds,
        "the dropped connect's socket is closed"
    );
});
