//! `net::compat::CopyIo`: the poll-based adapters (futures-io and tokio's
//! traits) over TCP, Unix streams and their halves, on both backends:
//! round trips through each trait family, large transfers checked byte for
//! byte, partial reads, end of stream, half-close seen by the peer, a peer
//! reset, backpressure (`Pending` while a send is in flight) and
//! tokio-util's codecs. Dropping an adapter mid-operation is in
//! `net_compat_drop.rs`.
mod net_util;
mod util;

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::Poll;

use futures_util::{SinkExt, StreamExt};
use net_util::block;
use ringloop::io::{AsyncRead as _, AsyncWrite as _};
use ringloop::net::compat::{CopyIo, ReadStream, WriteStream};
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// Both ends of a loopback TCP connection: (client, server).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(LOCAL).unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

/// Runs `body` on a runtime on `b`, bounded by [`LIMIT`], and checks that
/// nothing is left behind (tasks, timers, ops in flight, registrations).
fn run<F: std::future::Future<Output = ()>>(b: Backend, body: impl FnOnce() -> F) {
    let rt = util::rt(b);
    rt.block_on(async {
        timeout(LIMIT, body()).await.expect("timed out");
        net_util::until_nothing_in_flight(LIMIT).await;
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
}

/// Message sizes for the round trips: tiny, odd, around the default
/// capacities, and larger than both (but each fits the socket buffers one
/// way, so that writing it all before reading the echo cannot deadlock).
const SIZES: [usize; 7] = [1, 7, 4096, 16 * 1024, 16 * 1024 + 1, 64 * 1024 + 3, 100_000];

/// A checksum of a byte stream that does not depend on how it was cut into
/// chunks (FNV-1a over every byte, and the count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sum {
    h: u64,
    n: u64,
}

impl Default for Sum {
    fn default() -> Sum {
        Sum {
            h: 0xcbf2_9ce4_8422_2325,
            n: 0,
        }
    }
}

impl Sum {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.h = (self.h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.n += bytes.len() as u64;
    }
}

/// An echo server over the futures-io traits: the halves of `s` as two
/// adapters, `copy_buf` (AsyncBufRead) from one to the other, then close.
async fn futures_echo(s: TcpStream) -> u64 {
    let (r, w) = s.into_split();
    let (mut r, mut w) = (CopyIo::new(r), CopyIo::new(w));
    let n = futures_util::io::copy_buf(&mut r, &mut w).await.unwrap();
    futures_util::AsyncWriteExt::close(&mut w).await.unwrap();
    n
}

/// The same with tokio's traits, on any stream `S` the adapter takes.
async fn tokio_echo<S: ReadStream + WriteStream>(s: S) -> u64 {
    use tokio::io::AsyncWriteExt;
    let mut s = CopyIo::new(s);
    let mut n = 0;
    loop {
        let chunk = tokio::io::AsyncBufReadExt::fill_buf(&mut s).await.unwrap();
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        // The chunk borrows the adapter; copy it out to write it back.
        let owned = chunk.to_vec();
        tokio::io::AsyncBufReadExt::consume(&mut s, len);
        s.write_all(&owned).await.unwrap();
        n += len as u64;
    }
    s.shutdown().await.unwrap();
    n
}

each_backend!(futures_round_trip_tcp, |b: Backend| {
    use futures_util::{AsyncReadExt, AsyncWriteExt};
    run(b, || async {
        let (c, s) = tcp_pair().await;
        let server = ringloop::spawn(futures_echo(s));
        let mut c = CopyIo::new(c);
        let mut total = 0u64;
        for (i, &n) in SIZES.iter().enumerate() {
            let msg = block(1, i as u64, n);
            c.write_all(&msg).await.unwrap();
            c.flush().await.unwrap();
            let mut got = vec![0u8; n];
            c.read_exact(&mut got).await.unwrap();
            assert!(got == msg, "echo of {n} bytes differs");
            total += n as u64;
        }
        c.close().await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(
            c.read_to_end(&mut rest).await.unwrap(),
            0,
            "EOF after close"
        );
        assert_eq!(server.await.unwrap(), total);
    });
});

each_backend!(tokio_round_trip_unix, |b: Backend| {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(b, || async {
        let (c, s) = UnixStream::pair().unwrap();
        let server = ringloop::spawn(tokio_echo(s));
        let mut c = CopyIo::new(c);
        let mut total = 0u64;
        for (i, &n) in SIZES.iter().enumerate() {
            let msg = block(2, i as u64, n);
            c.write_all(&msg).await.unwrap();
            c.flush().await.unwrap();
            let mut got = vec![0u8; n];
            c.read_exact(&mut got).await.unwrap();
            assert!(got == msg, "echo of {n} bytes differs");
            total += n as u64;
        }
        c.shutdown().await.unwrap();
        assert_eq!(
            c.read(&mut [0u8; 8]).await.unwrap(),
            0,
            "EOF after shutdown"
        );
        assert_eq!(server.await.unwrap(), total);
    });
});

each_backend!(tokio_round_trip_tcp_halves, |b: Backend| {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(b, || async {
        let (c, s) = tcp_pair().await;
        let server = ringloop::spawn(tokio_echo(s));
        let (r, w) = c.into_split();
        let (mut r, mut w) = (CopyIo::new(r), CopyIo::new(w));
        w.write_all(b"through the halves").await.unwrap();
        w.shutdown().await.unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"through the halves");
        assert_eq!(server.await.unwrap(), 18);
        // The halves come back out and reunite.
        let c = r.into_inner().reunite(w.into_inner()).unwrap();
        assert!(c.local_addr().is_ok());
    });
});

/// Bytes each way in the large transfers.
const LARGE: usize = 16 << 20;

/// Writes `LARGE` bytes of stream `seed` in irregular chunks; returns their
/// checksum.
async fn write_blocks<W: futures_io::AsyncWrite + Unpin>(w: &mut W, seed: u64) -> Sum {
    use futures_util::AsyncWriteExt;
    let mut sum = Sum::default();
    let (mut sent, mut i) = (0, 0u64);
    while sent < LARGE {
        let n = [1, 100, 1500, 16 * 1024, 65_537, 200_000][i as usize % 6].min(LARGE - sent);
        let b = block(seed, i, n);
        w.write_all(&b).await.unwrap();
        sum.feed(&b);
        sent += n;
        i += 1;
    }
    w.close().await.unwrap();
    sum
}

/// Reads to end of stream with reads of varying sizes; returns the checksum.
async fn read_sum<R: futures_io::AsyncRead + Unpin>(r: &mut R) -> Sum {
    use futures_util::AsyncReadExt;
    let mut sum = Sum::default();
    let mut buf = vec![0u8; 100_000];
    let mut i = 0;
    loop {
        let want = [1, 3, 4096, 100_000, 777][i % 5];
        i += 1;
        let n = r.read(&mut buf[..want]).await.unwrap();
        if n == 0 {
            return sum;
        }
        sum.feed(&buf[..n]);
    }
}

each_backend!(futures_large_transfer_through_echo, |b: Backend| {
    run(b, || async {
        let (c, s) = tcp_pair().await;
        let server = ringloop::spawn(futures_echo(s));
        let (r, w) = c.into_split();
        // A small read capacity: many receives, many leftovers.
        let mut r = CopyIo::with_capacity(r, 3000, 1);
        let mut w = CopyIo::with_capacity(w, 1, 50_000);
        let writer = ringloop::spawn(async move { write_blocks(&mut w, 3).await });
        let got = read_sum(&mut r).await;
        let sent = writer.await.unwrap();
        assert_eq!(got, sent, "echoed bytes differ");
        assert_eq!(server.await.unwrap(), LARGE as u64);
    });
});

each_backend!(tokio_large_transfer_unix, |b: Backend| {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(b, || async {
        let (a, bb) = UnixStream::pair().unwrap();
        let (mut a, mut bb) = (CopyIo::new(a), CopyIo::new(bb));
        let writer = ringloop::spawn(async move {
            let mut sum = Sum::default();
            let (mut sent, mut i) = (0, 0u64);
            while sent < LARGE {
                let n = (1 + (i as usize * 7919) % 150_000).min(LARGE - sent);
                let blk = block(4, i, n);
                a.write_all(&blk).await.unwrap();
                sum.feed(&blk);
                sent += n;
                i += 1;
            }
            a.shutdown().await.unwrap();
            sum
        });
        let mut got = Sum::default();
        let mut buf = vec![0u8; 70_000];
        loop {
            let n = bb.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.feed(&buf[..n]);
        }
        assert_eq!(got, writer.await.unwrap());
    });
});

each_backend!(partial_reads_keep_leftovers, |b: Backend| {
    use futures_util::{AsyncBufReadExt, AsyncReadExt};
    run(b, || async {
        let (c, s) = tcp_pair().await;
        s.write_all(b"0123456789".as_slice()).await.0.unwrap();
        let mut c = CopyIo::with_capacity(c, 8, 8);
        let mut three = [0u8; 3];
        // One receive takes at most 8 bytes (the read capacity); the rest
        // of it stays buffered for the next reads.
        let n = c.read(&mut three).await.unwrap();
        assert_eq!(&three[..n], b"012");
        assert!(c.buffered().len() <= 5, "{:?}", c.buffered());
        let mut got = three[..n].to_vec();
        while got.len() < 10 {
            let n = c.read(&mut three).await.unwrap();
            assert!(n > 0 && n <= 3);
            got.extend_from_slice(&three[..n]);
        }
        assert_eq!(got, b"0123456789");
        assert!(c.buffered().is_empty());
        // AsyncBufRead lends the buffer; consume takes part of it.
        s.write_all(b"abcdef".as_slice()).await.0.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 6 {
            let chunk = c.fill_buf().await.unwrap();
            assert!(!chunk.is_empty());
            seen.push(chunk[0]);
            c.consume_unpin(1);
        }
        assert_eq!(seen, b"abcdef");
        // A zero-length read returns 0 at once, without a receive.
        assert_eq!(c.read(&mut []).await.unwrap(), 0);
    });
});

each_backend!(eof_repeats_and_read_to_end, |b: Backend| {
    use tokio::io::AsyncReadExt;
    run(b, || async {
        let (c, s) = tcp_pair().await;
        s.write_all(b"last words".as_slice()).await.0.unwrap();
        s.shutdown(std::net::Shutdown::Write).await.unwrap();
        let mut c = CopyIo::new(c);
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        for _ in 0..3 {
            assert_eq!(c.read(&mut [0u8; 16]).await.unwrap(), 0);
        }
    });
});

each_backend!(shutdown_is_seen_by_the_peer, |b: Backend| {
    use futures_util::{AsyncReadExt, AsyncWriteExt};
    run(b, || async {
        let (c, s) = tcp_pair().await;
        let mut c = CopyIo::new(c);
        c.write_all(b"bye").await.unwrap();
        // close: flush, then shutdown(Write), without a flush before.
        c.close().await.unwrap();
        c.close().await.unwrap();
        let (r, got) = s.read_exact(vec![0u8; 3]).await;
        r.unwrap();
        assert_eq!(got, b"bye");
        let (r, _) = s.read(Vec::with_capacity(8)).await;
        assert_eq!(r.unwrap(), 0, "the peer reads end of stream");
        // A half-close: the reply still arrives.
        s.write_all(b"reply".as_slice()).await.0.unwrap();
        drop(s);
        let mut reply = Vec::new();
        c.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"reply");
        // Writing after the shutdown is an error (EPIPE), at once or on the
        // next call.
        let first = c.write(b"late").await;
        let err = match first {
            Err(e) => e,
            Ok(_) => c.flush().await.unwrap_err(),
        };
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    });
});

each_backend!(tokio_shutdown_is_seen_by_the_peer_unix, |b: Backend| {
    use tokio::io::AsyncWriteExt;
    run(b, || async {
        let (c, s) = UnixStream::pair().unwrap();
        let (_r, w) = c.into_split();
        let mut w = CopyIo::new(w);
        w.write_all(b"half").await.unwrap();
        w.shutdown().await.unwrap();
        let (r, got) = s.read_exact(vec![0u8; 4]).await;
        r.unwrap();
        assert_eq!(got, b"half");
        assert_eq!(s.read(Vec::with_capacity(8)).await.0.unwrap(), 0);
    });
});

each_backend!(peer_reset_is_an_error, |b: Backend| {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(b, || async {
        let (c, s) = tcp_pair().await;
        let mut c = CopyIo::new(c);
        // A read in flight when the reset comes.
        let mut buf = [0u8; 16];
        let mut read = Box::pin(c.read(&mut buf));
        assert!(!net_util::poll_once(&mut read).await);
        s.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(s);
        let err = read.await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        // Writes fail too: the copy is accepted, the send's error comes on
        // this call or the next (bounded: the first failure ends the loop).
        let mut err = None;
        for _ in 0..100 {
            match c.write(b"into the void").await.and(c.flush().await) {
                Ok(()) => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let err = err.expect("a write to a reset connection fails");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{err}"
        );
        // Shutting down what the peer reset is not an error (ENOTCONN).
        c.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    });
});

each_backend!(write_is_pending_while_a_send_is_in_flight, |b: Backend| {
    use futures_io::AsyncWrite;
    run(b, || async {
        let (c, s) = tcp_pair().await;
        let mut c = CopyIo::new(c);
        // Nobody reads `s`: the socket buffers fill, a send stays in flight,
        // and the next poll_write is Pending (bounded: 256 MiB).
        let mut sum = Sum::default();
        let (mut sent, mut i) = (0usize, 0u64);
        loop {
            assert!(sent < 256 << 20, "poll_write never returned Pending");
            let blk = block(5, i, 64 * 1024);
            let r = poll_fn(|cx| Poll::Ready(Pin::new(&mut c).poll_write(cx, &blk))).await;
            match r {
                Poll::Ready(n) => {
                    let n = n.unwrap();
                    sum.feed(&blk[..n]);
                    sent += n;
                    i += 1;
                    // Let the loop run the send (io_uring submits it now).
                    ringloop::yield_now().await;
                }
                Poll::Pending => break,
            }
        }
        let flush = poll_fn(|cx| Poll::Ready(Pin::new(&mut c).poll_flush(cx))).await;
        assert!(flush.is_pending(), "the send is still in flight");
        let reader = ringloop::spawn(async move {
            let mut got = Sum::default();
            loop {
                let (r, buf) = s.read(Vec::with_capacity(256 * 1024)).await;
                if r.unwrap() == 0 {
                    return got;
                }
                got.feed(&buf);
            }
        });
        futures_util::AsyncWriteExt::close(&mut c).await.unwrap();
        assert_eq!(reader.await.unwrap(), sum, "every accepted byte arrives");
    });
});

each_backend!(vectored_write_is_one_copy, |b: Backend| {
    use tokio::io::AsyncWriteExt;
    run(b, || async {
        let (c, s) = tcp_pair().await;
        let mut c = CopyIo::new(c);
        assert!(tokio::io::AsyncWrite::is_write_vectored(&c));
        let parts = [
            IoSlice::new(b"one "),
            IoSlice::new(b""),
            IoSlice::new(b"two "),
            IoSlice::new(b"three"),
        ];
        let n = c.write_vectored(&parts).await.unwrap();
        assert_eq!(n, 13, "all slices fit the write capacity");
        c.flush().await.unwrap();
        let (r, got) = s.read_exact(vec![0u8; 13]).await;
        r.unwrap();
        assert_eq!(got, b"one two three");
        // A capacity smaller than the slices: the write takes what fits.
        let (c2, s2) = tcp_pair().await;
        let mut c2 = CopyIo::with_capacity(c2, 16, 6);
        assert_eq!(c2.write_vectored(&parts).await.unwrap(), 6);
        c2.flush().await.unwrap();
        let (r, got) = s2.read_exact(vec![0u8; 6]).await;
        r.unwrap();
        assert_eq!(got, b"one tw");
        assert_eq!(c2.write(b"").await.unwrap(), 0);
    });
});

each_backend!(tokio_util_codecs, |b: Backend| {
    use tokio_util::codec::{Framed, LengthDelimitedCodec, LinesCodec};
    run(b, || async {
        let (c, s) = tcp_pair().await;
        // Lines one way, answered with their lengths as frames, checked.
        let server = ringloop::spawn(async move {
            let mut lines = Framed::new(CopyIo::new(s), LinesCodec::new());
            let mut n = 0;
            while let Some(line) = lines.next().await {
                let line = line.unwrap();
                lines.send(format!("{}:{}", line.len(), n)).await.unwrap();
                n += 1;
            }
            n
        });
        let mut lines = Framed::new(CopyIo::new(c), LinesCodec::new());
        for i in 0..500usize {
            // Some lines are longer than the read capacity.
            let line = "x".repeat(i * 97 % 40_000);
            lines.send(line.clone()).await.unwrap();
            let reply = lines.next().await.unwrap().unwrap();
            assert_eq!(reply, format!("{}:{i}", line.len()));
        }
        let mut io = lines.into_inner();
        tokio::io::AsyncWriteExt::shutdown(&mut io).await.unwrap();
        assert_eq!(server.await.unwrap(), 500);

        // Length-delimited frames on a Unix pair, large ones included.
        let (a, bb) = UnixStream::pair().unwrap();
        let mut tx = Framed::new(CopyIo::new(a), LengthDelimitedCodec::new());
        let mut rx = Framed::new(CopyIo::new(bb), LengthDelimitedCodec::new());
        let sender = ringloop::spawn(async move {
            for i in 0..40u64 {
                let frame = block(6, i, (i as usize * 31_337) % 500_000);
                tx.send(bytes::Bytes::from(frame)).await.unwrap();
            }
            tokio::io::AsyncWriteExt::shutdown(tx.get_mut())
                .await
                .unwrap();
        });
        let mut i = 0u64;
        while let Some(frame) = rx.next().await {
            let frame = frame.unwrap();
            assert!(frame[..] == block(6, i, (i as usize * 31_337) % 500_000)[..]);
            i += 1;
        }
        assert_eq!(i, 40);
        sender.await.unwrap();
    });
});
