//! Name resolution on both backends: `lookup_host`, and `connect`, `bind`,
//! `bind_host` and `send_to` by name (`localhost`, which `/etc/hosts`
//! maps), several addresses tried in turn, unknown hosts and bad input as
//! errors naming them. That a lookup blocked on the pool does not stall
//! the loop is tested in `net/src/lookup.rs` (it needs a resolver that can
//! be held).
mod util;

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{lookup_host, TcpListener, TcpStream, UdpSocket};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// A TCP socket bound to a free loopback port, not listening: connects to
/// it are refused.
fn refusing() -> (std::os::fd::OwnedFd, SocketAddr) {
    // A std listener closed right away would free the port for anyone; a
    // socket that is bound but never listens keeps it, and refuses.
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: plain syscalls on a socket this function owns; `sin` and
    // `len` are valid for the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let owned = OwnedFd::from_raw_fd(fd);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let p = (&mut sin as *mut libc::sockaddr_in).cast();
        assert_eq!(libc::bind(fd, p, len), 0);
        assert_eq!(libc::getsockname(fd, p, &mut len), 0);
        let addr = SocketAddr::from(([127, 0, 0, 1], u16::from_be(sin.sin_port)));
        (owned, addr)
    }
}

/// The number of jobs the blocking pool has run for this runtime.
fn pool_jobs() -> u64 {
    ringloop::Handle::current()
        .metrics()
        .blocking
        .jobs_completed
}

each_backend!(localhost_is_loopback, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let addrs: Vec<_> = lookup_host("localhost:4321").await.unwrap().collect();
        assert!(!addrs.is_empty());
        for a in &addrs {
            assert!(a.ip().is_loopback(), "{a}");
            assert_eq!(a.port(), 4321);
        }
        let again: Vec<_> = lookup_host(("localhost", 4321)).await.unwrap().collect();
        assert_eq!(again, addrs);
        let owned: Vec<_> = lookup_host(String::from("localhost:4321"))
            .await
            .unwrap()
            .collect();
        assert_eq!(owned, addrs);
        assert!(pool_jobs() >= 3, "names are resolved on the pool");
    }))
    .expect("timed out");
});

each_backend!(literals_never_reach_the_pool, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        let got: Vec<_> = lookup_host("[::1]:80").await.unwrap().collect();
        assert_eq!(got, [v6]);
        let got: Vec<_> = lookup_host(("::1", 80)).await.unwrap().collect();
        assert_eq!(got, [v6]);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr.to_string()).await.unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        let c = TcpStream::connect(("127.0.0.1", addr.port()))
            .await
            .unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.connect(&addr.to_string()).await.unwrap();
        let m = ringloop::Handle::current().metrics();
        assert_eq!(
            (m.blocking.threads_started, m.blocking.jobs_completed),
            (0, 0)
        );
    }))
    .expect("timed out");
});

each_backend!(connect_by_name, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let server = ringloop::spawn(async move {
            for _ in 0..3 {
                let (s, _) = l.accept().await.unwrap();
                let (r, buf) = s.read_exact(vec![0u8; 2]).await;
                r.unwrap();
                s.write_all(buf).await.0.unwrap();
            }
        });
        let name = format!("localhost:{port}");
        let by_str = TcpStream::connect(name.as_str());
        let by_string = TcpStream::connect(format!("localhost:{port}"));
        let by_pair = TcpStream::connect(("localhost", port));
        for c in [by_str.await, by_string.await, by_pair.await] {
            let c = c.unwrap();
            assert!(c.peer_addr().unwrap().ip().is_loopback());
            c.write_all(b"hi".as_slice()).await.0.unwrap();
            let (r, buf) = c.read_exact(vec![0u8; 2]).await;
            r.unwrap();
            assert_eq!(buf, b"hi");
        }
        server.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(every_address_is_tried_in_turn, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (_hold1, refused1) = refusing();
        let (_hold2, refused2) = refusing();
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let good = l.local_addr().unwrap();
        let c = TcpStream::connect(&[refused1, good][..]).await.unwrap();
        assert_eq!(c.peer_addr().unwrap(), good);
        let c = TcpStream::connect(vec![refused1, refused2, good])
            .await
            .unwrap();
        assert_eq!(c.peer_addr().unwrap(), good);
        // All refused: the last attempt's error, errno kept.
        let e = TcpStream::connect(&[refused1, refused2][..])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        assert_eq!(ringloop::net::os_error(&e), Some(libc::ECONNREFUSED));
        assert!(e.to_string().contains(&refused2.to_string()), "{e}");
        // Nothing to try.
        let e = TcpStream::connect(&[] as &[SocketAddr]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        // The listener binds the first address that works: the one taken
        // by a listener already fails, the next is free.
        let taken = l.local_addr().unwrap();
        let free = SocketAddr::from(([127, 0, 0, 1], 0));
        let l2 = TcpListener::builder(vec![taken, free])
            .reuse_addr(false)
            .bind()
            .unwrap();
        assert_ne!(l2.local_addr().unwrap(), taken);
        drop(l);
    }))
    .expect("timed out");
});

each_backend!(
    connect_by_name_falls_through_refused_addresses,
    |b: Backend| {
        let rt = util::rt(b);
        rt.block_on(timeout(LIMIT, async {
            // Every address `localhost` has is tried: connecting to a port that
            // only refuses reports the last of them, named with the host.
            let (_hold, refused) = refusing();
            let e = TcpStream::connect(("localhost", refused.port()))
                .await
                .unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("localhost:{}", refused.port())),
                "{msg}"
            );
            assert!(ringloop::net::os_error(&e).is_some(), "errno kept: {msg}");
        }))
        .expect("timed out");
    }
);

each_backend!(unknown_host_errors_with_its_name, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        // `.invalid` is reserved (RFC 2606): no resolver knows it.
        let host = "no-such-host.invalid";
        let e = lookup_host((host, 80)).await.unwrap_err();
        assert!(e.to_string().contains(host), "{e}");
        let e = TcpStream::connect(format!("{host}:80")).await.unwrap_err();
        assert!(e.to_string().contains(host), "{e}");
        assert!(e.to_string().contains("tcp connect"), "{e}");
        let e = TcpListener::bind_host((host, 0)).await.unwrap_err();
        assert!(e.to_string().contains(host), "{e}");
        let u = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
        let (r, buf) = u.send_to(b"x".as_slice(), (host, 9)).await;
        let e = r.unwrap_err();
        assert!(e.to_string().contains(host), "{e}");
        assert_eq!(buf, b"x", "the buffer comes back");
    }))
    .expect("timed out");
});

each_backend!(
    bad_input_and_sync_bind_of_a_name_are_errors,
    |b: Backend| {
        let rt = util::rt(b);
        rt.block_on(timeout(LIMIT, async {
            for e in [
                TcpListener::bind("localhost:0").unwrap_err(),
                UdpSocket::bind("localhost:0").unwrap_err(),
            ] {
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
                let msg = e.to_string();
                assert!(
                    msg.contains("localhost:0") && msg.contains("bind_host"),
                    "{msg}"
                );
            }
            for bad in ["localhost", "127.0.0.1:99999", "host:port", ":80", ""] {
                let e = lookup_host(bad).await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
                let e = TcpStream::connect(bad).await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
                let e = TcpListener::bind(bad).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
            }
            assert_eq!(pool_jobs(), 0, "bad input is refused on the loop");
        }))
        .expect("timed out");
    }
);

each_backend!(bind_host_and_udp_by_name, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind_host("localhost:0").await.unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());
        let l2 = TcpListener::builder("localhost:0")
            .backlog(8)
            .bind_host()
            .await
            .unwrap();
        assert!(l2.local_addr().unwrap().ip().is_loopback());

        let a = UdpSocket::bind_host("localhost:0").await.unwrap();
        let a_addr = a.local_addr().unwrap();
        let bsock = UdpSocket::bind(SocketAddr::new(a_addr.ip(), 0)).unwrap();
        let b_port = bsock.local_addr().unwrap().port();
        let (r, _) = a
            .send_to(b"by name".as_slice(), ("localhost", b_port))
            .await;
        assert_eq!(r.unwrap(), 7);
        let (r, buf) = bsock.recv_from(Vec::with_capacity(16)).await;
        let (n, from) = r.unwrap();
        assert_eq!((&buf[..n], from), (&b"by name"[..], a_addr));
        bsock
            .connect(format!("localhost:{}", a_addr.port()))
            .await
            .unwrap();
        assert_eq!(bsock.peer_addr().unwrap(), a_addr);
        bsock.send(b"back".as_slice()).await.0.unwrap();
        let (r, buf) = a.recv(Vec::with_capacity(16)).await;
        assert_eq!(&buf[..r.unwrap()], b"back");
    }))
    .expect("timed out");
});

/// Outside a runtime a literal still resolves (no pool needed) and a name
/// is an error, not a panic.
#[test]
fn outside_a_runtime() {
    let mut cx = Context::from_waker(Waker::noop());
    let mut lit = pin!(lookup_host("127.0.0.1:1"));
    match lit.as_mut().poll(&mut cx) {
        Poll::Ready(r) => assert_eq!(r.unwrap().count(), 1),
        Poll::Pending => panic!("a literal waits for nothing"),
    }
    let mut name = pin!(lookup_host("localhost:1"));
    match name.as_mut().poll(&mut cx) {
        Poll::Ready(r) => {
            let e = r.unwrap_err();
            assert!(e.to_string().contains("runtime"), "{e}");
        }
        Poll::Pending => panic!("no pool to wait for"),
    }
}
