//! Cancellation that always finishes: socket operations dropped after one
//! to three polls while data or connections keep arriving (so cancels race
//! with completions, wake-ups and re-arms), then the socket dropped. The
//! socket must then be closed as `close(2)` would close it: its port can be
//! bound again, a TCP peer sees the end of the stream, a listener refuses
//! connections, nothing stays in flight, and dropping the runtime right
//! after such a burst returns with every fd closed. Both backends.
//!
//! The tests run one at a time ([`util::serial`]): they count fds.
mod net_util;
mod util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use net_util::{poll_then_drop, until_nothing_in_flight};
use ringloop::io::AsyncRead;
use ringloop::net::{TcpListener, TcpStream, UdpSocket};
use ringloop::Backend;

const ROUNDS: usize = 20_000;
const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);
/// How long dropped operations may take to finish: short, so a cancel
/// that never lands fails the test in seconds.
const SETTLE: Duration = Duration::from_secs(10);

/// A thread that calls `each` every ~20 µs until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(mut each: impl FnMut() -> bool + Send + 'static) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::spawn(move || {
            // Bounded: the test stops it, and it gives up on its own.
            let t0 = std::time::Instant::now();
            while !st.load(Ordering::Relaxed) && t0.elapsed() < util::LIMIT {
                if !each() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(20));
            }
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn datagrams_to(addr: SocketAddr) -> Traffic {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    Traffic::start(move || {
        let _ = s.send_to(&[7u8; 512], addr);
        true
    })
}

/// Drops `ROUNDS` `recv_from`s on a UDP socket under a datagram stream.
async fn udp_storm(sock: &UdpSocket) {
    for i in 0..ROUNDS {
        poll_then_drop(sock.recv_from(vec![0u8; 1024]), 1 + i % 3).await;
    }
}

each_backend!(udp_port_is_free_after_dropped_recvs, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    let addr = rt.block_on(async {
        let sock = UdpSocket::bind(LOCAL).unwrap();
        let addr = sock.local_addr().unwrap();
        let traffic = datagrams_to(addr);
        udp_storm(&sock).await;
        drop(traffic);
        drop(sock);
        until_nothing_in_flight(SETTLE).await;
        addr
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    // The socket is closed: its port is free again.
    std::net::UdpSocket::bind(addr).expect("rebind the dropped socket's port");
});

each_backend!(
    runtime_drop_after_a_burst_closes_everything,
    |b: Backend| {
        let _one = util::serial();
        let fds = util::open_fds();
        let rt = util::rt(b);
        let (sock, addr) = rt.block_on(async {
            let sock = UdpSocket::bind(LOCAL).unwrap();
            let addr = sock.local_addr().unwrap();
            let traffic = datagrams_to(addr);
            udp_storm(&sock).await;
            drop(traffic);
            (sock, addr)
        });
        // Dropped operations may still be in flight, holding the socket: the
        // runtime's drop must finish them all, not wait out a limit and leak.
        let t0 = std::time::Instant::now();
        drop(rt);
        eprintln!("drop(rt) took {:?}", t0.elapsed());
        // The socket outlived its loop: its last handle closes it directly.
        drop(sock);
        util::assert_no_fd_leak(fds, "every fd closed");
        std::net::UdpSocket::bind(addr).expect("rebind the dropped socket's port");
    }
);

/// A connected pair: the ringloop end and a std end on a plain thread.
async fn tcp_pair() -> (TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (p, _) = l.accept().unwrap();
    p.set_read_timeout(Some(util::LIMIT)).unwrap();
    (c, p)
}

/// Writes into `peer` until told to stop (or the connection ends).
fn bytes_from(peer: &std::net::TcpStream) -> Traffic {
    let mut w = peer.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    Traffic::start(move || match w.write(&[9u8; 512]) {
        Ok(_) => true,
        Err(e) => {
            e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut
        }
    })
}

/// The peer sees the end of the stream (FIN, or RST for unread data).
fn assert_peer_sees_end(mut peer: std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the peer saw neither FIN nor RST: {e}"),
        }
    }
}

each_backend!(tcp_peer_sees_the_end_after_dropped_reads, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    let peer = rt.block_on(async {
        let (c, peer) = tcp_pair().await;
        let traffic = bytes_from(&peer);
        for i in 0..ROUNDS {
            poll_then_drop(c.read(vec![0u8; 1024]), 1 + i % 3).await;
        }
        drop(traffic);
        drop(c);
        until_nothing_in_flight(SETTLE).await;
        peer
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    assert_peer_sees_end(peer);
});

each_backend!(timeout_around_reads_leaves_nothing_armed, |b: Backend| {
    let _one = util::serial();
    let rt = util::rt(b);
    let peer = rt.block_on(async {
        let (c, peer) = tcp_pair().await;
        let traffic = bytes_from(&peer);
        // The ordinary API: deadlines that expire while bytes arrive.
        for i in 0..ROUNDS / 4 {
            let d = Duration::from_micros(5 + (i % 7) as u64 * 10);
            let _ = ringloop::time::timeout(d, c.read(vec![0u8; 1024])).await;
        }
        drop(traffic);
        drop(c);
        until_nothing_in_flight(SETTLE).await;
        peer
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    assert_peer_sees_end(peer);
});

each_backend!(
    dropped_listener_refuses_after_dropped_accepts,
    |b: Backend| {
        let _one = util::serial();
        let rt = util::rt(b);
        let addr = rt.block_on(async {
            let l = TcpListener::bind(LOCAL).unwrap();
            let addr = l.local_addr().unwrap();
            let traffic = Traffic::start(move || {
                drop(std::net::TcpStream::connect(addr));
                true
            });
            for i in 0..ROUNDS {
                poll_then_drop(l.accept(), 1 + i % 3).await;
            }
            drop(traffic);
            drop(l);
            until_nothing_in_flight(SETTLE).await;
            addr
        });
        assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
        let e = std::net::TcpStream::connect(addr).expect_err("the listener is closed");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }
);
