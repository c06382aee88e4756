//! TCP on both backends: echo, many connections, bulk transfer both ways,
//! half-close, resets, refused connects, IPv6, vectored writes.
mod net_util;
mod util;

use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use futures_core::Stream;
use net_util::{block, Sum};
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// Echoes everything until end of stream.
async fn echo(s: TcpStream) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let (r, b) = s.read(buf).await;
        match r {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (r, b) = s.write_all(b).await;
        if r.is_err() {
            return;
        }
        buf = b;
    }
}

/// A TCP socket bound to a free loopback port, not listening.
fn bound_not_listening() -> (std::os::fd::OwnedFd, SocketAddr) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscalls on a socket this function owns; `sin` and
    // `len` are valid for the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), len),
            0
        );
        let mut len = len;
        assert_eq!(
            libc::getsockname(fd, (&mut sin as *mut libc::sockaddr_in).cast(), &mut len),
            0
        );
        (
            owned,
            SocketAddr::from(([127, 0, 0, 1], u16::from_be(sin.sin_port))),
        )
    }
}

/// The next item of a stream.
async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
}

each_backend!(echo_one_connection, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST);
        let server = ringloop::spawn(async move {
            let (s, peer) = l.accept().await.unwrap();
            assert_eq!(s.peer_addr().unwrap(), peer);
            echo(s).await;
        });
        let c = TcpStream::connect(addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        assert_eq!(c.peer_addr().unwrap(), addr);
        for i in 0..10u8 {
            let msg = vec![i; 100 + i as usize];
            let (r, _) = c.write_all(msg.clone()).await;
            r.unwrap();
            let (r, got) = c.read_exact(vec![0u8; msg.len()]).await;
            r.unwrap();
            assert_eq!(got, msg);
        }
        drop(c);
        server.await.unwrap();
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(thousand_connections_hundred_messages, |b: Backend| {
    let limit = util::raise_nofile();
    assert!(
        limit >= 2100,
        "need ~2100 fds for 1000 connections, have {limit}"
    );
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        const CONNS: usize = 1000;
        const MSGS: usize = 100;
        let l = TcpListener::builder(LOCAL)
            .backlog(CONNS as u32)
            .bind()
            .unwrap();
        let addr = l.local_addr().unwrap();
        let server = ringloop::spawn(async move {
            let mut inc = l.incoming();
            for _ in 0..CONNS {
                let s = next(&mut inc).await.unwrap().unwrap();
                ringloop::spawn(echo(s));
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                ringloop::spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    let mut back = vec![0u8; 32];
                    for m in 0..MSGS {
                        let msg = format!("{c:05}-{m:05}-padding-to-32-bytes!").into_bytes();
                        assert_eq!(msg.len(), 32);
                        let (r, sent) = s.write_all(msg).await;
                        r.unwrap();
                        let (r, got) = s.read_exact(back).await;
                        r.unwrap();
                        assert_eq!(got, sent);
                        back = got;
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(sixty_four_mib_each_way_at_once, |b: Backend| {
    const TOTAL: usize = 64 << 20;
    const CHUNK: usize = 1 << 20;
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        // Each side sends TOTAL bytes of its own pattern while receiving the
        // other's, then checks the received checksum.
        async fn both_ways(s: TcpStream, my_seed: u64, peer_seed: u64) {
            let (r, w) = s.into_split();
            let writer = ringloop::spawn(async move {
                let mut sum = Sum::default();
                for i in 0..(TOTAL / CHUNK) as u64 {
                    let data = block(my_seed, i, CHUNK);
                    sum.feed(&data);
                    let (res, _) = w.write_all(data).await;
                    res.unwrap();
                }
                w.shutdown().await.unwrap();
                sum
            });
            let mut got = Sum::default();
            let mut expect = Sum::default();
            let mut buf = vec![0u8; CHUNK];
            for i in 0..(TOTAL / CHUNK) as u64 {
                let (res, b) = r.read_exact(buf).await;
                res.unwrap();
                got.feed(&b);
                expect.feed(&block(peer_seed, i, CHUNK));
                buf = b;
            }
            let (res, b) = r.read(buf).await;
            assert_eq!(res.unwrap(), 0, "end of stream after {TOTAL} bytes");
            drop(b);
            assert_eq!(got, expect);
            writer.await.unwrap();
        }
        let server = ringloop::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            both_ways(s, 1, 2).await;
        });
        let c = TcpStream::connect(addr).await.unwrap();
        both_ways(c, 2, 1).await;
        server.await.unwrap();
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(half_close, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        let server = ringloop::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut total = 0;
            loop {
                let (r, _) = s.read(Vec::with_capacity(1024)).await;
                match r.unwrap() {
                    0 => break,
                    n => total += n,
                }
            }
            let reply = format!("got {total}").into_bytes();
            s.write_all(reply).await.0.unwrap();
        });
        let c = TcpStream::connect(addr).await.unwrap();
        c.write_all(vec![7u8; 5000]).await.0.unwrap();
        c.shutdown(Shutdown::Write).await.unwrap();
        let mut reply = Vec::new();
        loop {
            let (r, b) = c.read(Vec::with_capacity(64)).await;
            if r.unwrap() == 0 {
                break;
            }
            reply.extend_from_slice(&b);
        }
        assert_eq!(reply, b"got 5000");
        server.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(peer_reset_mid_transfer, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        let server = ringloop::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (r, _) = s.read_exact(vec![0u8; 256 << 10]).await;
            r.unwrap();
            s.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s); // abort: RST to the peer
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let (r, w) = c.into_split();
        let writer = ringloop::spawn(async move {
            let chunk = Rc::new(vec![1u8; 64 << 10]);
            loop {
                let (res, _) = w.write_all(chunk.as_ref().clone()).await;
                if let Err(e) = res {
                    return e;
                }
            }
        });
        let read_res = loop {
            let (res, _) = r.read(Vec::with_capacity(4096)).await;
            match res {
                Ok(0) => break None,
                Ok(_) => continue,
                Err(e) => break Some(e),
            }
        };
        let write_err = writer.await.unwrap();
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
        assert!(
            matches!(write_err.kind(), ConnectionReset | BrokenPipe),
            "write error: {write_err}"
        );
        assert!(
            write_err.to_string().contains("tcp send"),
            "context: {write_err}"
        );
        let saw_reset = write_err.kind() == ConnectionReset
            || read_res
                .as_ref()
                .is_some_and(|e| e.kind() == ConnectionReset);
        assert!(saw_reset, "write: {write_err}, read: {read_res:?}");
        server.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(broken_pipe_is_an_error_not_a_signal, |b: Backend| {
    // With SIGPIPE's default action a send without MSG_NOSIGNAL would kill
    // this process; every ringloop send must use MSG_NOSIGNAL.
    // SAFETY: setting a signal disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        drop(s);
        let err = loop {
            let (r, _) = c.write(vec![0u8; 1 << 16]).await;
            if let Err(e) = r {
                break e;
            }
        };
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
        assert!(matches!(err.kind(), BrokenPipe | ConnectionReset), "{err}");
        // A later write is EPIPE.
        let (r, _) = c.write(b"x".as_slice()).await;
        let e = r.unwrap_err();
        assert_eq!(ringloop::net::os_error(&e), Some(libc::EPIPE), "{e}");
    }))
    .expect("timed out");
});

each_backend!(connection_refused_has_context, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        // A bound socket that does not listen: connects to its port are
        // refused, and the port cannot be picked as the client's own
        // ephemeral port (which would make a TCP self-connect).
        let (_hold, addr) = bound_not_listening();
        let e = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        assert_eq!(ringloop::net::os_error(&e), Some(libc::ECONNREFUSED));
        assert!(e.to_string().contains(&addr.to_string()), "context: {e}");
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(ipv6_loopback, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = match TcpListener::bind(SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 0))) {
            Ok(l) => l,
            Err(e) => {
                util::skip(
                    "RINGLOOP_REQUIRE_IPV6",
                    &format!("no IPv6 loopback on this machine ({e})"),
                );
                return;
            }
        };
        let addr = l.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let server = ringloop::spawn(async move {
            let (s, peer) = l.accept().await.unwrap();
            assert!(peer.is_ipv6());
            echo(s).await;
        });
        let c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"over v6".as_slice()).await.0.unwrap();
        let (r, got) = c.read_exact(vec![0u8; 7]).await;
        r.unwrap();
        assert_eq!(got, b"over v6");
        drop(c);
        server.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(vectored_write_and_reuse_port, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::builder(LOCAL).reuse_port(true).bind().unwrap();
        let addr = l.local_addr().unwrap();
        // A second listener on the same port is allowed with SO_REUSEPORT.
        let l2 = TcpListener::builder(addr).reuse_port(true).bind().unwrap();
        // Closed for sure before the connect (a dropped fd closes at the
        // loop's next turn; a SYN routed to it meanwhile would be reset).
        l2.close().await.unwrap();
        let server = ringloop::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            echo(s).await;
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let bufs = vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()];
        let (r, bufs) = c.writev(bufs).await;
        assert_eq!(r.unwrap(), 13);
        assert_eq!(bufs.len(), 3);
        let (r, got) = c.read_exact(vec![0u8; 13]).await;
        r.unwrap();
        assert_eq!(got, b"one two three");
        // The halves put back together are the same stream.
        let (rh, wh) = c.into_split();
        let c = rh.reunite(wh).unwrap();
        c.shutdown(Shutdown::Write).await.unwrap();
        server.await.unwrap();
    }))
    .expect("timed out");
});
