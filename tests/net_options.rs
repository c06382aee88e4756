//! Socket options on both backends: each setter's value read back by its
//! getter (TCP streams over IPv4 and IPv6, listeners and what their
//! accepted connections inherit, UDP, Unix streams and datagrams),
//! `SO_PEERCRED`, and bad values as errors that name the option and keep
//! the errno.
mod util;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use ringloop::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

async fn tcp_pair(at: SocketAddr) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(at).unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    (c, l.accept().await.unwrap().0)
}

fn check_tcp_stream(s: &TcpStream) {
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap());
    s.set_nodelay(false).unwrap();
    assert!(!s.nodelay().unwrap());

    assert_eq!(s.linger().unwrap(), None);
    s.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
    s.set_linger(Some(Duration::from_millis(1500))).unwrap();
    assert_eq!(
        s.linger().unwrap(),
        Some(Duration::from_secs(2)),
        "rounded up"
    );
    s.set_linger(None).unwrap();
    assert_eq!(s.linger().unwrap(), None);

    s.set_ttl(42).unwrap();
    assert_eq!(s.ttl().unwrap(), 42);

    s.set_recv_buffer_size(64 * 1024).unwrap();
    assert!(s.recv_buffer_size().unwrap() >= 64 * 1024);
    s.set_send_buffer_size(64 * 1024).unwrap();
    assert!(s.send_buffer_size().unwrap() >= 64 * 1024);

    assert_eq!(s.keepalive().unwrap(), None);
    s.set_keepalive(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(s.keepalive().unwrap(), Some(Duration::from_secs(30)));
    s.set_keepalive(Some(Duration::from_millis(1))).unwrap();
    assert_eq!(
        s.keepalive().unwrap(),
        Some(Duration::from_secs(1)),
        "at least 1 s"
    );
    s.set_keepalive(None).unwrap();
    assert_eq!(s.keepalive().unwrap(), None);

    assert!(s.take_error().unwrap().is_none());
}

each_backend!(tcp_stream_options, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (c, s) = tcp_pair(([127, 0, 0, 1], 0).into()).await;
        check_tcp_stream(&c);
        check_tcp_stream(&s);
        let (c6, _s6) = tcp_pair("[::1]:0".parse().unwrap()).await;
        check_tcp_stream(&c6);
    }))
    .expect("timed out");
});

each_backend!(bad_option_values_are_errors, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (c, _s) = tcp_pair(([127, 0, 0, 1], 0).into()).await;
        let e = c.set_ttl(1000).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert_eq!(ringloop::net::os_error(&e), Some(libc::EINVAL));
        assert!(e.to_string().contains("IP_TTL"), "{e}");
        let (c6, _s6) = tcp_pair("[::1]:0".parse().unwrap()).await;
        let e = c6.set_ttl(1000).unwrap_err();
        assert!(e.to_string().contains("IPV6_UNICAST_HOPS"), "{e}");
        // An idle time beyond the kernel's limit fails and leaves keepalive
        // off.
        let e = c
            .set_keepalive(Some(Duration::from_secs(1_000_000)))
            .unwrap_err();
        assert!(e.to_string().contains("TCP_KEEPIDLE"), "{e}");
        assert_eq!(c.keepalive().unwrap(), None);
        let e = c.set_linger(Some(Duration::MAX)).err();
        // The kernel takes any linger time; the value is capped, not a panic.
        assert!(e.is_none(), "{e:?}");
        c.set_linger(None).unwrap();
    }))
    .expect("timed out");
});

each_backend!(
    listener_options_and_what_connections_inherit,
    |b: Backend| {
        let rt = util::rt(b);
        rt.block_on(timeout(LIMIT, async {
            let l = TcpListener::builder(([127, 0, 0, 1], 0))
                .ttl(33)
                .recv_buffer_size(100_000)
                .send_buffer_size(50_000)
                .bind()
                .unwrap();
            assert_eq!(l.ttl().unwrap(), 33);
            let rcv = l.recv_buffer_size().unwrap();
            let snd = l.send_buffer_size().unwrap();
            assert!(rcv >= 100_000, "{rcv}");
            assert!(snd >= 50_000, "{snd}");
            assert!(l.take_error().unwrap().is_none());
            let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            assert_eq!(s.ttl().unwrap(), 33, "inherited");
            assert_eq!(s.recv_buffer_size().unwrap(), rcv, "inherited");
            assert_eq!(s.send_buffer_size().unwrap(), snd, "inherited");
            drop(c);
            l.set_ttl(7).unwrap();
            assert_eq!(l.ttl().unwrap(), 7);

            let l6 = TcpListener::builder("[::1]:0").ttl(9).bind().unwrap();
            assert_eq!(l6.ttl().unwrap(), 9);
        }))
        .expect("timed out");
    }
);

each_backend!(udp_options, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        for at in ["127.0.0.1:0", "[::1]:0"] {
            let u = UdpSocket::bind(at).unwrap();
            assert!(!u.broadcast().unwrap());
            u.set_broadcast(true).unwrap();
            assert!(u.broadcast().unwrap());
            u.set_ttl(5).unwrap();
            assert_eq!(u.ttl().unwrap(), 5);
            u.set_recv_buffer_size(32 * 1024).unwrap();
            assert!(u.recv_buffer_size().unwrap() >= 32 * 1024);
            u.set_send_buffer_size(32 * 1024).unwrap();
            assert!(u.send_buffer_size().unwrap() >= 32 * 1024);
        }
    }))
    .expect("timed out");
});

each_backend!(unix_options_and_peer_cred, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        // SAFETY: plain syscalls without arguments.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let pid = std::process::id() as libc::pid_t;
        let (a, c) = UnixStream::pair().unwrap();
        for s in [&a, &c] {
            let cred = s.peer_cred().unwrap();
            assert_eq!((cred.uid(), cred.gid(), cred.pid()), (uid, gid, Some(pid)));
            s.set_recv_buffer_size(48 * 1024).unwrap();
            assert!(s.recv_buffer_size().unwrap() >= 48 * 1024);
            s.set_send_buffer_size(48 * 1024).unwrap();
            assert!(s.send_buffer_size().unwrap() >= 48 * 1024);
            assert!(s.take_error().unwrap().is_none());
        }
        // Across a listener too.
        let name = format!("ringloop-cred-{}-{b}", std::process::id());
        let addr = ringloop::net::unix::SocketAddr::from_abstract_name(&name).unwrap();
        let l = UnixListener::bind_addr(&addr).unwrap();
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        assert_eq!(server.peer_cred().unwrap().pid(), Some(pid));
        assert_eq!(client.peer_cred().unwrap().uid(), uid);

        let (d1, d2) = UnixDatagram::pair().unwrap();
        assert!(d1.peer_addr().unwrap().is_unnamed());
        d2.set_recv_buffer_size(40 * 1024).unwrap();
        assert!(d2.recv_buffer_size().unwrap() >= 40 * 1024);
        d2.set_send_buffer_size(40 * 1024).unwrap();
        assert!(d2.send_buffer_size().unwrap() >= 40 * 1024);
        assert!(d2.take_error().unwrap().is_none());
    }))
    .expect("timed out");
});
