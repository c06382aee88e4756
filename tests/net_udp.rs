//! UDP on both backends: send_to/recv_from, connected send/recv, IPv6.
mod util;

use std::net::SocketAddr;

use ringloop::net::UdpSocket;
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

each_backend!(round_trip, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let server = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
        let client = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
        let saddr = server.local_addr().unwrap();
        let caddr = client.local_addr().unwrap();
        let echo = ringloop::spawn(async move {
            for _ in 0..10 {
                let (r, buf) = server.recv_from(Vec::with_capacity(2048)).await;
                let (n, from) = r.unwrap();
                assert_eq!(n, buf.len());
                let (r, _) = server.send_to(buf, from).await;
                assert_eq!(r.unwrap(), n);
            }
        });
        for i in 0..10usize {
            let msg = vec![i as u8; 100 + i];
            let (r, _) = client.send_to(msg.clone(), saddr).await;
            assert_eq!(r.unwrap(), msg.len());
            let (r, got) = client.recv_from(Vec::with_capacity(2048)).await;
            let (n, from) = r.unwrap();
            assert_eq!((n, from), (msg.len(), saddr));
            assert_eq!(got, msg);
        }
        echo.await.unwrap();
        assert_ne!(caddr.port(), 0);
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(connected_send_recv_and_truncation, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let a = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
        a.connect(c.local_addr().unwrap()).await.unwrap();
        c.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), c.local_addr().unwrap());
        a.send(b"datagram one".as_slice()).await.0.unwrap();
        let (r, got) = c.recv(Vec::with_capacity(64)).await;
        assert_eq!(r.unwrap(), 12);
        assert_eq!(got, b"datagram one");
        // A datagram longer than the buffer is truncated, not split.
        a.send(vec![9u8; 100]).await.0.unwrap();
        a.send(b"next".as_slice()).await.0.unwrap();
        let (r, got) = c.recv(Vec::with_capacity(10)).await;
        assert_eq!(r.unwrap(), 10);
        assert_eq!(got, vec![9u8; 10]);
        let (r, got) = c.recv(Vec::with_capacity(10)).await;
        assert_eq!(r.unwrap(), 4);
        assert_eq!(got, b"next");
    }))
    .expect("timed out");
});

each_backend!(ipv6_round_trip, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let v6 = SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 0));
        let a = match UdpSocket::bind(v6) {
            Ok(s) => s,
            Err(e) => {
                util::skip(
                    "RINGLOOP_REQUIRE_IPV6",
                    &format!("no IPv6 loopback on this machine ({e})"),
                );
                return;
            }
        };
        let c = UdpSocket::bind(v6).unwrap();
        a.send_to(b"six".as_slice(), c.local_addr().unwrap())
            .await
            .0
            .unwrap();
        let (r, got) = c.recv_from(Vec::with_capacity(16)).await;
        let (n, from) = r.unwrap();
        assert_eq!((&got[..n], from), (&b"six"[..], a.local_addr().unwrap()));
    }))
    .expect("timed out");
});
