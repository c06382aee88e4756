//! Memory of the bundled servers under hostile and churning clients, as
//! built binaries watched through `/proc`, on both backends:
//!
//! - 100 clients that pipeline requests (file_server: 496 × `GET /16k.bin`;
//!   echo: as many bytes as the sockets take) and never read: the server's
//!   RSS stays within [`PER_CONN_KIB`] per connection above its baseline
//!   (the file server caps each connection's output queue and stops
//!   parsing while it is full; echo does one receive at a time);
//! - 200,000 connections accepted and closed after a warm-up of
//!   [`WARMUP`]: RSS grows by at most [`CHURN_GROWTH_KIB`].
//!
//! Each test prints its figures (`--nocapture`).
mod util;

#[path = "server_util/proc.rs"]
mod proc_util;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use proc_util::{reset_on_close, unread, Dir, Proc};
use ringloop::Backend;

/// Non-reading clients per test.
const CLIENTS: usize = 100;
/// The bound on RSS per non-reading client, above the baseline.
const PER_CONN_KIB: u64 = 256;
/// Requests each file_server client pipelines.
const PIPELINED: usize = 496;
/// Connections of the churn test, after its warm-up.
const CHURN: usize = 200_000;
const WARMUP: usize = 20_000;
/// The bound on RSS growth over the churn.
const CHURN_GROWTH_KIB: u64 = 1024;
/// Timeouts long enough not to close anything during a test.
const LONG: &str = "300s";

fn file_server(b: Backend, dir: &Dir) -> Proc {
    let backend = b.to_string();
    let args = [
        "--root",
        dir.path(),
        "--addr",
        "127.0.0.1:0",
        "--backend",
        &backend,
        "--idle-timeout",
        LONG,
        "--header-timeout",
        LONG,
        "--write-timeout",
        LONG,
        "--min-send-rate",
        "1",
    ];
    Proc::start("file_server", &args, "http://")
}

fn echo(b: Backend) -> Proc {
    let backend = b.to_string();
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--backend",
        &backend,
        "--idle-timeout",
        LONG,
        "--write-timeout",
        LONG,
        "--min-send-rate",
        "1",
    ];
    Proc::start("echo", &args, "listening on ")
}

fn connect(p: &Proc) -> TcpStream {
    let s = TcpStream::connect(p.addr).unwrap();
    s.set_read_timeout(Some(util::LIMIT)).unwrap();
    s.set_write_timeout(Some(util::LIMIT)).unwrap();
    s
}

/// One request answered in full: the server works (and its code and
/// buffers for this path are warm).
fn fetch_16k(p: &Proc) {
    let mut s = connect(p);
    s.write_all(b"GET /16k.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &got[..got.len().min(80)]
    );
    assert!(got.len() > 16384);
}

fn ping(p: &Proc) {
    let mut s = connect(p);
    let mut b = [0u8; 4];
    s.write_all(b"ping").unwrap();
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ping");
}

/// Asserts the RSS bound and prints the figures.
fn check_growth(what: &str, base: u64, now: u64, bound: u64) {
    let grown = now.saturating_sub(base);
    eprintln!("{what}: RSS {base} KiB before, {now} KiB after: +{grown} KiB (bound {bound} KiB)");
    assert!(
        grown <= bound,
        "{what}: RSS grew by {grown} KiB, more than {bound} KiB"
    );
}

each_backend!(file_server_memory_with_non_reading_clients, |b: Backend| {
    let dir = Dir::new(&format!("mem-{b}"), &[("16k.bin", 16 * 1024)]);
    let p = file_server(b, &dir);
    fetch_16k(&p);
    p.settle(|| true);
    let base = p.rss_kib();
    let req = b"GET /16k.bin HTTP/1.1\r\nHost: t\r\n\r\n".repeat(PIPELINED);
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut s = connect(&p);
            // ~17 KiB: the socket buffers take it whether or not the server
            // reads.
            s.write_all(&req).unwrap();
            s
        })
        .collect();
    // Every client has been answered (in part), and the server has nothing
    // left it can do.
    p.settle(|| clients.iter().all(|c| unread(c) > 0));
    let what = format!(
        "{b} file_server, {CLIENTS} clients × {PIPELINED} pipelined GET /16k.bin, never reading"
    );
    check_growth(&what, base, p.rss_kib(), PER_CONN_KIB * CLIENTS as u64);
    // Still serving others.
    fetch_16k(&p);
    drop(clients);
});

/// Echoes 2,048 × 16 KiB on one connection: every buffer of the loop's
/// receive pool (1,024 × 16 KiB by default, a fixed cost per loop, not per
/// connection) has been used once, whichever order the pool hands them out
/// in (io_uring's buffer ring goes round all of them).
fn warm_pool(p: &Proc) {
    let mut s = connect(p);
    let chunk = vec![5u8; 16 * 1024];
    let mut back = vec![0u8; 16 * 1024];
    for _ in 0..2048 {
        s.write_all(&chunk).unwrap();
        s.read_exact(&mut back).unwrap();
    }
}

each_backend!(echo_memory_with_non_reading_clients, |b: Backend| {
    let p = echo(b);
    warm_pool(&p);
    p.settle(|| true);
    let base = p.rss_kib();
    let chunk = vec![7u8; 64 * 1024];
    let mut sent_total = 0usize;
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut s = connect(&p);
            s.set_nonblocking(true).unwrap();
            // Until the sockets on both sides are full: the server stopped
            // reading because its echo cannot be written.
            let mut stalls = 0;
            while stalls < 3 {
                match s.write(&chunk) {
                    Ok(n) => {
                        sent_total += n;
                        stalls = 0;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        stalls += 1;
                        // Let the server take what it will before retrying.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("write: {e}"),
                }
            }
            s
        })
        .collect();
    p.settle(|| clients.iter().all(|c| unread(c) > 0));
    let what = format!(
        "{b} echo, {CLIENTS} clients sending {} KiB each on average, never reading",
        sent_total / CLIENTS / 1024
    );
    check_growth(&what, base, p.rss_kib(), PER_CONN_KIB * CLIENTS as u64);
    ping(&p);
    drop(clients);
});

/// Opens and closes `n` connections in batches of 50 (most closed with a
/// reset, every 16th with a FIN after `probe` ran on it), over two client
/// threads.
fn churn(p: &Proc, n: usize, probe: fn(&mut TcpStream)) {
    let addr = p.addr;
    std::thread::scope(|sc| {
        for t in 0..2 {
            sc.spawn(move || {
                let mut done = 0;
                let mine = n / 2 + (t * (n % 2));
                while done < mine {
                    let batch = (mine - done).min(50);
                    let socks: Vec<TcpStream> = (0..batch)
                        .map(|_| TcpStream::connect(addr).expect("connect"))
                        .collect();
                    for (i, mut s) in socks.into_iter().enumerate() {
                        if (done + i) % 16 == 0 {
                            s.set_read_timeout(Some(util::LIMIT)).unwrap();
                            probe(&mut s);
                        } else {
                            reset_on_close(&s);
                        }
                    }
                    done += batch;
                }
            });
        }
    });
}

fn probe_echo(s: &mut TcpStream) {
    let mut b = [0u8; 2];
    s.write_all(b"hi").unwrap();
    s.read_exact(&mut b).unwrap();
}

fn probe_http(s: &mut TcpStream) {
    s.write_all(b"GET /16k.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 200"));
}

/// Warm-up, then the churn; the server is measured when it has closed
/// every connection (its fd count is back) and settled.
fn churn_test(what: &str, p: &Proc, probe: fn(&mut TcpStream)) {
    let fds = p.fds();
    churn(p, WARMUP, probe);
    p.wait_fds_at_most(fds);
    p.settle(|| true);
    let base = p.rss_kib();
    let t0 = std::time::Instant::now();
    churn(p, CHURN, probe);
    let secs = t0.elapsed().as_secs_f64();
    p.wait_fds_at_most(fds);
    p.settle(|| true);
    let now = p.rss_kib();
    let what = format!(
        "{what}, {CHURN} connections accepted and closed after {WARMUP} ({:.0}/s)",
        CHURN as f64 / secs
    );
    check_growth(&what, base, now, CHURN_GROWTH_KIB);
}

each_backend!(echo_memory_over_200k_connections, |b: Backend| {
    let p = echo(b);
    churn_test(&format!("{b} echo"), &p, probe_echo);
    ping(&p);
});

each_backend!(file_server_memory_over_200k_connections, |b: Backend| {
    let dir = Dir::new(&format!("churn-{b}"), &[("16k.bin", 16 * 1024)]);
    let p = file_server(b, &dir);
    churn_test(&format!("{b} file_server"), &p, probe_http);
    fetch_16k(&p);
});
