//! ringloop side by side with tokio and with a runtime-less io_uring floor,
//! in one process run and one table.
//!
//! ```sh
//! cargo run --release --example peers -- --quick
//! cargo run --release --example peers              # 3 runs, medians
//! cargo run --release --example peers -- --syscalls perf  # + syscalls per request
//! ```
//!
//! Peers (the columns): `floor`, an echo server on the io-uring crate and
//! nothing else (`floor.rs`: multishot accept, multishot recv into a
//! provided buffer ring, sends straight from the ring buffers); ringloop
//! on io_uring and on epoll with pooled receives (`recv_pooled`, as the
//! bundled echo server); the same two with a 16 KiB buffer owned by each
//! connection; ringloop on io_uring with one multishot receive per
//! connection (`recv_stream`, the floor's shape); tokio's current_thread
//! runtime with the usual echo (a task per connection, its own 16 KiB
//! buffer). Every server has 16 KiB reads,
//! one read outstanding per connection (the multishot receives, the
//! floor's and ringloop's, are the exception by design) and writes all of
//! it back before the next.
//!
//! Each server runs in a child process (this binary again, with a hidden
//! `--serve`) pinned to core 0; the load generator (ringloop's client, the
//! same for every peer) runs here on core 1. Per workload and run:
//!
//! - **spawn + join**, **yield ping-pong**: `--tasks` of each inside one
//!   `block_on` in the child, ns per operation (per switch for yields);
//! - **echo at N connections**: N connections, each a closed loop of one
//!   `--size` message and its echo; after `--warmup`, the server's CPU
//!   (getrusage user + system, all its threads) over `--duration` divided
//!   by the round trips completed in it, the round trips' p50/p99 latency,
//!   and, for ringloop, its own syscall counter per request;
//! - **RSS per idle connection**: `--idle` connections that each made one
//!   1-byte round trip, then sit idle: the server's VmRSS growth
//!   (`/proc/PID/status`) divided by their count;
//! - with `--syscalls perf` (or `strace`), one more pass per echo workload
//!   with `perf stat -e raw_syscalls:sys_enter` (or `strace -c -f`)
//!   counting for the measured interval only: every syscall of the server
//!   per request (`syscount.rs`; strace slows the servers several times
//!   over, which changes how often a readiness loop finds data waiting).
//!
//! The table shows medians of `--runs` runs, peers interleaved within each
//! run, and the ratios ringloop/tokio and ringloop io_uring (pooled and
//! multishot)/floor.

#[path = "../support/cli.rs"]
mod cli;

mod child;
mod floor;
mod load;
mod peer;
mod rl;
mod server;
mod sys;
mod syscount;
mod table;
mod tk;

use std::time::Duration;

use clap::Parser;
use peer::Peer;
use syscount::Counter;
use table::Table;

/// Bytes per read on every server (and per pooled buffer).
pub const BUF: usize = 16 * 1024;

/// ringloop (io_uring, epoll) side by side with tokio current_thread and a
/// runtime-less io_uring floor: task, echo and idle-memory figures in one
/// table from one run.
#[derive(Parser, Debug)]
#[command(name = "peers")]
struct Cli {
    /// Short run: the same as --runs 1 --duration 1s --warmup 200ms [default: off]
    #[arg(long, conflicts_with_all = ["runs", "duration", "warmup"])]
    quick: bool,
    /// Runs of every measurement; the table shows medians
    #[arg(long, value_name = "N", default_value = "3", value_parser = cli::count(100))]
    runs: usize,
    /// Measured time per echo workload and run
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = cli::nonzero_duration)]
    duration: Duration,
    /// Load before each measured interval
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = cli::duration)]
    warmup: Duration,
    /// Echo workloads: connections, comma-separated
    #[arg(long, value_name = "N,..", value_delimiter = ',', default_value = "1,64,1000", value_parser = cli::count(10_000))]
    conns: Vec<usize>,
    /// Bytes per echo message (one in flight per connection)
    #[arg(long, value_name = "BYTES", default_value = "64", value_parser = cli::count(BUF as u64))]
    size: usize,
    /// Idle connections for the RSS figure
    #[arg(long, value_name = "N", default_value = "10000", value_parser = cli::count(15_000))]
    idle: usize,
    /// Tasks spawned and joined, and yields, per run
    #[arg(long, value_name = "N", default_value = "100000", value_parser = cli::count(100_000_000))]
    tasks: usize,
    /// Peers to run (the table's columns), comma-separated
    #[arg(long, value_name = "PEER,..", value_delimiter = ',', default_value = "floor,uring,epoll,uring-owned,epoll-owned,uring-multishot,tokio", value_parser = peer::parse)]
    peers: Vec<Peer>,
    /// Also count the servers' syscalls per request, with `perf stat` (the
    /// raw_syscalls:sys_enter tracepoint) or under `strace -c -f`: one more
    /// pass per echo workload
    #[arg(long, value_name = "off|perf|strace", default_value = "off", value_parser = ["off", "perf", "strace"])]
    syscalls: String,
    /// (internal) Run as this peer's server child
    #[arg(long, hide = true, value_parser = peer::parse)]
    serve: Option<Peer>,
    /// (internal) What the server child does: echo or tasks
    #[arg(long, hide = true, default_value = "echo", value_parser = ["echo", "tasks"])]
    job: String,
}

fn main() {
    let mut cli: Cli = cli::parse();
    if let Some(peer) = cli.serve {
        child::run(peer, &cli.job, cli.tasks);
    }
    if cli.quick {
        (cli.runs, cli.duration, cli.warmup) =
            (1, Duration::from_secs(1), Duration::from_millis(200));
    }
    let mut peers = Vec::new();
    for p in cli.peers.iter().copied() {
        if !peers.contains(&p) {
            peers.push(p);
        }
    }
    let nofile = sys::raise_nofile();
    if nofile < cli.idle as u64 + 100 {
        eprintln!(
            "peers: RLIMIT_NOFILE is {nofile}, too low for --idle {}",
            cli.idle
        );
        std::process::exit(1);
    }
    if let Err(e) = sys::pin_to(1) {
        eprintln!("peers: {e} (the load generator runs unpinned)");
    }
    let client = ringloop::Builder::new()
        .threads(1)
        .build()
        .unwrap_or_else(|e| {
            eprintln!("peers: cannot start the client runtime: {e}");
            std::process::exit(1)
        });

    let mut t = Table::default();
    t.row("spawn + join, ns", 0);
    t.row("yield ping-pong, ns per switch", 0);
    let count = match cli.syscalls.as_str() {
        "perf" => Some(Counter::Perf),
        "strace" => Some(Counter::Strace),
        _ => None,
    };
    let counter = count.map_or("perf", Counter::name);
    let echo_rows = |c: usize| {
        let c = format!("{c} {}", if c == 1 { "conn" } else { "conns" });
        [
            format!("echo {c}: server CPU per request, µs"),
            format!("echo {c}: p50 latency, µs"),
            format!("echo {c}: p99 latency, µs"),
            format!("echo {c}: requests/s"),
            format!("echo {c}: ringloop syscalls per request"),
            format!("echo {c}: syscalls per request ({counter})"),
        ]
    };
    for &c in &cli.conns {
        let r = echo_rows(c);
        t.row(&r[0], 2);
        t.row(&r[1], 1);
        t.row(&r[2], 1);
        t.row(&r[3], 0);
        t.row(&r[4], 2);
        t.row(&r[5], 2);
    }
    let rss_row = format!("RSS per idle connection at {}, bytes", cli.idle);
    t.row(&rss_row, 0);

    let load_before = loadavg();
    let mut failures = 0;
    let mut fail = |what: String, e: std::io::Error| {
        eprintln!("peers: {what}: {e}");
        failures += 1;
    };
    for run in 1..=cli.runs {
        eprintln!("peers: run {run} of {}", cli.runs);
        for &p in peers.iter().filter(|p| p.runs_tasks()) {
            match load::tasks(p, cli.tasks) {
                Ok((spawn, switch)) => {
                    t.add("spawn + join, ns", p, spawn);
                    t.add("yield ping-pong, ns per switch", p, switch);
                }
                Err(e) => fail(format!("{p} tasks"), e),
            }
        }
        for &c in &cli.conns {
            let r = echo_rows(c);
            for &p in &peers {
                let cfg = load::Echo {
                    conns: c,
                    size: cli.size,
                    warmup: cli.warmup,
                    duration: cli.duration,
                    count: None,
                };
                match load::echo(&client, p, cfg) {
                    Ok(f) => {
                        eprintln!(
                            "peers:   {p:<11} echo {c:>5} conns: {} round trips, {:>9.0} req/s, {:.2} µs CPU/req",
                            f.requests,
                            f.per_sec,
                            f.cpu_ns / 1000.0
                        );
                        t.add(&r[0], p, f.cpu_ns / 1000.0);
                        t.add(&r[1], p, f.p50_us);
                        t.add(&r[2], p, f.p99_us);
                        t.add(&r[3], p, f.per_sec);
                        if let Some(s) = f.runtime_syscalls {
                            t.add(&r[4], p, s);
                        }
                    }
                    Err(e) => fail(format!("{p} echo {c} conns"), e),
                }
            }
        }
        for &p in &peers {
            match load::idle_rss(p, cli.idle) {
                Ok(b) => t.add(&rss_row, p, b),
                Err(e) => fail(format!("{p} idle RSS"), e),
            }
        }
    }
    if let Some(count) = count {
        eprintln!("peers: syscalls with {}", count.name());
        for &c in &cli.conns {
            let r = echo_rows(c);
            for &p in &peers {
                let cfg = load::Echo {
                    conns: c,
                    size: cli.size,
                    warmup: cli.warmup,
                    duration: cli.duration,
                    count: Some(count),
                };
                match load::echo(&client, p, cfg) {
                    Ok(f) => {
                        if let Some(s) = f.counted_syscalls {
                            t.add(&r[5], p, s);
                        }
                    }
                    Err(e) => fail(format!("{p} echo {c} conns, {}", count.name()), e),
                }
            }
        }
    }

    println!(
        "{}; load average {load_before} before, {} after",
        machine(&cli),
        loadavg()
    );
    println!();
    print!("{}", t.render(&peers));
    println!();
    println!(
        "Medians of {} run(s). CPU per request: the server's user+system time over the measured \
         interval / round trips in it. Latency: one round trip of a {}-byte message, client side. \
         Syscalls: ringloop's own counter (io_uring_enter / epoll_wait plus each recv/send attempt); \
         perf/strace: every syscall of the server's threads in the interval. RSS: VmRSS growth / idle connections. \
         Ratios are of the medians.",
        cli.runs, cli.size
    );
    std::process::exit(i32::from(failures > 0));
}

/// The 1-minute load average (the machine may be shared: a high one means
/// other work competed with the servers and the load generator).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// One line on where and how the figures were taken.
fn machine(cli: &Cli) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    // SAFETY: sysconf takes a plain integer. (available_parallelism would
    // count the cores this process is pinned to.)
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    format!(
        "{cpus} CPUs ({cpu}), Linux {kernel}; servers pinned to core 0, load generator (ringloop) to core 1; \
         {} run(s), {:?} measured after {:?} of warm-up per echo workload, {}-byte messages, \
         {} tasks, {} idle connections",
        cli.runs, cli.duration, cli.warmup, cli.size, cli.tasks, cli.idle
    )
}
