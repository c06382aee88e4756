//! Unix sockets on both backends: stream by path and abstract name, pairs,
//! incoming, datagrams.
mod net_util;
mod util;

use std::future::poll_fn;
use std::pin::Pin;

use futures_core::Stream;
use net_util::TempPath;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::unix::SocketAddr;
use ringloop::net::{UnixDatagram, UnixListener, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

async fn echo_until_eof(s: UnixStream) {
    loop {
        let (r, buf) = s.read(Vec::with_capacity(1024)).await;
        if r.unwrap() == 0 {
            return;
        }
        s.write_all(buf).await.0.unwrap();
    }
}

async fn ping(c: &UnixStream, msg: &'static [u8]) {
    c.write_all(msg).await.0.unwrap();
    let (r, got) = c.read_exact(vec![0u8; msg.len()]).await;
    r.unwrap();
    assert_eq!(got, msg);
}

each_backend!(stream_by_path, |b: Backend| {
    let rt = util::rt(b);
    let path = TempPath::new("stream");
    rt.block_on(timeout(LIMIT, async {
        let l = UnixListener::bind(&path.0).unwrap();
        assert_eq!(
            l.local_addr().unwrap().as_pathname(),
            Some(path.0.as_path())
        );
        let server = ringloop::spawn(async move {
            let (s, peer) = l.accept().await.unwrap();
            assert!(peer.is_unnamed());
            echo_until_eof(s).await;
        });
        let c = UnixStream::connect(&path.0).await.unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.0.as_path()));
        ping(&c, b"hello over a path").await;
        c.shutdown(std::net::Shutdown::Write).await.unwrap();
        let (r, _) = c.read(Vec::with_capacity(8)).await;
        assert_eq!(r.unwrap(), 0);
        server.await.unwrap();
    }))
    .expect("timed out");
    drop(path);
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(stream_abstract_incoming_and_split, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let name = format!("ringloop-test-{}-{b}", std::process::id());
        let addr = SocketAddr::from_abstract_name(&name).unwrap();
        let l = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            l.local_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        let server = ringloop::spawn(async move {
            let mut inc = l.incoming();
            for _ in 0..3 {
                let s = poll_fn(|cx| Pin::new(&mut inc).poll_next(cx))
                    .await
                    .unwrap()
                    .unwrap();
                ringloop::spawn(echo_until_eof(s));
            }
        });
        for _ in 0..3 {
            let c = UnixStream::connect_addr(&addr).await.unwrap();
            let (r, w) = c.into_split();
            let writer = ringloop::spawn(async move {
                w.write_all(b"split halves".as_slice()).await.0.unwrap();
                w.shutdown().await.unwrap();
            });
            let (res, got) = r.read_exact(vec![0u8; 12]).await;
            res.unwrap();
            assert_eq!(got, b"split halves");
            writer.await.unwrap();
        }
        server.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(stream_pair, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (a, c) = UnixStream::pair().unwrap();
        let t = ringloop::spawn(echo_until_eof(a));
        ping(&c, b"pair").await;
        let (r, bufs) = c.writev(vec![b"ab".as_slice(), b"cd".as_slice()]).await;
        assert_eq!(r.unwrap(), 4);
        assert_eq!(bufs.len(), 2);
        let (r, got) = c.read_exact(vec![0u8; 4]).await;
        r.unwrap();
        assert_eq!(got, b"abcd");
        drop(c);
        t.await.unwrap();
    }))
    .expect("timed out");
});

each_backend!(datagram_round_trip, |b: Backend| {
    let rt = util::rt(b);
    let (pa, pb) = (TempPath::new("dgram-a"), TempPath::new("dgram-b"));
    rt.block_on(timeout(LIMIT, async {
        let a = UnixDatagram::bind(&pa.0).unwrap();
        let c = UnixDatagram::bind(&pb.0).unwrap();
        for i in 0..5u8 {
            let (r, _) = a.send_to(vec![i; 10 + i as usize], &pb.0).await;
            assert_eq!(r.unwrap(), 10 + i as usize);
            let (r, got) = c.recv_from(Vec::with_capacity(64)).await;
            let (n, from) = r.unwrap();
            assert_eq!(n, 10 + i as usize);
            assert_eq!(got, vec![i; n]);
            assert_eq!(from.as_pathname(), Some(pa.0.as_path()));
            // and back
            c.send_to_addr(got, &from).await.0.unwrap();
            let (r, back) = a.recv(Vec::with_capacity(64)).await;
            assert_eq!(r.unwrap(), n);
            assert_eq!(back, vec![i; n]);
        }
        // Connected pair.
        let (x, y) = UnixDatagram::pair().unwrap();
        x.send(b"one".as_slice()).await.0.unwrap();
        x.send(b"two".as_slice()).await.0.unwrap();
        let (r, m1) = y.recv(Vec::with_capacity(8)).await;
        assert_eq!(r.unwrap(), 3);
        let (r, m2) = y.recv(Vec::with_capacity(8)).await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!((m1.as_slice(), m2.as_slice()), (&b"one"[..], &b"two"[..]));
    }))
    .expect("timed out");
    drop((pa, pb));
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(bad_addresses_are_errors, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let long = "x".repeat(200);
        assert!(UnixListener::bind(&long).is_err());
        assert!(SocketAddr::from_pathname("a\0b").is_err());
        let e = UnixStream::connect("/nonexistent/ringloop.sock")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains("/nonexistent/ringloop.sock"), "{e}");
    });
});
