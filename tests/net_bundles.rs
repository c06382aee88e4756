//! Receive bundles (`recv_bundles`, `IORING_RECVSEND_BUNDLE`, Linux 6.10):
//! one completion for several buffers of the loop's ring, yielded in order
//! as one `PooledBufs`. Both backends (epoll, and io_uring without bundles,
//! yield one buffer per item): a pipelined sender that writes many small
//! messages faster than the receiver reads gets every byte in order, through
//! `recv_bundles` and through `recv_stream`; a bundle dropped unread gives
//! all its buffers back; a stream (`into_buffers`) dropped halfway through a
//! bundle keeps the rest for the next receive; a small pool runs dry and loses nothing; and
//! (feature `fault-injection`) the probe forced off gives the same bytes.
mod net_util;
mod util;

use futures_core::Stream;
use net_util::block;
use ringloop::driver::BufPool;
use ringloop::io::AsyncWrite;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::{Backend, Builder, Runtime};
use util::LIMIT;

fn rt_with(b: Backend, count: u16, size: u32) -> Runtime {
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

/// `n` small messages (17 to 116 bytes) of stream `seed`, concatenated.
fn messages(seed: u64, n: u64) -> Vec<u8> {
    (0..n)
        .flat_map(|i| block(seed, i, 17 + (i as usize * 37) % 100))
        .collect()
}

/// Writes `data` in its small messages, one `write_all` each, without
/// waiting for the reader.
async fn pipeline(c: &TcpStream, data: &[u8]) {
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = (17 + (i * 37) % 100).min(data.len() - at);
        c.write_all(data[at..at + n].to_vec()).await.0.unwrap();
        at += n;
        i += 1;
    }
}

/// Writes `data` in its small messages from another thread, as fast as
/// the socket takes them (faster than the loop reads), then closes.
fn pipeline_from_thread(c: TcpStream, data: Vec<u8>) -> std::thread::JoinHandle<()> {
    use std::io::Write;
    let mut c = c.into_std().unwrap();
    c.set_nonblocking(false).unwrap();
    c.set_nodelay(true).unwrap();
    std::thread::spawn(move || {
        let mut at = 0;
        let mut i = 0;
        while at < data.len() {
            let n = (17 + (i * 37) % 100).min(data.len() - at);
            c.write_all(&data[at..at + n]).unwrap();
            at += n;
            i += 1;
        }
    })
}

/// What a bundled receive saw: the bytes, and the most buffers one item held.
async fn read_bundles(s: &TcpStream) -> (Vec<u8>, usize) {
    let mut got = Vec::new();
    let mut widest = 0;
    let mut items = 0;
    let mut rb = s.recv_bundles();
    while let Some(bufs) = next(&mut rb).await {
        let bufs = bufs.unwrap();
        widest = widest.max(bufs.buffers());
        let len = bufs.len();
        let before = got.len();
        // Half the items are read in place, half buffer by buffer.
        items += 1;
        if items % 2 == 0 {
            bufs.slices().for_each(|p| got.extend_from_slice(p));
        } else {
            let mut held: Vec<_> = bufs.collect();
            held.iter().for_each(|b| got.extend_from_slice(b));
            // Given back last first: the ring's order is no longer the
            // buffers' id order, and a bundle must be read in ring order.
            while let Some(b) = held.pop() {
                drop(b);
            }
        }
        assert_eq!(got.len() - before, len, "an item's len() is its bytes");
        // A slower reader than the writer: bytes pile up in the socket.
        ringloop::yield_now().await;
    }
    (got, widest)
}

each_backend!(a_pipelined_sender_gets_every_byte_in_order, |b: Backend| {
    // Buffers of 512 bytes: 64 KiB queued spans many of them.
    let rt = rt_with(b, 256, 512);
    rt.block_on(timeout(LIMIT, async {
        let pool = BufPool::current().unwrap();
        // Some bytes queued before the receive starts, then a sender
        // that keeps writing while the receiver reads.
        let (c, s) = pair().await;
        let early = messages(1, 300);
        pipeline(&c, &early).await;
        let late = messages(2, 20_000);
        let sender = pipeline_from_thread(c, late.clone());
        let (got, widest) = read_bundles(&s).await;
        sender.join().unwrap();
        let mut want = early;
        want.extend_from_slice(&late);
        assert_eq!(got.len(), want.len(), "every byte");
        assert!(got == want, "in order");
        eprintln!(
            "{b}: bundles {}, widest item {widest} buffers",
            pool.bundles()
        );
        if pool.bundles() {
            assert!(
                widest > 1,
                "bytes queued over many buffers came in one item"
            );
        } else {
            assert_eq!(widest, 1, "one buffer per item without bundles");
        }
        assert_eq!(pool.in_use(), 0, "every buffer back");
    }))
    .expect("timed out");
});

each_backend!(
    recv_stream_splits_nothing_and_loses_nothing,
    |b: Backend| {
        // The same traffic through the one-buffer-per-item stream, over many
        // connections at once.
        let rt = rt_with(b, 128, 256);
        rt.block_on(timeout(LIMIT, async {
            let mut tasks = Vec::new();
            for k in 0..16u64 {
                let (c, s) = pair().await;
                let data = messages(10 + k, 400);
                let want = data.clone();
                let sender = ringloop::spawn(async move {
                    pipeline(&c, &data).await;
                });
                tasks.push(ringloop::spawn(async move {
                    let mut got = Vec::new();
                    let mut rs = s.recv_stream();
                    while got.len() < want.len() {
                        let buf = next(&mut rs).await.expect("not the end").unwrap();
                        assert!(buf.len() <= 256, "one buffer per item");
                        got.extend_from_slice(&buf);
                        ringloop::yield_now().await;
                    }
                    sender.await.unwrap();
                    assert!(got == want, "conn {k}: every byte, in order");
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(BufPool::current().unwrap().in_use(), 0);
        }))
        .expect("timed out");
    }
);

each_backend!(
    a_bundle_dropped_unread_gives_every_buffer_back,
    |b: Backend| {
        let rt = rt_with(b, 64, 256);
        rt.block_on(timeout(LIMIT, async {
            let pool = BufPool::current().unwrap();
            let (c, s) = pair().await;
            let data = messages(3, 200);
            pipeline(&c, &data).await;
            drop(c);
            let mut got = 0;
            let mut rb = s.recv_bundles();
            while let Some(bufs) = next(&mut rb).await {
                let bufs = bufs.unwrap();
                assert_eq!(pool.in_use(), bufs.buffers(), "the item holds its buffers");
                got += bufs.len();
                drop(bufs);
                assert_eq!(pool.in_use(), 0, "all back at the drop");
            }
            assert_eq!(got, data.len());
        }))
        .expect("timed out");
    }
);

each_backend!(a_stream_dropped_mid_bundle_keeps_the_rest, |b: Backend| {
    let rt = rt_with(b, 64, 256);
    rt.block_on(timeout(LIMIT, async {
        let (c, s) = pair().await;
        let data = messages(4, 300);
        pipeline(&c, &data).await;
        drop(c);
        let mut got = Vec::new();
        // Take one buffer from a fresh stream of bundles at a time, then
        // drop the stream: what its completion held beyond that buffer
        // must come out of the next receive.
        loop {
            let mut rs = s.recv_bundles().into_buffers();
            match next(&mut rs).await {
                Some(buf) => got.extend_from_slice(&buf.unwrap()),
                None => break,
            }
            drop(rs);
            if let Some(buf) = s.recv_pooled().await.unwrap() {
                got.extend_from_slice(&buf);
            } else {
                break;
            }
        }
        assert_eq!(got.len(), data.len(), "every byte");
        assert!(got == data, "in order");
        net_util::until_nothing_in_flight(LIMIT).await;
        assert_eq!(BufPool::current().unwrap().in_use(), 0, "buffers back");
    }))
    .expect("timed out");
});

each_backend!(a_small_pool_runs_dry_and_loses_nothing, |b: Backend| {
    // Eight buffers of 128 bytes for six pipelined connections: bundles
    // take the whole ring at once, receives meet ENOBUFS again and again.
    let rt = rt_with(b, 8, 128);
    rt.block_on(timeout(LIMIT, async {
        let mut tasks = Vec::new();
        for k in 0..6u64 {
            let (c, s) = pair().await;
            let data = messages(20 + k, 200);
            let want = data.clone();
            let sender = ringloop::spawn(async move {
                pipeline(&c, &data).await;
                drop(c);
            });
            tasks.push(ringloop::spawn(async move {
                let (got, _) = read_bundles(&s).await;
                sender.await.unwrap();
                assert!(got == want, "conn {k}: nothing lost while the pool was dry");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(BufPool::current().unwrap().in_use(), 0);
    }))
    .expect("timed out (a receive waiting for a buffer was never woken?)");
});

/// The bundle probe forced off (`Faults::no_bundles`): the same bytes, one
/// buffer per item, on io_uring as on epoll.
#[cfg(feature = "fault-injection")]
mod probe_off {
    use super::*;
    use ringloop::faults::Faults;

    fn run(b: Backend) {
        let mut plan = Faults::new();
        plan.no_bundles = true;
        let rt = Builder::new()
            .backend(b)
            .recv_buffers(256, 512)
            .faults(plan)
            .build()
            .unwrap();
        rt.block_on(timeout(LIMIT, async {
            let pool = BufPool::current().unwrap();
            let (c, s) = pair().await;
            let data = messages(5, 2000);
            let want = data.clone();
            let sender = ringloop::spawn(async move {
                pipeline(&c, &data).await;
                drop(c);
            });
            let (got, widest) = read_bundles(&s).await;
            sender.await.unwrap();
            assert!(!pool.bundles(), "the probe is off");
            assert_eq!(widest, 1, "one buffer per item");
            assert!(got == want, "the same bytes");
            assert_eq!(pool.in_use(), 0);
        }))
        .expect("timed out");
    }

    #[test]
    fn uring() {
        util::run_on(Backend::IoUring, run);
    }

    #[test]
    fn epoll() {
        util::run_on(Backend::Epoll, run);
    }
}
