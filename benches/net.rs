//! Net benches, io_uring vs epoll in one run (the backend is the bench
//! parameter, so criterion's report reads as a ratio):
//!
//! - `tcp_echo_latency`: one loopback connection, a 64-byte message written
//!   and its echo read back, one at a time;
//! - `tcp_echo_64conns`: 64 connections at once, each doing 64-byte echo
//!   round trips; the time is per round trip (all connections together).
//!
//! Server and client tasks share one loop thread, so the figures measure the
//! runtime's cost per operation (and the kernel's loopback), not a network.
//! Each bench function starts one server and its connections once per
//! backend, outside the timed part; every `iter_custom` call reuses them
//! (no listener or accept piles up over a run).
//!
//! `RINGLOOP_NET_BENCH_FIXED=<backend>` skips criterion and runs a fixed
//! workload (64 connections × 2,000 round trips) on that backend (`uring` or
//! `epoll`), printing the loop's counters per round trip — every syscall the
//! runtime made (waits, and on epoll each recv/send attempt and
//! `epoll_ctl`); run it under `strace -c -f` to check them.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::{Backend, Builder};

const MSG: usize = 64;
const CONNS: usize = 64;

async fn echo(s: TcpStream) {
    let mut buf = vec![0u8; MSG];
    loop {
        let (r, b) = s.read_exact(buf).await;
        if r.is_err() {
            return;
        }
        let (r, b) = s.write_all(b).await;
        if r.is_err() {
            return;
        }
        buf = b;
    }
}

/// A listener on the current loop whose connections are echoed.
async fn server() -> std::net::SocketAddr {
    let l = TcpListener::bind(([127, 0, 0, 1], 0)).expect("bind");
    let addr = l.local_addr().expect("local_addr");
    ringloop::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            s.set_nodelay(true).expect("nodelay");
            ringloop::spawn(echo(s));
        }
    });
    addr
}

async fn round_trips(c: &TcpStream, n: u64) {
    let mut buf = vec![7u8; MSG];
    for _ in 0..n {
        let (r, b) = c.write_all(buf).await;
        r.expect("write");
        let (r, b) = c.read_exact(b).await;
        r.expect("read");
        buf = b;
    }
}

/// `CONNS` connections to `addr`.
async fn connect_all(addr: std::net::SocketAddr) -> Vec<TcpStream> {
    let mut conns = Vec::new();
    for _ in 0..CONNS {
        let c = TcpStream::connect(addr).await.expect("connect");
        c.set_nodelay(true).expect("nodelay");
        conns.push(c);
    }
    conns
}

/// `per_conn` round trips on every connection at once; the time taken.
async fn clients(conns: &[std::rc::Rc<TcpStream>], per_conn: u64) -> Duration {
    let t = Instant::now();
    let tasks: Vec<_> = conns
        .iter()
        .cloned()
        .map(|c| ringloop::spawn(async move { round_trips(&c, per_conn).await }))
        .collect();
    for h in tasks {
        h.await.expect("client task");
    }
    t.elapsed()
}

fn latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_echo_latency");
    g.throughput(Throughput::Elements(1));
    for (b, rt) in support::runtimes() {
        // One server and one connection per backend, for the whole group.
        let conn = rt.block_on(async {
            let addr = server().await;
            let c = TcpStream::connect(addr).await.expect("connect");
            c.set_nodelay(true).expect("nodelay");
            c
        });
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    round_trips(&conn, iters).await;
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
}

fn many_connections(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_echo_64conns");
    g.throughput(Throughput::Elements(1));
    for (b, rt) in support::runtimes() {
        let conns: Vec<_> = rt
            .block_on(async { connect_all(server().await).await })
            .into_iter()
            .map(std::rc::Rc::new)
            .collect();
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                let per_conn = iters.div_ceil(CONNS as u64);
                let total = per_conn * CONNS as u64;
                let d = rt.block_on(clients(&conns, per_conn));
                // Scale to the iterations criterion asked for.
                d.mul_f64(iters as f64 / total as f64)
            })
        });
    }
    g.finish();
}

/// The fixed workload for syscall counting (see the module docs).
fn fixed(which: &str) {
    let b: Backend = which
        .parse()
        .expect("RINGLOOP_NET_BENCH_FIXED: uring or epoll");
    let rt = Builder::new().backend(b).build().expect("runtime");
    const PER_CONN: u64 = 2_000;
    let (d, before, after) = rt.block_on(async {
        let conns: Vec<_> = connect_all(server().await)
            .await
            .into_iter()
            .map(std::rc::Rc::new)
            .collect();
        let before = ringloop::Handle::current().metrics();
        let d = clients(&conns, PER_CONN).await;
        (d, before, ringloop::Handle::current().metrics())
    });
    let rts = (PER_CONN * CONNS as u64) as f64;
    let per = |a: u64, b: u64| (a - b) as f64 / rts;
    println!(
        "{}: {CONNS} conns x {PER_CONN} round trips in {d:?} ({:.0} ns/rt); per round trip: \
         syscalls {:.3} (waits {:.3} + the ops' own {:.3}), ops completed {:.2}, \
         on the readiness path {:.2}",
        rt.backend(),
        d.as_nanos() as f64 / rts,
        per(
            after.wait_syscalls + after.io_syscalls,
            before.wait_syscalls + before.io_syscalls
        ),
        per(after.wait_syscalls, before.wait_syscalls),
        per(after.io_syscalls, before.io_syscalls),
        per(after.ops_completed, before.ops_completed),
        per(after.ops_fallback, before.ops_fallback),
    );
}

fn main() {
    if let Ok(which) = std::env::var("RINGLOOP_NET_BENCH_FIXED") {
        fixed(&which);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    latency(&mut c);
    many_connections(&mut c);
    c.final_summary();
}
