//! Soak: each bundled server on each backend, as a built binary, under a
//! steady load of checked requests for a given time; its RSS and fd count
//! are sampled at an interval and printed as a table. Ignored by default:
//! `scripts/soak` runs it (10 minutes per server and backend unless told
//! otherwise; CI runs 15 s each).
//!
//! The load: [`CLIENTS`] threads, each opening connections one after the
//! other and sending a few requests on each (echo: payloads of 1 B to
//! 64 KiB, every byte compared; file_server: whole files, ranges, HEAD,
//! 404 and pipelined pairs, every status, length and body compared); one
//! connection in eight ends with a reset instead of a close.
//!
//! The run fails on any error (a wrong byte, a refused or dropped
//! connection, a server that dies), on RSS growth from the first sample to
//! the last beyond [`RSS_GROWTH_KIB`], or on more fds open once the load
//! has stopped than before it started.
//!
//! Settings (environment): `RINGLOOP_SOAK_DURATION` per server and backend
//! (default `10m`), `RINGLOOP_SOAK_INTERVAL` between samples (default
//! `10s`), both written as the servers' durations; `RINGLOOP_SOAK_SERVERS`
//! (`echo`, `file_server` or both, comma-separated); `RINGLOOP_BACKEND`
//! picks one backend.
mod util;

#[path = "../examples/support/cli.rs"]
mod cli;
#[path = "server_util/proc.rs"]
mod proc_util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proc_util::{reset_on_close, Dir, Proc};
use ringloop::Backend;

/// Load threads per run.
const CLIENTS: usize = 4;
/// Bound on RSS growth between the first and the last sample.
const RSS_GROWTH_KIB: u64 = 4096;

fn setting(var: &str, default: &str) -> Duration {
    let v = std::env::var(var).unwrap_or_else(|_| default.into());
    cli::nonzero_duration(&v).unwrap_or_else(|e| panic!("{var}={v}: {e}"))
}

/// A tiny deterministic generator (xorshift), one per client thread.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What the load threads count.
#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    connections: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counts {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::SeqCst);
        self.first_error.lock().unwrap().get_or_insert(e);
    }
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(util::LIMIT))?;
    s.set_write_timeout(Some(util::LIMIT))?;
    Ok(s)
}

/// Bytes `i % 251`, long enough for any payload at any offset below 251.
fn pattern() -> &'static [u8] {
    static P: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    P.get_or_init(|| (0..LARGE + 251).map(file_byte).collect())
}

/// One echo connection: a few payloads, each checked byte for byte.
fn echo_conn(addr: SocketAddr, rng: &mut Rng, c: &Counts) -> Result<(), String> {
    let mut s = connect(addr).map_err(|e| format!("connect: {e}"))?;
    let mut back = vec![0u8; 64 * 1024];
    for _ in 0..1 + rng.below(8) {
        let len = 1 + rng.below(64 * 1024) as usize;
        let seed = rng.below(251) as usize;
        let out = &pattern()[seed..seed + len];
        s.write_all(out).map_err(|e| format!("write: {e}"))?;
        let back = &mut back[..len];
        s.read_exact(back).map_err(|e| format!("read: {e}"))?;
        if back != out {
            return Err(format!("echo of {len} bytes differs"));
        }
        c.requests.fetch_add(1, Ordering::Relaxed);
    }
    if rng.below(8) == 0 {
        reset_on_close(&s);
    }
    Ok(())
}

const SMALL: usize = 1000;
const LARGE: usize = 200_000;

fn file_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Reads one response off `s` (`buf` keeps what arrived early); returns
/// the status, the Content-Length and the body (none for HEAD).
fn response(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    head_only: bool,
) -> Result<(u16, usize, Vec<u8>), String> {
    let mut chunk = [0u8; 65536];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).map_err(|e| format!("read head: {e}"))?;
        if n == 0 {
            return Err("closed before a response head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    buf.drain(..end);
    let status = head
        .get(9..12)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let len = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
    if head_only {
        return Ok((status, len, Vec::new()));
    }
    while buf.len() < len {
        let n = s.read(&mut chunk).map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            return Err("closed inside a body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, len, buf.drain(..len).collect()))
}

/// One file_server request chosen by `rng`: (request, expected status,
/// expected length, expected body or `None` for HEAD/404 bodies).
fn pick(rng: &mut Rng) -> (String, u16, usize, Option<Vec<u8>>) {
    let whole = |n: usize| Some(pattern()[..n].to_vec());
    match rng.below(5) {
        0 => (get("/small.bin", ""), 200, SMALL, whole(SMALL)),
        1 => (get("/large.bin", ""), 200, LARGE, whole(LARGE)),
        2 => {
            let start = rng.below(LARGE as u64 - 1000) as usize;
            let len = 1 + rng.below(1000) as usize;
            let range = format!("Range: bytes={start}-{}\r\n", start + len - 1);
            let body = pattern()[start..start + len].to_vec();
            (get("/large.bin", &range), 206, len, Some(body))
        }
        3 => (
            "HEAD /large.bin HTTP/1.1\r\nHost: soak\r\n\r\n".into(),
            200,
            LARGE,
            None,
        ),
        _ => (get("/missing", ""), 404, "404 Not Found\n".len(), None),
    }
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: soak\r\n{extra}\r\n")
}

/// One file_server connection: a few requests, some pipelined in pairs.
fn http_conn(addr: SocketAddr, rng: &mut Rng, c: &Counts) -> Result<(), String> {
    let mut s = connect(addr).map_err(|e| format!("connect: {e}"))?;
    let mut buf = Vec::new();
    for _ in 0..1 + rng.below(8) {
        let batch: Vec<_> = (0..1 + rng.below(2)).map(|_| pick(rng)).collect();
        let raw: String = batch.iter().map(|r| r.0.as_str()).collect();
        s.write_all(raw.as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        for (req, status, len, body) in &batch {
            let head_only = req.starts_with("HEAD");
            let (st, l, got) = response(&mut s, &mut buf, head_only)?;
            let line = req.lines().next().unwrap_or("");
            if (st, l) != (*status, *len) {
                return Err(format!(
                    "{line}: {st} with {l} bytes, want {status} with {len}"
                ));
            }
            if body.as_ref().is_some_and(|b| *b != got) {
                return Err(format!("{line}: wrong body"));
            }
            c.requests.fetch_add(1, Ordering::Relaxed);
        }
    }
    if rng.below(8) == 0 {
        reset_on_close(&s);
    }
    Ok(())
}

/// One row of the table.
struct Sample {
    secs: f64,
    rss_kib: u64,
    fds: usize,
    requests: u64,
    connections: u64,
    errors: u64,
}

fn sample(p: &Proc, t0: Instant, c: &Counts) -> Sample {
    Sample {
        secs: t0.elapsed().as_secs_f64(),
        rss_kib: p.rss_kib(),
        fds: p.fds(),
        requests: c.requests.load(Ordering::SeqCst),
        connections: c.connections.load(Ordering::SeqCst),
        errors: c.errors.load(Ordering::SeqCst),
    }
}

/// Runs `name` on `b` under load for `duration`; prints the table and
/// returns the reasons it failed.
fn soak_one(name: &str, b: Backend, duration: Duration, interval: Duration) -> Vec<String> {
    let dir = Dir::new(
        &format!("soak-{name}-{b}"),
        &[("small.bin", SMALL), ("large.bin", LARGE)],
    );
    let backend = b.to_string();
    let p = match name {
        "echo" => Proc::start(
            "echo",
            &["--addr", "127.0.0.1:0", "--backend", &backend],
            "listening on ",
        ),
        _ => Proc::start(
            "file_server",
            &[
                "--root",
                dir.path(),
                "--addr",
                "127.0.0.1:0",
                "--backend",
                &backend,
            ],
            "http://",
        ),
    };
    let fds_before = p.fds();
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let conn: fn(SocketAddr, &mut Rng, &Counts) -> Result<(), String> = match name {
        "echo" => echo_conn,
        _ => http_conn,
    };
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (counts, stop, addr) = (counts.clone(), stop.clone(), p.addr);
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
                while !stop.load(Ordering::SeqCst) {
                    counts.connections.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = conn(addr, &mut rng, &counts) {
                        counts.error(e);
                    }
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    let mut rows = Vec::new();
    while t0.elapsed() < duration {
        let next = interval.min(duration.saturating_sub(t0.elapsed()));
        // The sampling period (the load runs on its own threads).
        std::thread::sleep(next);
        rows.push(sample(&p, t0, &counts));
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("a load thread panicked");
    }
    p.wait_fds_at_most(fds_before);
    let idle = sample(&p, t0, &counts);

    println!("\nsoak: {name} on {b}, {CLIENTS} client threads, {duration:?}");
    println!(
        "{:>8} {:>10} {:>5} {:>11} {:>9} {:>7}",
        "t (s)", "RSS (KiB)", "fds", "requests", "conns", "errors"
    );
    for r in rows.iter().chain([&idle]) {
        println!(
            "{:>8.1} {:>10} {:>5} {:>11} {:>9} {:>7}",
            r.secs, r.rss_kib, r.fds, r.requests, r.connections, r.errors
        );
    }
    println!("(last row: after the load stopped and every connection closed)");

    let mut failed = Vec::new();
    if idle.errors > 0 {
        let first = counts.first_error.lock().unwrap().clone();
        failed.push(format!("{} errors, the first: {first:?}", idle.errors));
    }
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let grown = last.rss_kib.saturating_sub(first.rss_kib);
        if grown > RSS_GROWTH_KIB {
            failed.push(format!(
                "RSS grew by {grown} KiB (bound {RSS_GROWTH_KIB} KiB)"
            ));
        }
    }
    if idle.fds > fds_before {
        failed.push(format!(
            "{} fds open after the load, {fds_before} before",
            idle.fds
        ));
    }
    if idle.requests == 0 {
        failed.push("no request was answered".into());
    }
    failed
        .into_iter()
        .map(|f| format!("{name} on {b}: {f}"))
        .collect()
}

/// The servers to soak: `RINGLOOP_SOAK_SERVERS` (comma-separated), or both.
fn servers() -> Vec<String> {
    let v = std::env::var("RINGLOOP_SOAK_SERVERS").unwrap_or_else(|_| "echo,file_server".into());
    let list: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
    for s in &list {
        assert!(
            s == "echo" || s == "file_server",
            "RINGLOOP_SOAK_SERVERS: unknown server {s:?} (echo, file_server)"
        );
    }
    list
}

#[test]
#[ignore = "long: run by scripts/soak"]
fn soak() {
    let duration = setting("RINGLOOP_SOAK_DURATION", "10m");
    let interval = setting("RINGLOOP_SOAK_INTERVAL", "10s");
    let mut failed = Vec::new();
    for b in util::backends() {
        util::run_on(b, |b| {
            for name in servers() {
                failed.extend(soak_one(&name, b, duration, interval));
            }
        });
    }
    assert!(failed.is_empty(), "soak failed:\n{}", failed.join("\n"));
}
