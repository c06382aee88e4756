//! Pooled receives (`recv_pooled`, `recv_stream`): loop-owned buffers the
//! kernel picks when data arrives (io_uring provided-buffer rings) or the
//! loop takes once the socket is readable (epoll). Both backends: data
//! integrity over many connections, an exhausted pool that loses nothing,
//! buffers back in the pool when dropped, a dropped stream's bytes kept for
//! the next receive, end of stream, and idle connections holding no buffer.
mod net_util;
mod util;

use std::io::Write;

use futures_core::Stream;
use net_util::{block, poll_once};
use ringloop::driver::BufPool;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::{Backend, Builder};
use util::LIMIT;

fn rt_with(b: Backend, count: u16, size: u32) -> ringloop::Runtime {
    Builder::new()
        .backend(b)
        .recv_buffers(count, size)
        .build()
        .unwrap()
}

async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
}

/// An order-sensitive checksum that does not depend on where the chunks
/// it is fed begin and end (FNV-1a over the bytes, and their count).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Fnv(u64, u64);

impl Fnv {
    fn feed(&mut self, bytes: &[u8]) {
        if self.1 == 0 && self.0 == 0 {
            self.0 = 0xcbf2_9ce4_8422_2325;
        }
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.1 += bytes.len() as u64;
    }
}

/// Writes `blocks` blocks of seed `k` into `c`, then closes it; the sum.
async fn send_blocks(c: TcpStream, k: u64, blocks: u64) -> Fnv {
    let mut sum = Fnv::default();
    for i in 0..blocks {
        let data = block(k, i, 1000 + (i as usize * 377) % 9000);
        sum.feed(&data);
        c.write_all(data).await.0.unwrap();
    }
    sum
}

each_backend!(many_connections_keep_their_bytes, |b: Backend| {
    let rt = rt_with(b, 64, 4096);
    rt.block_on(timeout(LIMIT, async {
        let mut tasks = Vec::new();
        for k in 0..32u64 {
            let (c, s) = pair().await;
            let sent = ringloop::spawn(send_blocks(c, k, 64));
            tasks.push(ringloop::spawn(async move {
                let mut got = Fnv::default();
                let mut rs = s.recv_stream();
                while let Some(buf) = next(&mut rs).await {
                    got.feed(&buf.unwrap());
                }
                (sent.await.unwrap(), got)
            }));
        }
        for t in tasks {
            let (sent, got) = t.await.unwrap();
            assert_eq!(sent, got, "every byte, in order");
        }
        assert_eq!(BufPool::current().unwrap().in_use(), 0, "every buffer back");
    }))
    .expect("timed out");
});

each_backend!(a_big_pool_touches_only_what_the_load_needs, |b: Backend| {
    // 1,024 buffers of 16 KiB (16 MiB): one connection's request-response
    // traffic needs a few of them, and only those may become resident.
    let rt = rt_with(b, 1024, 16 * 1024);
    rt.block_on(timeout(LIMIT, async {
        let (c, s) = pair().await;
        let echo = ringloop::spawn(async move {
            // With incremental consumption a message that straddles two
            // buffers comes in two pieces; Nagle would hold the second
            // echo for the client's delayed ACK.
            s.set_nodelay(true).unwrap();
            let mut rs = s.recv_stream();
            while let Some(buf) = next(&mut rs).await {
                let (r, _) = s.write_all(buf.unwrap()).await;
                r.unwrap();
            }
        });
        for i in 0..2000u64 {
            let msg = block(7, i, 64 + (i as usize * 131) % 4000);
            let (r, msg) = c.write_all(msg).await;
            r.unwrap();
            let mut got = 0;
            while got < msg.len() {
                let (r, b) = c.read(Vec::with_capacity(8192)).await;
                got += r.unwrap();
                drop(b);
            }
        }
        let pool = BufPool::current().unwrap();
        eprintln!(
            "{b}: {} of {} buffers touched",
            pool.touched(),
            pool.count()
        );
        // io_uring's ring starts at 32 buffers; epoll reuses the last one.
        assert!(
            pool.touched() <= 64,
            "{} of 1,024 buffers touched",
            pool.touched()
        );
        TcpStream::shutdown(&c, std::net::Shutdown::Write)
            .await
            .unwrap();
        echo.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(a_burst_grows_the_ring_and_loses_nothing, |b: Backend| {
    // 200 connections with their data already queued, each receiver
    // holding its last buffer while it waits for the next: 200 buffers out
    // at once, more than the ring's first 32, so it must grow (on io_uring)
    // while receives run; a ring that did not would hang here.
    let rt = rt_with(b, 512, 4096);
    rt.block_on(timeout(LIMIT, async {
        let mut conns = Vec::new();
        for k in 0..200u64 {
            let (c, s) = pair().await;
            let sent = send_blocks(c, 300 + k, 4).await;
            conns.push((s, sent));
        }
        let mut tasks = Vec::new();
        for (s, sent) in conns {
            tasks.push(ringloop::spawn(async move {
                let mut got = Fnv::default();
                let mut last = None;
                let mut rs = s.recv_stream();
                while let Some(buf) = next(&mut rs).await {
                    let buf = buf.unwrap();
                    got.feed(&buf);
                    // Let every other receiver take a buffer too.
                    ringloop::yield_now().await;
                    last = Some(buf);
                }
                drop(last);
                (sent, got)
            }));
        }
        for t in tasks {
            let (sent, got) = t.await.unwrap();
            assert_eq!(sent, got, "every byte, in order");
        }
        let pool = BufPool::current().unwrap();
        eprintln!(
            "{b}: {} of {} buffers touched",
            pool.touched(),
            pool.count()
        );
        assert!(pool.touched() > 32, "the burst needed more than 32 buffers");
        assert_eq!(pool.in_use(), 0, "every buffer back");
    }))
    .expect("timed out (the ring did not grow?)");
});

each_backend!(an_exhausted_pool_loses_nothing, |b: Backend| {
    // Four small buffers for eight busy connections: receives run dry
    // (ENOBUFS on io_uring, an empty free list on epoll) again and again.
    let rt = rt_with(b, 4, 1024);
    rt.block_on(timeout(LIMIT, async {
        let mut tasks = Vec::new();
        for k in 0..8u64 {
            let (c, s) = pair().await;
            let sent = ringloop::spawn(send_blocks(c, 100 + k, 32));
            tasks.push(ringloop::spawn(async move {
                let mut got = Fnv::default();
                let mut rs = s.recv_stream();
                while let Some(buf) = next(&mut rs).await {
                    let buf = buf.unwrap();
                    got.feed(&buf);
                    // Hold the buffer for a few turns of the loop: the other
                    // receives find the pool empty meanwhile. (A task that
                    // held a buffer while it waits for the next one could
                    // deadlock a pool this small; that is the application's
                    // bound, as with any bounded pool.)
                    for _ in 0..3 {
                        ringloop::yield_now().await;
                    }
                    drop(buf);
                }
                (sent.await.unwrap(), got)
            }));
        }
        for t in tasks {
            let (sent, got) = t.await.unwrap();
            assert_eq!(sent, got, "nothing lost while the pool was empty");
        }
        assert_eq!(BufPool::current().unwrap().in_use(), 0);
    }))
    .expect("timed out (a receive waiting for a buffer was never woken?)");
});

each_backend!(
    a_dropped_stream_keeps_its_bytes_for_the_next_receive,
    |b: Backend| {
        let rt = rt_with(b, 16, 4096);
        rt.block_on(timeout(LIMIT, async {
            let (c, s) = pair().await;
            for round in 0..50u8 {
                let mut rs = s.recv_stream();
                let mut first = Box::pin(next(&mut rs));
                assert!(!poll_once(&mut first).await, "nothing sent yet");
                // Bytes arrive; the stream is dropped before it yields them (on
                // io_uring the kernel may already have filled a buffer for it).
                c.write_all(vec![round; 100]).await.0.unwrap();
                ringloop::yield_now().await;
                drop(first);
                drop(rs);
                let mut got = Vec::new();
                while got.len() < 100 {
                    let buf = s.recv_pooled().await.unwrap().expect("not the end");
                    got.extend_from_slice(&buf);
                }
                assert_eq!(got, vec![round; 100], "round {round}: nothing lost");
            }
            net_util::until_nothing_in_flight(LIMIT).await;
            assert_eq!(BufPool::current().unwrap().in_use(), 0, "buffers recycled");
            drop(c);
            assert!(s.recv_pooled().await.unwrap().is_none(), "end of stream");
        }))
        .expect("timed out");
    }
);

each_backend!(idle_connections_hold_no_buffer, |b: Backend| {
    let _one = util::serial();
    util::raise_nofile();
    let rt = rt_with(b, 8, 4096);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = l.local_addr().unwrap();
        // 100 idle peers, each with a receive armed on the server side:
        // more receives than buffers, and none holds one.
        let mut clients = Vec::new();
        let mut readers = Vec::new();
        for _ in 0..100 {
            clients.push(std::net::TcpStream::connect(addr).unwrap());
            let (s, _) = l.accept().await.unwrap();
            readers.push(ringloop::spawn(async move {
                let mut rs = s.recv_stream();
                let buf = next(&mut rs).await.unwrap().unwrap();
                buf.to_vec()
            }));
        }
        ringloop::yield_now().await;
        let pool = BufPool::current().unwrap();
        assert_eq!(pool.in_use(), 0, "idle receives hold no buffer");
        assert_eq!(pool.count(), 8);
        // Then every peer speaks: 100 receives through 8 buffers.
        for (i, c) in clients.iter_mut().enumerate() {
            c.write_all(&[i as u8; 10]).unwrap();
        }
        for (i, r) in readers.into_iter().enumerate() {
            assert_eq!(r.await.unwrap(), vec![i as u8; 10]);
        }
        assert_eq!(pool.in_use(), 0);
    }))
    .expect("timed out");
});
