//! Live figures of the bundled servers: the `--stats <interval>` line, the
//! file server's `/metrics` (Prometheus text), and the exit summary table.
//!
//! The servers count what only they know (requests answered, connections
//! open) in process-wide atomics; everything else comes from the runtime's
//! own snapshots, one per loop, through the loops' `Handle`s.
#![allow(dead_code)] // shared by several examples; each uses a part

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ringloop::metrics::MetricsSnapshot;
use ringloop::Handle;

/// Requests answered (echo: messages echoed; file server: responses).
pub static REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Connections open now.
pub static CONNS: AtomicI64 = AtomicI64::new(0);

/// Every loop of the server's runtime, in order (set once by `main`; the
/// in-process tests leave it unset and get the current loop alone).
static LOOPS: OnceLock<Vec<Handle>> = OnceLock::new();

pub fn request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
}

pub fn conn_opened() {
    CONNS.fetch_add(1, Ordering::Relaxed);
}

pub fn conn_closed() {
    CONNS.fetch_sub(1, Ordering::Relaxed);
}

/// Remembers the runtime's loops for [`snapshots`].
pub fn set_loops(handles: Vec<Handle>) {
    let _ = LOOPS.set(handles);
}

/// One snapshot per loop (the blocking pool's figures come with the
/// calling loop's own).
pub fn snapshots() -> Vec<MetricsSnapshot> {
    match LOOPS.get() {
        Some(h) => h.iter().map(Handle::metrics).collect(),
        None => vec![Handle::current().metrics()],
    }
}

fn total(loops: &[MetricsSnapshot]) -> MetricsSnapshot {
    let mut sum = loops
        .iter()
        .cloned()
        .fold(MetricsSnapshot::default(), |a, b| a + b);
    sum.blocking = loops
        .iter()
        .map(|m| m.blocking)
        .find(|b| *b != Default::default())
        .unwrap_or_default();
    sum
}

/// The `/metrics` body: the runtime's per-loop figures and the server's.
pub fn prometheus(server: &str) -> String {
    let mut out = String::new();
    ringloop::metrics::prometheus_text(&snapshots(), &mut out);
    let _ = write!(
        out,
        "# HELP {server}_requests_total Requests answered.\n\
         # TYPE {server}_requests_total counter\n\
         {server}_requests_total {}\n\
         # HELP {server}_connections Connections open.\n\
         # TYPE {server}_connections gauge\n\
         {server}_connections {}\n",
        REQUESTS.load(Ordering::Relaxed),
        CONNS.load(Ordering::Relaxed)
    );
    out
}

/// Prints one line every `every` until the server stops: requests per
/// second, loop lag p99, ELU and syscalls per op over the interval, and
/// the connections and blocking-pool queue now. Runs as a task on loop 0.
pub async fn report(name: &'static str, every: Duration) {
    let started = Instant::now();
    let mut last = (
        Instant::now(),
        REQUESTS.load(Ordering::Relaxed),
        total(&snapshots()),
    );
    eprintln!(
        "{name}: stats every {every:?}: t = since start; req/s = requests answered per second; \
         lag p99 = 99th percentile of how late timers and woken tasks ran; ELU = share of \
         the loops' time not parked; sys/op = syscalls per completed operation; \
         conns = open now; pool = blocking-pool jobs queued"
    );
    while crate::shutdown::or_stop(ringloop::time::sleep(every))
        .await
        .is_some()
    {
        let now = Instant::now();
        let reqs = REQUESTS.load(Ordering::Relaxed);
        let m = total(&snapshots());
        println!("{}", line(name, started, &last, (now, reqs, &m)));
        last = (now, reqs, m);
    }
}

/// One `--stats` line from two readings.
pub fn line(
    name: &str,
    started: Instant,
    before: &(Instant, u64, MetricsSnapshot),
    now: (Instant, u64, &MetricsSnapshot),
) -> String {
    let (t0, r0, m0) = before;
    let (t1, r1, m1) = now;
    let secs = t1.duration_since(*t0).as_secs_f64().max(1e-9);
    let ops = m1.ops_completed.saturating_sub(m0.ops_completed);
    let sys = (m1.wait_syscalls + m1.io_syscalls).saturating_sub(m0.wait_syscalls + m0.io_syscalls);
    let sys_per_op = if ops == 0 {
        0.0
    } else {
        sys as f64 / ops as f64
    };
    format!(
        "{name}: t={:>7.1}s  req/s {:>9.0}  lag p99 {:>8.1}µs  ELU {:>5.1}%  sys/op {:>5.2}  conns {:>6}  pool {:>4}",
        t1.duration_since(started).as_secs_f64(),
        (r1 - r0) as f64 / secs,
        m1.loop_lag.since(&m0.loop_lag).p99().as_secs_f64() * 1e6,
        m1.elu_since(m0) * 100.0,
        sys_per_op,
        CONNS.load(Ordering::Relaxed),
        m1.blocking.queue_depth,
    )
}

/// Prints a table of `(figure, value, unit)` rows under `title`, and a
/// legend line.
pub fn table(title: &str, rows: &[(&str, String, &str)], legend: &str) {
    println!("{title}");
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let v = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (name, value, unit) in rows {
        println!("  {name:<w$}  {value:>v$}  {unit}");
    }
    println!("  legend: {legend}");
}
