//! The servers' timeout policy (`examples/support/deadline.rs`) on both
//! backends, as built binaries with every timeout at [`T`]: an idle
//! connection, a head trickling in, a client that never reads its answers
//! and one that reads a trickle are each closed or reset within
//! [`BOUND`] (a loose upper bound; nothing here asserts a lower one), and a
//! client that reads at full speed is not dropped. The client watches its
//! socket's TCP state, so bytes still unread in its queue do not hide the
//! server's close. Each case prints when the server dropped it
//! (`--nocapture`: the timeout schedule, per backend).
mod util;

#[path = "server_util/proc.rs"]
mod proc_util;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use proc_util::{peer_gone, Dir, Proc};
use ringloop::Backend;

/// Every timeout of the servers under test (and the send-rate window).
const T: Duration = Duration::from_millis(300);
const T_FLAG: &str = "300ms";
/// 1 MiB/s: 300 KiB per window; the trickle below is 50 KiB/s.
const MIN_RATE: &str = "1048576";
/// Upper bound for each drop.
const BOUND: Duration = Duration::from_secs(6);
/// A body larger than every socket buffer on the way.
const BIG: usize = 32 << 20;

fn file_server(b: Backend, dir: &Dir) -> Proc {
    file_server_at(b, dir, MIN_RATE)
}

fn file_server_at(b: Backend, dir: &Dir, min_rate: &str) -> Proc {
    let backend = b.to_string();
    let args = [
        "--root",
        dir.path(),
        "--addr",
        "127.0.0.1:0",
        "--backend",
        &backend,
        "--idle-timeout",
        T_FLAG,
        "--header-timeout",
        T_FLAG,
        "--write-timeout",
        T_FLAG,
        "--min-send-rate",
        min_rate,
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
        T_FLAG,
        "--write-timeout",
        T_FLAG,
        "--min-send-rate",
        MIN_RATE,
    ];
    Proc::start("echo", &args, "listening on ")
}

fn connect(p: &Proc) -> TcpStream {
    let s = TcpStream::connect(p.addr).unwrap();
    s.set_read_timeout(Some(util::LIMIT)).unwrap();
    s.set_write_timeout(Some(util::LIMIT)).unwrap();
    s
}

/// Runs `step` (the client's behaviour: a read, a write, a pause) until
/// the server has closed or reset `s`, at most [`BOUND`]; prints and
/// returns how long that took since `t0`.
fn dropped_within(
    what: &str,
    s: &mut TcpStream,
    t0: Instant,
    mut step: impl FnMut(&mut TcpStream),
) {
    loop {
        if peer_gone(s) {
            let ms = t0.elapsed().as_millis();
            eprintln!("timeout schedule: {what}: dropped after {ms} ms (timeouts {T:?})");
            return;
        }
        assert!(
            t0.elapsed() < BOUND,
            "{what}: still open after {BOUND:?} (timeouts {T:?})"
        );
        step(s);
    }
}

fn pause(_: &mut TcpStream) {
    std::thread::sleep(Duration::from_millis(10));
}

/// Reads 1 KiB every 20 ms (50 KiB/s), whatever is there.
fn trickle_read(s: &mut TcpStream) {
    let mut b = [0u8; 1024];
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    match s.read(&mut b) {
        Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Err(e) if e.kind() == ErrorKind::Interrupted => {}
        // A reset: the next state check sees it.
        Err(_) => {}
    }
}

const GET_BIG: &[u8] = b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";

each_backend!(file_server_drops_idle_and_slow_clients, |b: Backend| {
    let dir = Dir::new(&format!("timeouts-{b}"), &[("big.bin", BIG), ("a.txt", 5)]);
    let p = file_server(b, &dir);

    let t0 = Instant::now();
    let mut c = connect(&p);
    dropped_within(
        &format!("{b} file_server idle after accept"),
        &mut c,
        t0,
        pause,
    );

    let mut c = connect(&p);
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = [0u8; 4096];
    let n = c.read(&mut got).unwrap();
    assert!(got[..n].starts_with(b"HTTP/1.1 200"));
    let t0 = Instant::now();
    dropped_within(
        &format!("{b} file_server idle after an answer"),
        &mut c,
        t0,
        pause,
    );

    // A head that never ends: a byte every 50 ms, each read in time.
    let mut c = connect(&p);
    let t0 = Instant::now();
    let mut sent = 0;
    let head = b"GET /a.txt HTTP/1.1\r\nHost: t\r\nX-Slow: ".repeat(8);
    dropped_within(
        &format!("{b} file_server head trickling in"),
        &mut c,
        t0,
        |s| {
            if s.write_all(&head[sent % head.len()..][..1]).is_ok() {
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(50));
        },
    );

    let mut c = connect(&p);
    let t0 = Instant::now();
    c.write_all(GET_BIG).unwrap();
    dropped_within(
        &format!("{b} file_server download never read"),
        &mut c,
        t0,
        pause,
    );

    let mut c = connect(&p);
    let t0 = Instant::now();
    c.write_all(GET_BIG).unwrap();
    dropped_within(
        &format!("{b} file_server download read at 50 KiB/s"),
        &mut c,
        t0,
        trickle_read,
    );

    // At full speed the same download completes under the same limits.
    let mut c = connect(&p);
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::with_capacity(BIG + 4096);
    c.read_to_end(&mut all).unwrap();
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(all.starts_with(b"HTTP/1.1 200"));
    assert_eq!(
        all.len() - head_end,
        BIG,
        "a fast reader gets the whole body"
    );
});

/// Writes until the sockets on both sides are full, without blocking.
fn fill(s: &mut TcpStream) {
    s.set_nonblocking(true).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    loop {
        match s.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    s.set_nonblocking(false).unwrap();
}

/// Keeps the send side full (the echo stays pending) without blocking.
fn keep_sending(s: &mut TcpStream) {
    s.set_nonblocking(true).unwrap();
    let _ = s.write(&[2u8; 4096]);
    s.set_nonblocking(false).unwrap();
    std::thread::sleep(Duration::from_millis(10));
}

each_backend!(echo_drops_idle_and_slow_clients, |b: Backend| {
    let p = echo(b);

    let t0 = Instant::now();
    let mut c = connect(&p);
    dropped_within(&format!("{b} echo idle after accept"), &mut c, t0, pause);

    let mut c = connect(&p);
    let mut four = [0u8; 4];
    c.write_all(b"ping").unwrap();
    c.read_exact(&mut four).unwrap();
    let t0 = Instant::now();
    dropped_within(&format!("{b} echo idle after an echo"), &mut c, t0, pause);

    let mut c = connect(&p);
    let t0 = Instant::now();
    fill(&mut c);
    dropped_within(&format!("{b} echo never read"), &mut c, t0, keep_sending);

    let mut c = connect(&p);
    let t0 = Instant::now();
    fill(&mut c);
    dropped_within(&format!("{b} echo read at 50 KiB/s"), &mut c, t0, |s| {
        keep_sending(s);
        trickle_read(s);
    });

    // A client that reads its echoes at full speed is kept.
    let mut c = connect(&p);
    let chunk = vec![3u8; 256 * 1024];
    let mut back = vec![0u8; chunk.len()];
    for _ in 0..64 {
        c.write_all(&chunk).unwrap();
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, chunk);
    }
});

// A quota (16 KiB/s × 300 ms = 4.8 KiB) smaller than what a client's
// socket takes at first: the first window is met by that burst and a
// client that never reads is dropped at the end of the second, on both
// backends (what the client took is counted by the kernel, not by how
// each backend's ops report progress).
each_backend!(file_server_small_quota, |b: Backend| {
    let dir = Dir::new(&format!("quota-{b}"), &[("big.bin", BIG)]);
    let p = file_server_at(b, &dir, "16384");
    let mut c = connect(&p);
    let t0 = Instant::now();
    c.write_all(GET_BIG).unwrap();
    let what = format!("{b} file_server download never read, 16 KiB/s minimum");
    dropped_within(&what, &mut c, t0, pause);
});
