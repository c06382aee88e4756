//! `from_std` / `into_std` / `AsFd` for every socket type, on both backends:
//! std sockets made before the runtime starts work inside it; what comes
//! back is the same socket, in blocking mode, usable with plain std calls;
//! the wrong kind of socket and a call outside a runtime are errors, not
//! panics; a listener with a live `Incoming` refuses to convert.
mod net_util;
mod util;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net as unix_std;

use net_util::TempPath;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

fn nonblocking(fd: &impl AsRawFd) -> bool {
    // SAFETY: plain syscall on an open fd.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "fcntl: {}", std::io::Error::last_os_error());
    flags & libc::O_NONBLOCK != 0
}

each_backend!(tcp_listener_bound_before_the_runtime, |b: Backend| {
    // Bound before any runtime exists, as in `main`.
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_l.local_addr().unwrap();
    assert!(!nonblocking(&std_l));
    let rt = util::rt(b);
    let back = rt
        .block_on(timeout(LIMIT, async move {
            let l = TcpListener::from_std(std_l).unwrap();
            assert!(nonblocking(&l));
            assert_eq!(l.local_addr().unwrap(), addr);
            assert_eq!(l.as_fd().as_raw_fd(), l.as_raw_fd());
            for _ in 0..3 {
                let c = TcpStream::connect(addr).await.unwrap();
                let (s, peer) = l.accept().await.unwrap();
                assert_eq!(peer, c.local_addr().unwrap());
                c.write_all(b"ping".as_slice()).await.0.unwrap();
                let (r, buf) = s.read_exact(vec![0u8; 4]).await;
                r.unwrap();
                assert_eq!(buf, b"ping");
            }
            let fd = l.as_raw_fd();
            let back = l.into_std().unwrap();
            assert_ne!(back.as_raw_fd(), fd, "a duplicate of the fd");
            back
        }))
        .expect("timed out");
    assert_eq!(
        rt.debug_resources(),
        [0, 0, 0, 0],
        "the original fd is gone"
    );
    drop(rt);
    // The same listening socket, blocking again: plain std calls work.
    assert!(!nonblocking(&back));
    assert_eq!(back.local_addr().unwrap(), addr);
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let (mut s, _) = back.accept().unwrap();
    c.write_all(b"std").unwrap();
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std");
});

each_backend!(tcp_stream_through_std_and_back, |b: Backend| {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut peer, _) = l.accept().unwrap();
    peer.write_all(b"early").unwrap();
    let rt = util::rt(b);
    let std_c = rt
        .block_on(timeout(LIMIT, async move {
            let c = TcpStream::from_std(std_c).unwrap();
            assert!(nonblocking(&c));
            // Data queued before the conversion is there.
            let (r, buf) = c.read_exact(vec![0u8; 5]).await;
            r.unwrap();
            assert_eq!(buf, b"early");
            c.write_all(b"from ringloop".as_slice()).await.0.unwrap();
            c.into_std().unwrap()
        }))
        .expect("timed out");
    drop(rt);
    assert!(!nonblocking(&std_c));
    let mut buf = [0u8; 13];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"from ringloop");
    peer.write_all(b"!").unwrap();
    let mut one = [0u8; 1];
    (&std_c).read_exact(&mut one).unwrap();
    assert_eq!(&one, b"!");
});

each_backend!(udp_through_std_and_back, |b: Backend| {
    let std_a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let std_peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_addr, peer_addr) = (std_a.local_addr().unwrap(), std_peer.local_addr().unwrap());
    std_peer.send_to(b"queued", a_addr).unwrap();
    let rt = util::rt(b);
    let back = rt
        .block_on(timeout(LIMIT, async move {
            let a = UdpSocket::from_std(std_a).unwrap();
            assert!(nonblocking(&a));
            let (r, buf) = a.recv_from(Vec::with_capacity(16)).await;
            let (n, from) = r.unwrap();
            assert_eq!((&buf[..n], from), (&b"queued"[..], peer_addr));
            a.send_to(b"reply".as_slice(), peer_addr).await.0.unwrap();
            a.into_std().unwrap()
        }))
        .expect("timed out");
    drop(rt);
    assert!(!nonblocking(&back));
    let mut buf = [0u8; 16];
    let (n, from) = std_peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"reply"[..], a_addr));
    std_peer.send_to(b"std", a_addr).unwrap();
    let n = back.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"std");
});

each_backend!(unix_sockets_through_std_and_back, |b: Backend| {
    let path = TempPath::new("convert");
    let std_l = unix_std::UnixListener::bind(&path.0).unwrap();
    let (s1, mut s2) = unix_std::UnixStream::pair().unwrap();
    let (d1, d2) = unix_std::UnixDatagram::pair().unwrap();
    let rt = util::rt(b);
    let p = path.0.clone();
    let (l, s1, d1) = rt
        .block_on(timeout(LIMIT, async move {
            let l = UnixListener::from_std(std_l).unwrap();
            assert_eq!(l.local_addr().unwrap().as_pathname(), Some(p.as_path()));
            let c = UnixStream::connect(&p).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            c.write_all(b"u".as_slice()).await.0.unwrap();
            let (r, buf) = s.read_exact(vec![0u8; 1]).await;
            r.unwrap();
            assert_eq!(buf, b"u");

            let s1 = UnixStream::from_std(s1).unwrap();
            assert!(nonblocking(&s1));
            s1.write_all(b"stream".as_slice()).await.0.unwrap();
            let d1 = UnixDatagram::from_std(d1).unwrap();
            d1.send(b"datagram".as_slice()).await.0.unwrap();
            (
                l.into_std().unwrap(),
                s1.into_std().unwrap(),
                d1.into_std().unwrap(),
            )
        }))
        .expect("timed out");
    drop(rt);
    for fd in [l.as_fd(), s1.as_fd(), d1.as_fd()] {
        assert!(!nonblocking(&fd));
    }
    let mut buf = [0u8; 8];
    s2.read_exact(&mut buf[..6]).unwrap();
    assert_eq!(&buf[..6], b"stream");
    let n = d2.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"datagram");
    s2.write_all(b"back").unwrap();
    (&s1).read_exact(&mut buf[..4]).unwrap();
    assert_eq!(&buf[..4], b"back");
    let _c = unix_std::UnixStream::connect(&path.0).unwrap();
    l.accept().unwrap();
});

/// A socket of another kind, as a std type of this kind: std's `From<OwnedFd>`
/// cannot tell.
fn udp_fd() -> OwnedFd {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().into()
}

fn tcp_fd() -> OwnedFd {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().into()
}

each_backend!(the_wrong_kind_of_socket_is_an_error, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let errors = [
            TcpListener::from_std(udp_fd().into()).unwrap_err(),
            TcpStream::from_std(udp_fd().into()).unwrap_err(),
            UdpSocket::from_std(tcp_fd().into()).unwrap_err(),
            UnixStream::from_std(tcp_fd().into()).unwrap_err(),
            UnixListener::from_std(udp_fd().into()).unwrap_err(),
            UnixDatagram::from_std(udp_fd().into()).unwrap_err(),
            UnixDatagram::from_std(OwnedFd::from(unix_std::UnixStream::pair().unwrap().0).into())
                .unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains("not a"), "{e}");
        }
        // A TCP socket that does not listen is no listener.
        let (s, _keep) = std_pair();
        let e = TcpListener::from_std(OwnedFd::from(s).into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("does not listen"), "{e}");
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

/// A connected std TCP pair.
fn std_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    (c, l.accept().unwrap().0)
}

#[test]
fn from_std_outside_a_runtime_is_an_error() {
    let (c, _s) = std_pair();
    let path = TempPath::new("outside");
    let errors = [
        TcpListener::from_std(std::net::TcpListener::bind("127.0.0.1:0").unwrap()).unwrap_err(),
        TcpStream::from_std(c).unwrap_err(),
        UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap_err(),
        UnixListener::from_std(unix_std::UnixListener::bind(&path.0).unwrap()).unwrap_err(),
        UnixStream::from_std(unix_std::UnixStream::pair().unwrap().0).unwrap_err(),
        UnixDatagram::from_std(unix_std::UnixDatagram::unbound().unwrap()).unwrap_err(),
    ];
    for e in errors {
        assert!(e.to_string().contains("inside a ringloop runtime"), "{e}");
    }
}

each_backend!(listener_into_std_waits_for_its_incoming, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let inc = l.incoming();
        let e = l.into_std().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ResourceBusy, "{e}");
        assert!(e.to_string().contains("Incoming"), "{e}");
        drop(inc);
        let l = UnixListener::bind_addr(
            &ringloop::net::unix::SocketAddr::from_abstract_name(format!(
                "ringloop-convert-{}-{b}",
                std::process::id()
            ))
            .unwrap(),
        )
        .unwrap();
        let inc = l.incoming();
        assert_eq!(l.into_std().unwrap_err().kind(), ErrorKind::ResourceBusy);
        drop(inc);
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        drop(l.incoming());
        let back = l.into_std().unwrap();
        assert!(!nonblocking(&back));
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});
