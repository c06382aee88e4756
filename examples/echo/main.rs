//! A thread-per-core TCP echo server.
//!
//! ```sh
//! cargo run --release --example echo -- --addr 127.0.0.1:7000 --threads 2 --backend uring --max-conns 10000
//! ```
//!
//! Each loop thread binds its own `SO_REUSEPORT` listener, so the kernel
//! spreads connections and no two threads wake for one accept. A connection
//! is served by one task that reads into a 16 KiB buffer and writes all of
//! it back before reading again: a client that does not read its echo
//! stops the server reading from it (TCP backpressure), never grows a
//! buffer. At `--max-conns` a loop stops accepting until one of its
//! connections closes (the kernel's backlog holds the rest), so memory stays
//! flat under a flood. A connection that sends nothing for `--idle-timeout`
//! is closed; one that does not read its echoes at `--min-send-rate` (over
//! each `--write-timeout` window) is reset. On SIGINT or SIGTERM it stops accepting, lets open
//! connections finish for `--grace`, prints its figures and exits 0.

#[path = "../support/cli.rs"]
mod cli;
#[path = "../support/deadline.rs"]
mod deadline;
mod server;
#[path = "../support/shutdown.rs"]
mod shutdown;
#[path = "../support/stats.rs"]
mod stats;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use deadline::WriteLimit;
use ringloop::Backend;
use server::{serve, Config, LoopStats, Multishot};

/// A thread-per-core TCP echo server (an SO_REUSEPORT listener per loop);
/// stops gracefully on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "echo")]
struct Cli {
    /// Address to listen on (port 0: pick a free one)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    /// Event loops, one thread each
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::threads())]
    threads: usize,
    /// I/O backend
    #[arg(long, value_name = "auto|uring|epoll", default_value = "auto", value_parser = cli::backend)]
    backend: Backend,
    /// Most connections open at once, over all loops
    #[arg(long, value_name = "M", default_value = "10000", value_parser = cli::count(10_000_000))]
    max_conns: usize,
    /// Time open connections get to finish after SIGINT/SIGTERM
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = cli::duration)]
    grace: Duration,
    /// Time a connection may send nothing before it is closed
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = cli::nonzero_duration)]
    idle_timeout: Duration,
    /// Window of the minimum send rate: a client that takes less than
    /// --min-send-rate × this in one, while there is data for it, is reset
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = cli::nonzero_duration)]
    write_timeout: Duration,
    /// Minimum send rate in bytes per second (see --write-timeout)
    #[arg(long, value_name = "BYTES", default_value = "4096", value_parser = cli::count(1 << 40))]
    min_send_rate: usize,
    /// Bytes per read (the size of each pooled buffer, or of each
    /// connection's own buffer with --recv owned)
    #[arg(long, value_name = "BYTES", default_value = "16384", value_parser = cli::count(64 << 20))]
    buf: usize,
    /// Where reads land: the loop's pooled buffers (an idle connection holds
    /// none) one receive at a time, the pool through one multishot receive
    /// per connection (`stream`) or with receive bundles too (`bundles`,
    /// Linux 6.10), or a buffer per connection
    #[arg(long, value_name = "MODE", default_value = "pooled", value_parser = ["pooled", "stream", "bundles", "owned"])]
    recv: String,
    /// Incremental consumption of the pooled buffers where the kernel has
    /// it (Linux 6.12); off needs a build with --features fault-injection
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    buf_inc: String,
    /// Pooled receive buffers per loop (a power of two, at most 32768)
    #[arg(long, value_name = "N", default_value = "1024", value_parser = cli::count(32_768))]
    buffers: usize,
    /// Print one line of live figures every DURATION (req/s, loop lag p99,
    /// ELU, syscalls per op, connections, blocking-pool queue) [default: off]
    #[arg(long, value_name = "DURATION", value_parser = cli::nonzero_duration)]
    stats: Option<Duration>,
    /// Loop health: off (no poll timing, ELU, stall or spin detector), on
    /// (the runtime's defaults), or all (on, and stall backtraces)
    #[arg(long, value_name = "off|on|all", default_value = "on", value_parser = ["off", "on", "all"])]
    health: String,
    /// Min-wait batching (io_uring, Linux 6.12): a parked loop waits for N
    /// completions or USEC µs, then sleeps until the next completion or
    /// timer; reported as not in effect elsewhere [default: off]
    #[arg(long, value_name = "N,USEC", value_parser = min_wait)]
    min_wait: Option<(u32, u32)>,
}

/// Parses `N,USEC` for `--min-wait`.
fn min_wait(s: &str) -> Result<(u32, u32), String> {
    let (n, us) = s
        .split_once(',')
        .ok_or_else(|| format!("expected N,USEC (completions,microseconds), got {s:?}"))?;
    let n = n.trim().parse().map_err(|e| format!("N: {e}"))?;
    let us = us.trim().parse().map_err(|e| format!("USEC: {e}"))?;
    Ok((n, us))
}

fn main() {
    let Cli {
        mut addr,
        threads,
        backend,
        max_conns,
        grace,
        idle_timeout,
        write_timeout,
        min_send_rate,
        buf,
        recv,
        buf_inc,
        buffers,
        stats: stats_every,
        health,
        min_wait,
    } = cli::parse();
    if addr.port() == 0 {
        // Every loop must bind the same port: pick one first.
        addr = std::net::TcpListener::bind(addr)
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| {
                eprintln!("error: cannot pick a port on {addr}: {e}");
                std::process::exit(1)
            });
    }
    let cfg = Config {
        addr,
        max_conns_per_loop: max_conns.div_ceil(threads),
        grace,
        buf,
        pooled: recv != "owned",
        multishot: match recv.as_str() {
            "stream" => Multishot::Buffers,
            "bundles" => Multishot::Bundles,
            _ => Multishot::Off,
        },
        idle_timeout,
        write: WriteLimit {
            window: write_timeout,
            min_rate: min_send_rate as u64,
        },
    };

    let rt = shutdown::build_runtime_with("echo", backend, threads, |b| {
        b.recv_buffers(buffers as u16, buf as u32);
        if buf_inc == "off" {
            no_buf_inc(b);
        }
        if let Some((n, us)) = min_wait {
            b.min_wait(n, Duration::from_micros(us.into()));
        }
        match health.as_str() {
            "off" => {
                b.poll_timing(false)
                    .stall_threshold(None)
                    .spin_threshold(None);
            }
            "all" => {
                b.stall_backtrace(true);
            }
            _ => {}
        }
    });
    if min_wait.is_some() {
        eprintln!("echo: driver: {}", rt.driver_description());
    }
    let announce = format!(
        "echo: listening on {addr} with {threads} loop(s) on {} ({} conns per loop at most)",
        rt.backend(),
        cfg.max_conns_per_loop
    );
    let started = Instant::now();
    stats::set_loops(rt.handles());
    let per_loop = shutdown::run_until_signal(&rt, "echo", announce, move |i, bound| {
        let serving = serve(i, cfg, move |_| bound.done());
        async move {
            if let (0, Some(every)) = (i, stats_every) {
                drop(ringloop::spawn(stats::report("echo", every)));
            }
            serving.await
        }
    });
    let mut total = LoopStats::default();
    for (i, s) in per_loop.iter().enumerate() {
        match s {
            Ok(s) => {
                total.accepted += s.accepted;
                total.bytes += s.bytes;
                total.accept_errors += s.accept_errors;
                total.conn_errors += s.conn_errors;
                total.timed_out += s.timed_out;
                total.left_open += s.left_open;
            }
            Err(e) => eprintln!("echo: loop {i} failed: {e}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let reqs = stats::REQUESTS.load(std::sync::atomic::Ordering::Relaxed);
    stats::table(
        &format!("echo: served for {secs:.1} s"),
        &[
            (
                "connections accepted",
                total.accepted.to_string(),
                "connections",
            ),
            ("bytes echoed", total.bytes.to_string(), "bytes"),
            ("messages echoed", reqs.to_string(), "reads written back"),
            (
                "messages per second",
                format!("{:.0}", reqs as f64 / secs.max(1e-9)),
                "messages/s",
            ),
            (
                "accept errors",
                total.accept_errors.to_string(),
                "accepts that failed (EMFILE...)",
            ),
            (
                "connection errors",
                total.conn_errors.to_string(),
                "connections ended by a read or write error",
            ),
            (
                "closed by a timeout",
                total.timed_out.to_string(),
                "connections (idle or too slow a reader)",
            ),
            (
                "still open after the grace period",
                total.left_open.to_string(),
                "connections cut at exit",
            ),
        ],
        "a message is one read and its echo; the runtime's figures follow",
    );
    let m = rt.metrics();
    println!("{m}");
    // The total behind "events per turn" (receive bundles cut it).
    println!(
        "  {:<46}{:>16}  CQEs or epoll events",
        "events reaped", m.events
    );
    let failed = per_loop.iter().any(Result::is_err);
    drop(rt);
    std::process::exit(i32::from(failed));
}

/// Registers the buffer ring without incremental consumption (through the
/// fault injector, the only switch there is: for measurements).
#[cfg(feature = "fault-injection")]
fn no_buf_inc(b: &mut ringloop::Builder) {
    let mut plan = ringloop::faults::Faults::new();
    plan.no_buf_inc = true;
    b.faults(plan);
}

#[cfg(not(feature = "fault-injection"))]
fn no_buf_inc(_: &mut ringloop::Builder) {
    eprintln!("error: --buf-inc off needs a build with --features fault-injection");
    std::process::exit(2);
}
