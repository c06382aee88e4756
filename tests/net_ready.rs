//! `readable()` / `writable()` on both backends, for code that makes its own
//! non-blocking syscalls: pending while there is nothing to do, ready once
//! the peer sends (again after the caller drained the socket to `EAGAIN`:
//! the next edge on epoll), ready at once when readiness is already there,
//! writable again once a full send buffer drains, ready at end of stream;
//! for TcpStream, UdpSocket, UnixStream and UnixDatagram. A dropped wait
//! leaves nothing in flight.
mod net_util;
mod util;

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::time::Instant;

use net_util::poll_once;
use ringloop::io::AsyncRead;
use ringloop::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// One non-blocking `recv` of the caller's own: the bytes, or `None` on
/// `EAGAIN`.
fn recv_now(fd: RawFd) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "recv: {e}");
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

/// One non-blocking `send` of the caller's own: the bytes sent, or `None`
/// on `EAGAIN`.
fn send_now(fd: RawFd, bytes: &[u8]) -> Option<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: `bytes` is valid for reads of its length.
    let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), flags) };
    if n < 0 {
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "send: {e}");
        return None;
    }
    Some(n as usize)
}

/// The readable cycle for a socket `fd` whose `readable()` is `ready` and
/// whose connected peer is `peer`.
async fn readable_cycle<F, Fut>(ready: F, fd: RawFd, peer: RawFd)
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    for msg in [&b"one"[..], b"two"] {
        let mut w = Box::pin(ready());
        assert!(!poll_once(&mut w).await, "nothing to read yet");
        assert_eq!(send_now(peer, msg), Some(msg.len()));
        timeout(LIMIT, w).await.expect("never readable").unwrap();
        // Still readable: the data is there, so a new wait ends at once.
        ringloop::yield_now().await;
        let mut again = Box::pin(ready());
        assert!(poll_once(&mut again).await, "readiness already there");
        assert_eq!(recv_now(fd).as_deref(), Some(msg));
        assert_eq!(recv_now(fd), None, "drained to EAGAIN");
    }
}

/// Fills `fd`'s send buffer with the caller's own sends until `writable()`
/// is pending; returns the bytes sent and that pending wait.
async fn fill<F, Fut>(writable: &F, fd: RawFd) -> (usize, Pin<Box<Fut>>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    let chunk = vec![7u8; 64 * 1024];
    let (mut total, t0) = (0, Instant::now());
    loop {
        while let Some(n) = send_now(fd, &chunk) {
            total += n;
        }
        // The buffer may drain to the peer between the EAGAIN and the wait.
        let mut w = Box::pin(writable());
        if !poll_once(&mut w).await {
            return (total, w);
        }
        assert!(t0.elapsed() < LIMIT, "the send buffer never stayed full");
    }
}

each_backend!(tcp_readable_and_writable, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        readable_cycle(|| s.readable(), s.as_raw_fd(), c.as_raw_fd()).await;

        let mut w = Box::pin(s.writable());
        assert!(poll_once(&mut w).await, "a fresh socket is writable");
        let (total, w) = fill(&|| s.writable(), s.as_raw_fd()).await;
        // The peer drains everything; the writer may go on.
        let (r, buf) = c.read_exact(vec![0u8; total]).await;
        r.unwrap();
        assert!(buf.iter().all(|&x| x == 7));
        timeout(LIMIT, w).await.expect("never writable").unwrap();

        // End of stream is readable.
        let mut w = Box::pin(s.readable());
        assert!(!poll_once(&mut w).await);
        drop(c);
        timeout(LIMIT, w)
            .await
            .expect("EOF never readable")
            .unwrap();
        assert_eq!(recv_now(s.as_raw_fd()), Some(Vec::new()));
    }))
    .expect("timed out");
});

each_backend!(unix_stream_readable_and_writable, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (a, c) = UnixStream::pair().unwrap();
        readable_cycle(|| a.readable(), a.as_raw_fd(), c.as_raw_fd()).await;
        let (total, w) = fill(&|| a.writable(), a.as_raw_fd()).await;
        let (r, _) = c.read_exact(vec![0u8; total]).await;
        r.unwrap();
        timeout(LIMIT, w).await.expect("never writable").unwrap();
    }))
    .expect("timed out");
});

each_backend!(udp_readable_and_writable, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let a = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
        c.connect(a.local_addr().unwrap()).await.unwrap();
        readable_cycle(|| a.readable(), a.as_raw_fd(), c.as_raw_fd()).await;
        timeout(LIMIT, c.writable()).await.unwrap().unwrap();
    }))
    .expect("timed out");
});

each_backend!(unix_datagram_readable_and_writable, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (a, c) = UnixDatagram::pair().unwrap();
        readable_cycle(|| a.readable(), a.as_raw_fd(), c.as_raw_fd()).await;
        timeout(LIMIT, c.writable()).await.unwrap().unwrap();
    }))
    .expect("timed out");
});

each_backend!(dropped_waits_leave_nothing_in_flight, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (a, c) = UnixStream::pair().unwrap();
        for _ in 0..100 {
            let mut w = Box::pin(a.readable());
            assert!(!poll_once(&mut w).await);
            ringloop::yield_now().await;
            drop(w);
        }
        net_util::until_nothing_in_flight(LIMIT).await;
        // The socket is unharmed: the next wait still sees data.
        assert_eq!(send_now(c.as_raw_fd(), b"x"), Some(1));
        timeout(LIMIT, a.readable()).await.unwrap().unwrap();
        assert_eq!(recv_now(a.as_raw_fd()).as_deref(), Some(&b"x"[..]));
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources()[2], 0);
});
