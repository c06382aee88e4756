//! The load generator's side of each measurement (in the parent, pinned to
//! core 1): echo round trips through ringloop's client on one loop, idle
//! connections for RSS, and the task benches' results.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::TcpStream;

use crate::peer::Peer;
use crate::server::Server;
use crate::sys;
use crate::syscount::{self, Counter};

/// The phases of an echo measurement, flipped by the clock thread.
const WARM: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// One echo workload.
#[derive(Clone, Copy)]
pub struct Echo {
    pub conns: usize,
    pub size: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Count the server's syscalls over the measured interval with this
    /// (no CPU figure then).
    pub count: Option<Counter>,
}

/// What one echo measurement found.
pub struct EchoFigures {
    pub requests: u64,
    pub per_sec: f64,
    /// Server CPU (user + system) per request, ns.
    pub cpu_ns: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The runtime's own syscall counter per request (ringloop).
    pub runtime_syscalls: Option<f64>,
    /// perf's or strace's count per request (with `Echo::count`).
    pub counted_syscalls: Option<f64>,
}

/// What the clock thread measured between the phase flips.
#[derive(Default)]
struct Window {
    secs: f64,
    cpu_us: u64,
    runtime_syscalls: Option<u64>,
    counted_syscalls: Option<u64>,
}

struct Record {
    count: u64,
    latencies: Histogram<u64>,
}

/// Runs one echo workload against a fresh `peer` server.
pub fn echo(client: &ringloop::Runtime, peer: Peer, cfg: Echo) -> io::Result<EchoFigures> {
    let server = Server::start(peer, "echo", 0)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()?));
    let phase = Arc::new(AtomicU8::new(WARM));
    let record = Rc::new(RefCell::new(Record {
        count: 0,
        latencies: Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(io::Error::other)?,
    }));
    let (rec, ph) = (record.clone(), phase.clone());
    let (server, window) = client.block_on(async move {
        let mut streams = Vec::with_capacity(cfg.conns);
        for _ in 0..cfg.conns {
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            streams.push(s);
        }
        // Every connection is open: only round trips are measured.
        let p = ph.clone();
        let clock = std::thread::spawn(move || clock(server, &p, cfg));
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| ringloop::spawn(round_trips(i, s, cfg.size, ph.clone(), rec.clone())))
            .collect();
        let mut failed = None;
        for t in tasks {
            if let Ok(Err(e)) = t.await {
                failed.get_or_insert(e);
            }
        }
        let (server, window) = clock
            .join()
            .map_err(|_| io::Error::other("clock panicked"))?;
        match failed {
            Some(e) => {
                server.stop();
                Err(e)
            }
            None => Ok((server, window)),
        }
    })?;
    server.stop();
    let w = window?;
    let r = record.borrow();
    if r.count == 0 {
        return Err(io::Error::other("no round trip completed"));
    }
    let n = r.count as f64;
    Ok(EchoFigures {
        requests: r.count,
        per_sec: n / w.secs,
        cpu_ns: w.cpu_us as f64 * 1000.0 / n,
        p50_us: r.latencies.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: r.latencies.value_at_quantile(0.99) as f64 / 1000.0,
        runtime_syscalls: w.runtime_syscalls.map(|s| s as f64 / n),
        counted_syscalls: w.counted_syscalls.map(|s| s as f64 / n),
    })
}

/// Closed loop on one connection: send `size` bytes, read them back, check
/// them; counted only while the phase is MEASURE.
async fn round_trips(
    id: usize,
    s: TcpStream,
    size: usize,
    phase: Arc<AtomicU8>,
    record: Rc<RefCell<Record>>,
) -> io::Result<()> {
    let expected: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(31) ^ id) as u8).collect();
    let mut out = expected.clone();
    let mut back = Vec::with_capacity(size);
    while phase.load(Ordering::Relaxed) != STOP {
        let t = Instant::now();
        let (r, o) = s.write_all(out).await;
        out = o;
        r?;
        back.clear();
        let (r, b) = s.read_exact(back).await;
        back = b;
        r?;
        let ns = t.elapsed().as_nanos() as u64;
        if back != expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "echo differs from what was sent",
            ));
        }
        if phase.load(Ordering::Relaxed) == MEASURE {
            let mut r = record.borrow_mut();
            r.count += 1;
            r.latencies.saturating_record(ns);
        }
    }
    Ok(())
}

/// Warm-up, then the measured interval between two readings of the
/// server's counters (or with a syscall counter attached); always ends in
/// STOP.
fn clock(mut server: Server, phase: &AtomicU8, cfg: Echo) -> (Server, io::Result<Window>) {
    std::thread::sleep(cfg.warmup);
    let r = match cfg.count {
        Some(c) => counted(&server, phase, cfg.duration, c),
        None => timed(&mut server, phase, cfg.duration),
    };
    phase.store(STOP, Ordering::Relaxed);
    (server, r)
}

fn timed(server: &mut Server, phase: &AtomicU8, d: Duration) -> io::Result<Window> {
    let (c0, s0) = (server.cpu_us()?, server.syscalls()?);
    let t0 = Instant::now();
    phase.store(MEASURE, Ordering::Relaxed);
    std::thread::sleep(d);
    let (c1, s1) = (server.cpu_us()?, server.syscalls()?);
    let secs = t0.elapsed().as_secs_f64();
    phase.store(STOP, Ordering::Relaxed);
    Ok(Window {
        secs,
        cpu_us: c1.saturating_sub(c0),
        runtime_syscalls: s0.zip(s1).map(|(a, b)| b.saturating_sub(a)),
        counted_syscalls: None,
    })
}

/// The measured interval with `counter` attached to the server: its
/// count covers the interval only.
fn counted(server: &Server, phase: &AtomicU8, d: Duration, counter: Counter) -> io::Result<Window> {
    let mut attached = syscount::attach(counter, server.pid())?;
    let t0 = Instant::now();
    phase.store(MEASURE, Ordering::Relaxed);
    std::thread::sleep(d);
    // The client stops counting when the tool does, not once it has
    // exited (strace may take a while to detach and write its summary).
    let stopped = attached.stop();
    phase.store(STOP, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    stopped?;
    Ok(Window {
        secs,
        counted_syscalls: Some(attached.collect()?),
        ..Window::default()
    })
}

/// VmRSS growth of a fresh `peer` server per idle connection, over `n`
/// connections that each made one 1-byte round trip (so each was accepted
/// and has its next read posted). Before the baseline, one connection makes
/// 2,048 round trips: a provided buffer ring hands its 1,024 buffers out in
/// turn, and the pages each first touches belong to the pool, not to the
/// connections measured.
pub fn idle_rss(peer: Peer, n: usize) -> io::Result<f64> {
    let server = Server::start(peer, "echo", 0)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()?));
    let open = |round_trips: usize| -> io::Result<std::net::TcpStream> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        for _ in 0..round_trips {
            s.write_all(&[7])?;
            let mut b = [0u8];
            s.read_exact(&mut b)?;
        }
        Ok(s)
    };
    let r = (|| {
        let warm = open(2048)?;
        std::thread::sleep(Duration::from_millis(100));
        let before = sys::vm_rss(server.pid())?;
        let held = (0..n).map(|_| open(1)).collect::<io::Result<Vec<_>>>()?;
        std::thread::sleep(Duration::from_millis(200));
        let after = sys::vm_rss(server.pid())?;
        drop((warm, held));
        Ok((after as f64 - before as f64) / n as f64)
    })();
    server.stop();
    r
}

/// ns per spawn + join and per yield switch, measured by a `peer` child.
pub fn tasks(peer: Peer, n: usize) -> io::Result<(f64, f64)> {
    let server = Server::start(peer, "tasks", n)?;
    let parsed = server.hello.strip_prefix("tasks ").and_then(|v| {
        let (a, b) = v.split_once(' ')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    });
    let hello = server.hello.clone();
    server.stop();
    parsed.ok_or_else(|| io::Error::other(format!("expected task figures, got {hello:?}")))
}
