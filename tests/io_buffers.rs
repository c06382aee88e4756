//! Every owned buffer type through real operations (sockets, files), both
//! backends: boxed and static arrays, String, shared Rc/Arc buffers sent
//! to many peers, bytes::Bytes/BytesMut, and the documented initialised
//! length after a receive (it grows, never shrinks).
mod util;

use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ringloop::buf::{IoBuf, IoBufMut};
use ringloop::fs::File;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{UdpSocket, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Sends `buf` over a fresh socket pair and returns what arrived.
async fn through_socket<B: IoBuf>(buf: B) -> Vec<u8> {
    let (a, z) = UnixStream::pair().unwrap();
    let (r, _) = a.write_all(buf).await;
    r.unwrap();
    drop(a);
    let (r, got) = z.read_to_end(Vec::new()).await;
    r.unwrap();
    got
}

/// Reads 5 bytes into `buf` from a socket and hands it back.
async fn fill<B: IoBufMut>(buf: B) -> B {
    let (a, z) = UnixStream::pair().unwrap();
    a.write_all(b"hello").await.0.unwrap();
    let (r, buf) = z.read_exact(buf.slice(..5)).await;
    r.unwrap();
    buf.into_inner()
}

each_backend!(read_only_buffers_for_writes, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            static ARR: [u8; 4] = *b"stat";
            assert_eq!(through_socket(&ARR).await, b"stat");
            assert_eq!(through_socket(String::from("text")).await, b"text");
            assert_eq!(through_socket(Box::new(*b"boxed")).await, b"boxed");
            let rc: Rc<[u8]> = Rc::from(&b"shared"[..]);
            assert_eq!(through_socket(rc.clone()).await, b"shared");
            let arc: Arc<[u8]> = Arc::from(&b"arc"[..]);
            assert_eq!(through_socket(arc).await, b"arc");
            assert_eq!(through_socket(Rc::new(b"rcvec".to_vec())).await, b"rcvec");
            assert_eq!(through_socket(Arc::<str>::from("arcstr")).await, b"arcstr");
            assert_eq!(through_socket(Bytes::from_static(b"bytes")).await, b"bytes");
            // The op held its own count; it was given back by dropping it.
            assert_eq!(Rc::strong_count(&rc), 1);
        }))
        .unwrap();
});

each_backend!(one_shared_buffer_to_many_peers, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let payload: Rc<[u8]> = (0..100_000u32).map(|i| i as u8).collect::<Vec<_>>().into();
            let mut peers = Vec::new();
            let mut sends = Vec::new();
            for _ in 0..8 {
                let (a, z) = UnixStream::pair().unwrap();
                let p = payload.clone();
                sends.push(ringloop::spawn(async move {
                    let (r, back) = a.write_all(p).await;
                    r.unwrap();
                    drop(back);
                }));
                peers.push(z);
            }
            for z in peers {
                let (r, got) = z.read_exact(vec![0u8; payload.len()]).await;
                r.unwrap();
                assert!(got[..] == payload[..]);
            }
            for s in sends {
                s.await.unwrap();
            }
            assert_eq!(Rc::strong_count(&payload), 1);
        }))
        .unwrap();
});

each_backend!(writable_buffers_for_reads, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let arr = fill(Box::new([0u8; 8])).await;
            assert_eq!(&arr[..], b"hello\0\0\0");
            let bm = fill(BytesMut::with_capacity(16)).await;
            assert_eq!(&bm[..], b"hello");
            // A BytesMut frozen into Bytes goes straight back out.
            assert_eq!(through_socket(bm.freeze()).await, b"hello");
        }))
        .unwrap();
});

each_backend!(buffers_with_files, |b: Backend| {
    let dir = std::env::temp_dir().join(format!("ringloop-io-buffers-{}-{b}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    util::rt(b).block_on(async {
        let f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        let (r, _) = f.write_all_at(Bytes::from_static(b"0123456789"), 0).await;
        r.unwrap();
        let (r, _) = f.write_all_at(Rc::<[u8]>::from(&b"ab"[..]), 2).await;
        r.unwrap();
        let (r, arr) = f.read_exact_at(Box::new([0u8; 6]), 0).await;
        r.unwrap();
        assert_eq!(&arr[..], b"01ab45");
        let (r, bm) = f.read_at(BytesMut::with_capacity(64), 6).await;
        assert_eq!((r.unwrap(), &bm[..]), (4, &b"6789"[..]));
        f.close().await.unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
});

each_backend!(receive_length_grows_never_shrinks, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let to = rx.local_addr().unwrap();
            for _ in 0..2 {
                let (r, _) = tx.send_to(&b"12345"[..], to).await;
                r.unwrap();
            }
            // A zero-filled buffer keeps its length: the count says what came.
            let (r, buf) = rx.recv_from(vec![0u8; 1500]).await;
            assert_eq!((r.unwrap().0, buf.len()), (5, 1500));
            assert_eq!(&buf[..5], b"12345");
            // An empty one with capacity comes back exactly as long as the datagram.
            let (r, buf) = rx.recv_from(Vec::with_capacity(1500)).await;
            assert_eq!((r.unwrap().0, buf.len()), (5, 5));
        }))
        .unwrap();
});
