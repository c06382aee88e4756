//! Issue #15 item 5.7: a socket made before the runtime starts. A std
//! socket bound in main and converted with `from_std` inside the runtime
//! works (with what was queued before); a ringloop socket cannot be made
//! outside any runtime (a clear error). Both backends.
mod util;

use std::io::{Read, Write};

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, UdpSocket};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Connects a std client from another thread, sends `ping`, expects `pong`.
fn std_client(addr: std::net::SocketAddr) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    })
}

async fn serve_one(l: &TcpListener) {
    let (s, _) = l.accept().await.unwrap();
    let (r, buf) = s.read_exact(vec![0u8; 4]).await;
    r.unwrap();
    assert_eq!(buf, b"ping");
    s.write_all(&b"pong"[..]).await.0.unwrap();
}

each_backend!(std_listener_bound_in_main, |b: Backend| {
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std_client(std_l.local_addr().unwrap());
    util::rt(b)
        .block_on(timeout(LIMIT, async move {
            let l = TcpListener::from_std(std_l).unwrap();
            serve_one(&l).await;
        }))
        .unwrap();
    client.join().unwrap();
});

each_backend!(std_udp_socket_bound_in_main, |b: Backend| {
    let std_u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Queued before the runtime exists; still there after the conversion.
    peer.send_to(b"early", std_u.local_addr().unwrap()).unwrap();
    util::rt(b)
        .block_on(timeout(LIMIT, async move {
            let u = UdpSocket::from_std(std_u).unwrap();
            let (r, buf) = u.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(r.unwrap().1, peer.local_addr().unwrap());
            assert_eq!(buf, b"early");
        }))
        .unwrap();
});

each_backend!(
    ringloop_sockets_made_outside_any_runtime_are_refused,
    |b: Backend| {
        // A ringloop socket belongs to the loop whose driver closes its fd (and
        // on epoll forgets its registration), so making one outside any
        // runtime is an error that says where to do it, never a panic; the std
        // socket is the way to carry a socket into the runtime.
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let e = TcpListener::from_std(std_l).unwrap_err();
        assert!(e.to_string().contains("inside a ringloop runtime"), "{e}");
        let e = TcpListener::bind("127.0.0.1:0").unwrap_err();
        assert!(e.to_string().contains("inside a ringloop runtime"), "{e}");
        let e = UdpSocket::bind("127.0.0.1:0").unwrap_err();
        assert!(e.to_string().contains("inside a ringloop runtime"), "{e}");
        // The same calls inside work.
        util::rt(b).block_on(async {
            assert!(TcpListener::bind("127.0.0.1:0").is_ok());
        });
    }
);
