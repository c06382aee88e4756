//! Socket options on the listener and connector builders: TCP Fast Open
//! on a listener, options the accepted connections inherit, and a
//! connection configured before connect (local address, buffers,
//! keepalive, nodelay). Both backends.
mod util;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

fn getsockopt_int(fd: i32, level: i32, name: i32) -> i32 {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid out-pointers of the right size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    v
}

/// `TcpExt: TCPFastOpenPassive` from /proc/net/netstat (connections whose
/// SYN data a listener accepted).
fn fastopen_passive() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names.split(' ').position(|n| n == "TCPFastOpenPassive")?;
    values.split(' ').nth(i)?.parse().ok()
}

each_backend!(listener_options_reach_accepted_connections, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::builder("127.0.0.1:0")
                .fastopen(16)
                .nodelay(true)
                .keepalive(Duration::from_secs(42))
                .bind()
                .unwrap();
            assert_eq!(
                getsockopt_int(l.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_FASTOPEN),
                16
            );
            let addr = l.local_addr().unwrap();
            let c = TcpStream::connect(addr).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            assert!(s.nodelay().unwrap());
            assert_eq!(s.keepalive().unwrap(), Some(Duration::from_secs(42)));
            // The connecting side did not ask for either.
            assert!(!c.nodelay().unwrap());
            assert_eq!(c.keepalive().unwrap(), None);
        }))
        .unwrap();
});

each_backend!(fastopen_data_arrives_with_the_syn, |b: Backend| {
    let mode: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fastopen")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    // Bit 0: clients may send data in the SYN; bit 1: servers accept it.
    if mode & 3 != 3 {
        util::skip(
            "RINGLOOP_REQUIRE_FASTOPEN",
            &format!("net.ipv4.tcp_fastopen is {mode}, Fast Open needs bits 1 and 2"),
        );
        return;
    }
    let before = fastopen_passive();
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::builder("127.0.0.1:0")
                .fastopen(16)
                .bind()
                .unwrap();
            let addr = l.local_addr().unwrap();
            // Two std clients on a thread, with data in the SYN (MSG_FASTOPEN):
            // the first gets a cookie, the second uses it.
            let client = std::thread::spawn(move || {
                for _ in 0..2 {
                    let fd = tfo_send(addr, b"early");
                    // SAFETY: `fd` is the socket tfo_send made and returns.
                    unsafe { libc::close(fd) };
                }
            });
            for _ in 0..2 {
                let (s, _) = l.accept().await.unwrap();
                let (r, buf) = s.read_exact(vec![0u8; 5]).await;
                r.unwrap();
                assert_eq!(buf, b"early");
                let _ = s.write_all(&b"x"[..]).await;
            }
            client.join().unwrap();
        }))
        .unwrap();
    if let (Some(a), Some(z)) = (before, fastopen_passive()) {
        assert!(z > a, "no connection used Fast Open ({a} -> {z})");
    }
});

/// A blocking client socket that sends `data` in its SYN (`MSG_FASTOPEN`).
fn tfo_send(addr: SocketAddr, data: &[u8]) -> i32 {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    // SAFETY: plain socket calls on a socket this function owns.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let n = libc::sendto(
            fd,
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_FASTOPEN,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(
            n,
            data.len() as isize,
            "{}",
            std::io::Error::last_os_error()
        );
        let mut one = [0u8; 1];
        libc::recv(fd, one.as_mut_ptr().cast(), 1, 0);
        fd
    }
}

each_backend!(connector_sets_options_before_connect, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            // A fixed source port: bind one first to learn a free one.
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = probe.local_addr().unwrap().port();
            drop(probe);
            let local: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let c = TcpStream::builder(addr)
                .nodelay(true)
                .keepalive(Duration::from_secs(7))
                .linger(Some(Duration::ZERO))
                .ttl(33)
                .recv_buffer_size(64 * 1024)
                .send_buffer_size(64 * 1024)
                .reuse_addr(true)
                .local_addr(local)
                .connect()
                .await
                .unwrap();
            assert_eq!(c.local_addr().unwrap(), local);
            assert!(c.nodelay().unwrap());
            assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(7)));
            assert_eq!(c.linger().unwrap(), Some(Duration::ZERO));
            assert_eq!(c.ttl().unwrap(), 33);
            assert!(c.recv_buffer_size().unwrap() >= 64 * 1024);
            let (s, peer) = l.accept().await.unwrap();
            assert_eq!(peer, local);
            c.write_all(&b"hi"[..]).await.0.unwrap();
            let (r, buf) = s.read_exact(vec![0u8; 2]).await;
            r.unwrap();
            assert_eq!(buf, b"hi");

            // A local address of the other family is an error for that peer.
            let e = TcpStream::builder(addr)
                .local_addr("[::1]:0".parse().unwrap())
                .connect()
                .await
                .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
            // A refused connection is the kernel's error, with the address (a
            // port std bound and closed again: nobody listens there).
            let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let nobody = gone.local_addr().unwrap();
            drop(gone);
            let e = TcpStream::builder(nobody)
                .nodelay(true)
                .connect()
                .await
                .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
            assert!(e.to_string().contains(&nobody.to_string()), "{e}");
        }))
        .unwrap();
});
