//! Cancel scopes (`CancelToken::run`, issue #15 item 5): any operation a
//! future started is cancelled in place and hands its buffers back, on
//! both backends — reads, writes, accepts, datagrams, multishot streams;
//! operations started after the cancel; nested scopes; tasks spawned inside
//! a scope; nothing left in flight and no byte lost.
mod net_util;
mod util;

use std::os::fd::AsRawFd;
use std::time::Duration;

use futures_util::StreamExt;
use ringloop::buf::IoBuf;
use ringloop::io::{is_cancelled, AsyncRead, AsyncWrite, CancelToken};
use ringloop::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Bound for what must happen at once: a cancel that is not acted on fails
/// in seconds, not at the suite's limit.
const SHORT: Duration = Duration::from_secs(10);

/// Cancels `token` from another task, once the current one has waited.
fn cancel_soon(token: &CancelToken) {
    let t = token.clone();
    ringloop::spawn(async move {
        // Let the scoped operation start and wait first.
        for _ in 0..3 {
            ringloop::yield_now().await;
        }
        t.cancel();
    });
}

each_backend!(a_cancelled_read_hands_its_buffer_back, |b: Backend| {
    util::rt(b)
        .block_on(timeout(SHORT, async {
            let (a, z) = UnixStream::pair().unwrap();
            let token = CancelToken::new();
            cancel_soon(&token);
            let mut buf = Vec::with_capacity(32);
            buf.extend_from_slice(b"kept");
            let (r, buf) = token.run(z.read(buf.slice(4..))).await;
            let e = r.unwrap_err();
            assert!(is_cancelled(&e), "{e:?}");
            let buf = buf.into_inner();
            assert_eq!((&buf[..], buf.capacity() >= 32), (&b"kept"[..], true));
            // Started under a cancelled scope: done at once, unstarted.
            let before = ringloop::Handle::current().metrics().ops_submitted;
            let (r, buf) = token.run(z.read(buf)).await;
            assert!(is_cancelled(&r.unwrap_err()));
            assert_eq!(ringloop::Handle::current().metrics().ops_submitted, before);
            // Nothing was consumed: what is sent now is read in full.
            a.write_all(&b"after"[..]).await.0.unwrap();
            let (r, buf) = z.read(buf.slice(4..)).await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(&buf.into_inner()[..], b"keptafter");
            net_util::until_nothing_in_flight(SHORT).await;
        }))
        .expect("the cancel was not acted on");
});

each_backend!(accept_and_connected_reads_are_cancelled, |b: Backend| {
    util::rt(b)
        .block_on(timeout(SHORT, async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let token = CancelToken::new();
            cancel_soon(&token);
            let e = token.run(l.accept()).await.expect_err("cancelled");
            assert!(is_cancelled(&e), "{e:?}");
            // The listener still accepts, and no connection was lost.
            let c = TcpStream::connect(addr).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            // A TCP read with the scope around a larger piece of code.
            let token = CancelToken::new();
            cancel_soon(&token);
            let got = token
                .run(async {
                    let (r, buf) = s.read(vec![0u8; 64]).await;
                    (r, buf.len())
                })
                .await;
            assert!(is_cancelled(&got.0.unwrap_err()));
            assert_eq!(got.1, 64, "the buffer came back whole");
            c.write_all(&b"ping"[..]).await.0.unwrap();
            let (r, buf) = s.read_exact(vec![0u8; 4]).await;
            r.unwrap();
            assert_eq!(buf, b"ping");
            net_util::until_nothing_in_flight(SHORT).await;
        }))
        .expect("the cancel was not acted on");
});

/// Writes to `fd` without blocking until its send buffer is full; returns
/// how many bytes it took.
fn fill(fd: std::os::fd::RawFd) -> usize {
    let chunk = [0x11u8; 4096];
    let mut total = 0;
    loop {
        // SAFETY: `chunk` is valid for reads of its length.
        let r = unsafe { libc::send(fd, chunk.as_ptr().cast(), chunk.len(), libc::MSG_DONTWAIT) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
            return total;
        }
        total += r as usize;
    }
}

each_backend!(a_blocked_write_all_stops_with_its_buffer, |b: Backend| {
    util::rt(b)
        .block_on(timeout(SHORT, async {
            let (a, z) = UnixStream::pair().unwrap();
            let token = CancelToken::new();
            cancel_soon(&token);
            // The socket is full first, so the write waits in flight.
            let filled = fill(a.as_raw_fd());
            let big = vec![0xabu8; 1 << 20];
            let (r, big) = token.run(a.write_all(big)).await;
            assert!(is_cancelled(&r.unwrap_err()));
            assert_eq!(
                (big.len(), big[0], big[big.len() - 1]),
                (1 << 20, 0xab, 0xab)
            );
            // The stream still works: the peer reads what was written, and
            // then what comes next.
            drop(token);
            let reader = ringloop::spawn(async move {
                let mut n = 0usize;
                let mut buf = Vec::with_capacity(1 << 16);
                loop {
                    let (r, b) = z.read(buf).await;
                    buf = b;
                    match r.unwrap() {
                        0 => return n,
                        k => n += k,
                    }
                    buf.clear();
                }
            });
            a.write_all(&b"tail"[..]).await.0.unwrap();
            drop(a);
            let n = reader.await.unwrap();
            assert!(
                n >= filled + 4 && n <= filled + (1 << 20) + 4,
                "{n} of {filled}"
            );
            net_util::until_nothing_in_flight(SHORT).await;
        }))
        .expect("the cancel was not acted on");
});

each_backend!(datagrams_and_streams_of_completions, |b: Backend| {
    util::rt(b)
        .block_on(timeout(SHORT, async {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            let token = CancelToken::new();
            cancel_soon(&token);
            let (r, buf) = token.run(u.recv_from(vec![0u8; 16])).await;
            assert!(is_cancelled(&r.unwrap_err()));
            assert_eq!(buf.len(), 16);
            // A multishot accept stream yields the cancel as an error
            // item (an `Incoming` never ends: it would start again, and
            // under the cancelled scope fail again at once).
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let token = CancelToken::new();
            cancel_soon(&token);
            let e = token
                .run(async { l.incoming().next().await })
                .await
                .expect("an item")
                .expect_err("nobody connects");
            assert!(is_cancelled(&e), "{e:?}");
            // Polled again under the cancelled scope, the stream goes on
            // yielding the cancel (and yields to other tasks meanwhile).
            let mut incoming = l.incoming();
            for _ in 0..1000 {
                let e = token.run(incoming.next()).await.unwrap().err().unwrap();
                assert!(is_cancelled(&e), "{e:?}");
            }
            drop(incoming);
            // The listener still accepts.
            let _c = TcpStream::connect(addr).await.unwrap();
            l.accept().await.unwrap();
            net_util::until_nothing_in_flight(SHORT).await;
        }))
        .expect("the cancel was not acted on");
});

each_backend!(scopes_nest_and_spawned_tasks_are_outside, |b: Backend| {
    util::rt(b)
        .block_on(timeout(SHORT, async {
            let (a, z) = UnixStream::pair().unwrap();
            let (a2, z2) = UnixStream::pair().unwrap();
            let outer = CancelToken::new();
            let inner = CancelToken::new();
            // The inner token cancels only what runs under it.
            cancel_soon(&inner);
            let (r_in, r_out) = outer
                .run(async {
                    let r_in = inner.run(z.read(vec![0u8; 8])).await.0;
                    // Outside the inner scope, under the outer one: data
                    // arrives and the read completes.
                    a2.write_all(&b"out"[..]).await.0.unwrap();
                    let r_out = z2.read(vec![0u8; 8]).await.0;
                    (r_in, r_out)
                })
                .await;
            assert!(is_cancelled(&r_in.unwrap_err()));
            assert_eq!(r_out.unwrap(), 3);
            // The outer token cancels an operation under both.
            let outer = CancelToken::new();
            let inner = CancelToken::new();
            cancel_soon(&outer);
            let r = outer.run(inner.run(z.read(vec![0u8; 8]))).await.0;
            assert!(is_cancelled(&r.unwrap_err()));
            assert!(!inner.is_cancelled());
            // A task spawned inside a scope is not in it.
            let token = CancelToken::new();
            let task = token
                .run(async {
                    Some(ringloop::spawn(
                        async move { z2.read(vec![0u8; 8]).await.0 },
                    ))
                })
                .await
                .expect("spawned");
            token.cancel();
            for _ in 0..3 {
                ringloop::yield_now().await;
            }
            a2.write_all(&b"spawned"[..]).await.0.unwrap();
            assert_eq!(task.await.unwrap().unwrap(), 7);
            drop(a);
            net_util::until_nothing_in_flight(SHORT).await;
        }))
        .expect("the cancel was not acted on");
});

each_backend!(no_byte_lost_across_many_cancelled_scopes, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            const N: usize = 300;
            let writer = ringloop::spawn(async move {
                for i in 0..N {
                    // Some turns without a byte: a read waiting then is
                    // cancelled (one that finds a byte returns it).
                    for _ in 0..i % 4 {
                        ringloop::yield_now().await;
                    }
                    c.write_all(vec![(i % 251) as u8]).await.0.unwrap();
                }
                c
            });
            let (mut got, mut cancelled) = (Vec::new(), 0);
            let mut buf = Vec::with_capacity(8);
            while got.len() < N {
                let token = CancelToken::new();
                let t = token.clone();
                // Cancelled on the next turn: races the writer's bytes.
                ringloop::spawn(async move { t.cancel() });
                buf.clear();
                let (r, b) = token.run(s.read(buf)).await;
                buf = b;
                match r {
                    Ok(n) => {
                        assert!(n > 0, "end of stream before {N} bytes");
                        got.extend_from_slice(&buf[..n]);
                    }
                    Err(e) => {
                        assert!(is_cancelled(&e), "{e:?}");
                        cancelled += 1;
                    }
                }
            }
            let want: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
            assert_eq!(got, want, "bytes lost or reordered");
            assert!(cancelled > 0, "no read was ever cancelled");
            drop(writer.await.unwrap());
            net_util::until_nothing_in_flight(SHORT).await;
        }))
        .expect("timed out");
});
