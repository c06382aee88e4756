//! Unix SOCK_SEQPACKET: listener and connection by path and abstract name,
//! pairs, message boundaries (sends never merge, a long message is cut to
//! the buffer), one writev = one message, end of stream, many clients
//! through incoming(). Both backends.
mod net_util;
mod util;

use futures::StreamExt;
use net_util::TempPath;
use ringloop::net::unix::{SocketAddr, UnixSeqpacket, UnixSeqpacketListener};
use ringloop::time::timeout;
use ringloop::Backend;
use std::net::Shutdown;
use util::LIMIT;

each_backend!(messages_keep_their_boundaries, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (a, z) = UnixSeqpacket::pair().unwrap();
            for m in [&b"one"[..], b"two!", b"three"] {
                assert_eq!(a.send(m).await.0.unwrap(), m.len());
            }
            // One gathering write is one message.
            let (r, _) = a.writev(vec![&b"ga"[..], &b"ther"[..]]).await;
            assert_eq!(r.unwrap(), 6);
            // A message longer than the buffer is cut, and the rest is gone.
            a.send(&b"truncated message"[..]).await.0.unwrap();
            a.shutdown(Shutdown::Write).await.unwrap();
            let mut got = Vec::new();
            loop {
                let (r, buf) = z.recv(Vec::with_capacity(9)).await;
                if r.unwrap() == 0 {
                    break;
                }
                got.push(String::from_utf8(buf).unwrap());
            }
            assert_eq!(got, ["one", "two!", "three", "gather", "truncated"]);
            assert_eq!(
                a.peer_cred().unwrap().pid(),
                Some(std::process::id() as i32)
            );
        }))
        .unwrap();
});

each_backend!(listener_by_path_and_by_abstract_name, |b: Backend| {
    let path = TempPath::new("seqpacket");
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let name = format!("ringloop-seqpacket-{}-{b}", std::process::id());
            let by_name = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            for (l, addr) in [
                (
                    UnixSeqpacketListener::bind(&path.0).unwrap(),
                    SocketAddr::from_pathname(&path.0).unwrap(),
                ),
                (UnixSeqpacketListener::bind_addr(&by_name).unwrap(), by_name),
            ] {
                let server = ringloop::spawn(async move {
                    let (s, _) = l.accept().await.unwrap();
                    let (r, msg) = s.recv(Vec::with_capacity(64)).await;
                    r.unwrap();
                    let (r, _) = s.send(msg).await;
                    r.unwrap();
                    l
                });
                let c = UnixSeqpacket::connect_addr(&addr).await.unwrap();
                c.send(&b"echo me"[..]).await.0.unwrap();
                let (r, back) = c.recv(Vec::with_capacity(64)).await;
                assert_eq!((r.unwrap(), &back[..]), (7, &b"echo me"[..]));
                let l = server.await.unwrap();
                assert_eq!(
                    format!("{:?}", l.local_addr().unwrap()),
                    format!("{addr:?}")
                );
            }
            // Connecting where nobody listens is the kernel's error.
            let e = UnixSeqpacket::connect(path.0.with_extension("none"))
                .await
                .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        }))
        .unwrap();
});

each_backend!(many_clients_through_incoming, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let name = format!("ringloop-seqpacket-many-{}-{b}", std::process::id());
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let l = UnixSeqpacketListener::bind_addr(&addr).unwrap();
            let clients: Vec<_> = (0..50u8)
                .map(|i| {
                    ringloop::spawn(async move {
                        let c = UnixSeqpacket::connect_addr(&addr).await.unwrap();
                        c.send(vec![i; usize::from(i) + 1]).await.0.unwrap();
                        c
                    })
                })
                .collect();
            let mut incoming = l.incoming();
            let mut seen = [false; 50];
            for _ in 0..50 {
                let s = incoming.next().await.unwrap().unwrap();
                let (r, msg) = s.recv(Vec::with_capacity(64)).await;
                let n = r.unwrap();
                assert!(msg.iter().all(|&x| usize::from(x) + 1 == n));
                seen[usize::from(msg[0])] = true;
            }
            assert!(seen.iter().all(|&s| s));
            for c in clients {
                c.await.unwrap();
            }
        }))
        .unwrap();
});
