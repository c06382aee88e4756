//! Client-side TCP Fast Open (`TcpStreamBuilder::fastopen`): the option is
//! on the socket, connections work with it whatever the system allows, and
//! where the system lets servers take SYN data (`net.ipv4.tcp_fastopen`
//! bits 1 and 2), a connection that holds a cookie sends its first write in
//! the SYN. Both backends.
mod util;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// `TCPI_OPT_SYN_DATA` (linux/tcp.h): the SYN carried data that the peer
/// acknowledged (client), or the SYN that made this socket had data
/// (server).
const TCPI_OPT_SYN_DATA: u8 = 32;

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

/// `tcpi_options` of the socket's `TCP_INFO`.
fn tcpi_options(fd: i32) -> u8 {
    // SAFETY: tcp_info is plain data; all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid out-pointers of the right size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    info.tcpi_options
}

/// `TcpExt: name` from /proc/net/netstat.
fn tcp_ext(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names.split(' ').position(|n| n == name)?;
    values.split(' ').nth(i)?.parse().ok()
}

fn fastopen_mode() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fastopen")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// One request/response over a Fast Open client: the client writes first,
/// the server echoes. Returns the client and the accepted socket.
async fn round_trip(
    l: &TcpListener,
    addr: SocketAddr,
    msg: &'static [u8],
) -> (TcpStream, TcpStream) {
    let c = TcpStream::builder(addr)
        .fastopen(true)
        .nodelay(true)
        .connect()
        .await
        .unwrap();
    let (r, _) = c.write_all(msg).await;
    r.unwrap();
    let (s, _) = l.accept().await.unwrap();
    let (r, buf) = s.read_exact(vec![0u8; msg.len()]).await;
    r.unwrap();
    assert_eq!(buf, msg);
    let (r, _) = s.write_all(buf).await;
    r.unwrap();
    let (r, buf) = c.read_exact(vec![0u8; msg.len()]).await;
    r.unwrap();
    assert_eq!(buf, msg);
    (c, s)
}

each_backend!(fastopen_option_is_set_and_connections_work, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::builder("127.0.0.1:0")
                .fastopen(16)
                .bind()
                .unwrap();
            let addr = l.local_addr().unwrap();
            // Whatever the system allows, three connections in a row work
            // (the first asks for a cookie; the others may use it).
            for msg in [&b"one"[..], b"two", b"three"] {
                let (c, _s) = round_trip(&l, addr, msg).await;
                assert_eq!(
                    getsockopt_int(c.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT),
                    1
                );
            }
            // Off by default.
            let plain = TcpStream::builder(addr).connect().await.unwrap();
            assert_eq!(
                getsockopt_int(
                    plain.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_FASTOPEN_CONNECT
                ),
                0
            );
        }))
        .unwrap();
});

each_backend!(
    fastopen_to_a_closed_port_fails_on_connect_or_first_io,
    |b: Backend| {
        util::rt(b)
            .block_on(timeout(LIMIT, async {
                // A port nobody listens on: the connect fails (no cookie: the
                // normal handshake), or with a cookie the first write or read
                // reports the refusal. Never a hang, never success.
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = probe.local_addr().unwrap();
                drop(probe);
                match TcpStream::builder(addr).fastopen(true).connect().await {
                    Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
                    Ok(c) => {
                        let (w, _) = c.write_all(&b"hello"[..]).await;
                        let (r, _) = c.read(vec![0u8; 8]).await;
                        assert!(w.is_err() || r.is_err(), "refused connection looked fine");
                    }
                }
            }))
            .unwrap();
    }
);

each_backend!(fastopen_first_write_rides_on_the_syn, |b: Backend| {
    let mode = fastopen_mode();
    // Bit 1 (value 1): clients may send data in the SYN; bit 2 (value 2):
    // servers accept it.
    if mode & 3 != 3 {
        util::skip(
            "RINGLOOP_REQUIRE_FASTOPEN",
            &format!("net.ipv4.tcp_fastopen is {mode}, SYN data needs bits 1 and 2 (value 3)"),
        );
        return;
    }
    let active_before = tcp_ext("TCPFastOpenActive");
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::builder("127.0.0.1:0")
                .fastopen(16)
                .bind()
                .unwrap();
            let addr = l.local_addr().unwrap();
            // The first connection gets the cookie (if this process has
            // none for 127.0.0.1 yet), the second must use it.
            let _ = round_trip(&l, addr, b"cookie please").await;
            let (c, s) = round_trip(&l, addr, b"in the syn").await;
            assert_ne!(
                tcpi_options(c.as_raw_fd()) & TCPI_OPT_SYN_DATA,
                0,
                "the client's SYN data was not acknowledged"
            );
            assert_ne!(
                tcpi_options(s.as_raw_fd()) & TCPI_OPT_SYN_DATA,
                0,
                "the server's connection did not come with SYN data"
            );

            // A first write of no bytes sends a SYN without data: the
            // kernel answers EINPROGRESS, which the send waits out (the
            // handshake completes) instead of reporting.
            let c = TcpStream::builder(addr)
                .fastopen(true)
                .connect()
                .await
                .unwrap();
            let (r, _) = c.write(&b""[..]).await;
            assert_eq!(r.unwrap(), 0);
            let (s, _) = l.accept().await.unwrap();
            c.write_all(&b"after"[..]).await.0.unwrap();
            let (r, buf) = s.read_exact(vec![0u8; 5]).await;
            r.unwrap();
            assert_eq!(buf, b"after");
            assert_eq!(tcpi_options(s.as_raw_fd()) & TCPI_OPT_SYN_DATA, 0);
        }))
        .unwrap();
    if let (Some(a), Some(z)) = (active_before, tcp_ext("TCPFastOpenActive")) {
        assert!(z > a, "no connection sent data in its SYN ({a} -> {z})");
    }
});
