//! Incremental buffer consumption (`IOU_PBUF_RING_INC`, Linux 6.12): the
//! kernel fills a pooled buffer piece by piece, receive after receive (of
//! any socket), and the pool gives the buffer back only once the kernel
//! retired it and every piece was dropped. Both backends (epoll, and
//! io_uring without the flag, give every receive a buffer of its own):
//! many connections' small messages through a few big buffers, every byte
//! in order; a piece held while its buffer's other pieces come and go and
//! other buffers cycle keeps its bytes (fails when a buffer goes back at
//! the first piece dropped); and (feature `fault-injection`) the flag
//! forced off gives the same bytes.
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

/// `n` messages of 20 to 79 bytes of stream `seed`, one `write_all` each,
/// each after the previous was received (so each is its own receive).
async fn ping(c: &TcpStream, seed: u64, i: u64) -> Vec<u8> {
    let msg = block(seed, i, 20 + (i as usize * 7) % 60);
    c.write_all(msg.clone()).await.0.unwrap();
    msg
}

/// Many connections' small messages through 64 KiB buffers; with
/// incremental consumption, pieces of one buffer go to different sockets.
fn small_messages_share_buffers(b: Backend, rt: Runtime) {
    rt.block_on(timeout(LIMIT, async {
        let pool = BufPool::current().unwrap();
        let mut conns = Vec::new();
        for _ in 0..32 {
            let (c, s) = pair().await;
            conns.push((c, s.recv_stream(), Vec::new(), Vec::new()));
        }
        let mut offsets = 0;
        for i in 0..40u64 {
            for (k, (c, _, sent, _)) in conns.iter_mut().enumerate() {
                sent.extend(ping(c, k as u64, i).await);
            }
            // Read in the reverse of the order the bytes arrived in: each
            // receive must find its own piece of a shared buffer.
            for (_, rs, sent, got) in conns.iter_mut().rev() {
                while got.len() < sent.len() {
                    let buf = next(rs).await.expect("not the end").unwrap();
                    offsets += usize::from(buf.offset() > 0);
                    got.extend_from_slice(&buf);
                }
            }
        }
        for (k, (_, _, sent, got)) in conns.iter().enumerate() {
            assert!(got == sent, "conn {k}: every byte, in order");
        }
        eprintln!(
            "{b}: incremental {}, {offsets} pieces past a buffer's start, {} buffers touched",
            pool.incremental(),
            pool.touched()
        );
        if pool.incremental() {
            assert!(offsets > 0, "receives shared buffers");
        } else {
            assert_eq!(offsets, 0, "a buffer per receive");
        }
        drop(conns);
        net_util::until_nothing_in_flight(LIMIT).await;
        assert_eq!(pool.in_use(), 0, "every buffer back");
    }))
    .expect("timed out");
}

each_backend!(many_connections_share_big_buffers, |b: Backend| {
    small_messages_share_buffers(b, rt_with(b, 64, 64 * 1024));
});

each_backend!(a_held_piece_keeps_its_bytes, |b: Backend| {
    // Two buffers of 4 KiB: while the first message's piece is held, later
    // messages fill the rest of its buffer (retiring it) and cycle the
    // other buffer many times over. A buffer given back while a piece of
    // it is held would be refilled under that piece.
    let rt = rt_with(b, 2, 4096);
    rt.block_on(timeout(LIMIT, async {
        let pool = BufPool::current().unwrap();
        let (c, s) = pair().await;
        let mut rs = s.recv_stream();
        let first = ping(&c, 99, 0).await;
        let held = next(&mut rs).await.unwrap().unwrap();
        assert_eq!(&held[..], &first[..]);
        let mut sent = Vec::new();
        let mut got = Vec::new();
        for i in 1..600u64 {
            sent.extend(ping(&c, 99, i).await);
            while got.len() < sent.len() {
                let buf = next(&mut rs).await.expect("not the end").unwrap();
                got.extend_from_slice(&buf);
            }
            assert!(pool.in_use() >= 1, "the held piece keeps its buffer");
        }
        assert!(got == sent, "every later byte, in order");
        assert_eq!(&held[..], &first[..], "the held piece was not overwritten");
        drop(held);
        drop(rs);
        net_util::until_nothing_in_flight(LIMIT).await;
        assert_eq!(pool.in_use(), 0, "every buffer back");
    }))
    .expect("timed out (the pool ran dry for good?)");
});

/// The flag forced off (`Faults::no_buf_inc`): a buffer per receive, the
/// same bytes, on io_uring as on epoll.
#[cfg(feature = "fault-injection")]
mod flag_off {
    use super::*;
    use ringloop::faults::Faults;

    fn run(b: Backend) {
        let mut plan = Faults::new();
        plan.no_buf_inc = true;
        let rt = Builder::new()
            .backend(b)
            .recv_buffers(64, 64 * 1024)
            .faults(plan)
            .build()
            .unwrap();
        rt.block_on(async { assert!(!BufPool::current().unwrap().incremental()) });
        small_messages_share_buffers(b, rt);
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
