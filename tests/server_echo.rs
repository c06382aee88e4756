//! The bundled echo server under its own load generator, in-process, on
//! both backends: integrity (every echo checked byte for byte), the
//! max-conns limit, and a clean stop.
mod util;

#[path = "../examples/echo_client/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../examples/support/deadline.rs"]
mod deadline;
#[path = "../examples/echo/server.rs"]
#[allow(dead_code)]
mod server;
#[path = "../examples/support/shutdown.rs"]
mod shutdown;
#[path = "../examples/support/stats.rs"]
mod stats;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ringloop::{Backend, Builder, Handle};

/// A running echo server: its address, its loops, its thread.
struct Server {
    addr: SocketAddr,
    handles: Vec<Handle>,
    thread: thread::JoinHandle<Vec<Result<server::LoopStats, String>>>,
}

fn start(b: Backend, threads: usize, max_conns_per_loop: usize) -> Server {
    // A free port every loop can bind with SO_REUSEPORT.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = server::Config {
        addr,
        max_conns_per_loop,
        grace: Duration::from_secs(5),
        buf: 16 * 1024,
        // The server's default; `--recv owned` is covered by the binary
        // tests (server_signals) and the comparison bench.
        pooled: true,
        multishot: server::Multishot::Off,
        idle_timeout: Duration::from_secs(60),
        write: deadline::WriteLimit {
            window: Duration::from_secs(10),
            min_rate: 4096,
        },
    };
    let (tx, rx) = mpsc::channel();
    let thread = thread::spawn(move || {
        let rt = Builder::new().backend(b).threads(threads).build().unwrap();
        tx.send(rt.handles()).unwrap();
        rt.run_on_each_thread(move |i| server::serve(i, cfg, |_| {}))
    });
    let handles = rx.recv().unwrap();
    // Wait (bounded) until every loop listens: connections get echoed.
    let t0 = std::time::Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 1];
            if s.write_all(b"x").is_ok() && s.read_exact(&mut b).is_ok() {
                break;
            }
        }
        assert!(t0.elapsed() < util::LIMIT, "echo server did not come up");
        thread::yield_now();
    }
    Server {
        addr,
        handles,
        thread,
    }
}

impl Server {
    fn stop(self) -> Vec<server::LoopStats> {
        for h in &self.handles {
            drop(h.spawn(async { shutdown::trigger() }));
        }
        let out = self.thread.join().unwrap();
        out.into_iter().map(|r| r.unwrap()).collect()
    }
}

each_backend!(integrity_under_load, |b: Backend| {
    let srv = start(b, 2, 10_000);
    let rt = util::rt(b);
    let cfg = client::Config {
        addr: srv.addr,
        size: 4096,
        pipeline: 4,
        duration: Duration::from_millis(1500),
    };
    let r = rt.block_on(client::run_loop(64, cfg));
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    assert!(r.messages > 0);
    // One latency count per message, in the bounded histogram.
    assert_eq!(r.latencies.len(), r.messages);
    assert!(r.latencies.min() > 0 && r.latencies.max() < 60_000_000_000);
    let stats = srv.stop();
    let accepted: u64 = stats.iter().map(|s| s.accepted).sum();
    let echoed: u64 = stats.iter().map(|s| s.bytes).sum();
    assert_eq!(accepted, 64 + 1, "64 clients and the readiness probe");
    assert_eq!(echoed, r.bytes + 1);
    assert!(stats.iter().all(|s| s.conn_errors == 0 && s.left_open == 0));
});

each_backend!(max_conns_holds_new_connections_back, |b: Backend| {
    let srv = start(b, 1, 2);
    let echo = |s: &mut std::net::TcpStream, wait: Duration| -> bool {
        s.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4];
        s.write_all(b"ping").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"ping"
    };
    let mut a = std::net::TcpStream::connect(srv.addr).unwrap();
    let mut c = std::net::TcpStream::connect(srv.addr).unwrap();
    // The start-up probe's connection may still count for a moment: wait.
    assert!(echo(&mut a, util::LIMIT) && echo(&mut c, util::LIMIT));
    // A third connection completes its handshake in the kernel's backlog
    // but is not accepted while two are open: no echo.
    let mut third = std::net::TcpStream::connect(srv.addr).unwrap();
    // (A bounded wait for something that must not happen: a slow server
    // can only make this pass, never fail.)
    assert!(
        !echo(&mut third, Duration::from_millis(300)),
        "served beyond --max-conns"
    );
    // Closing one frees a slot: the third is served now (its first bytes
    // were waiting in the socket; read what is pending, then ping again).
    drop(a);
    third.set_read_timeout(Some(util::LIMIT)).unwrap();
    let mut buf = [0u8; 4];
    third.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    drop((c, third));
    srv.stop();
});

each_backend!(slow_reader_gets_backpressure, |b: Backend| {
    // A client that writes and never reads: the server must stop reading
    // from it once the echo cannot be written (its buffer is 16 KiB), so
    // the client's writes stall instead of the server buffering everything.
    let srv = start(b, 1, 16);
    let mut s = std::net::TcpStream::connect(srv.addr).unwrap();
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut sent = 0usize;
    let limit = 256 * 1024 * 1024;
    while sent < limit {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{e}"
                );
                break;
            }
        }
    }
    // Socket buffers on both sides plus the server's 16 KiB: a few MiB.
    assert!(
        sent < limit,
        "server kept reading from a client that never reads: {sent} bytes"
    );
    eprintln!("{b}: writes stalled after {} KiB", sent / 1024);
    drop(s);
    srv.stop();
});
