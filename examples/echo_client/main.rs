//! Load generator for the echo server, written on ringloop.
//!
//! ```sh
//! cargo run --release --example echo_client -- --addr 127.0.0.1:7000 --conns 64 --size 64 --duration 10s --pipeline 1
//! ```
//!
//! Each connection writes `--pipeline` messages of `--size` bytes, reads the
//! whole echo back and checks it, and repeats until `--duration` is over.
//! A round trip's latency is from the first byte written to the last byte of
//! its echo read; it is recorded once per message of the batch, in an
//! `hdrhistogram` (3 significant digits, bounded memory). Prints
//! round trips (messages) per second, MB/s each way, latency percentiles and
//! errors, then exits (1 when any connection failed).

#[path = "../support/cli.rs"]
mod cli;
mod client;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use client::{run_loop, Config, Results};
use ringloop::{Backend, Builder};

/// Most bytes one connection sends per round trip (`--size` × `--pipeline`).
const MAX_BATCH: usize = 64 << 20;

/// Load generator for the echo server: each connection writes --pipeline
/// messages of --size bytes, checks their echo, and repeats until
/// --duration is over; prints round trips/s, MB/s and latency percentiles.
#[derive(Parser, Debug)]
#[command(name = "echo_client")]
struct Cli {
    /// Address of the echo server
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    /// Connections, spread over the loops
    #[arg(long, value_name = "N", default_value = "64", value_parser = cli::count(1_000_000))]
    conns: usize,
    /// Bytes per message
    #[arg(long, value_name = "BYTES", default_value = "64", value_parser = cli::count(MAX_BATCH as u64))]
    size: usize,
    /// How long to run
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = cli::nonzero_duration)]
    duration: Duration,
    /// Messages written back to back before reading their echoes
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::count(65_536))]
    pipeline: usize,
    /// Event loops, one thread each
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::threads())]
    threads: usize,
    /// I/O backend
    #[arg(long, value_name = "auto|uring|epoll", default_value = "auto", value_parser = cli::backend)]
    backend: Backend,
}

fn main() {
    let args: Cli = cli::parse();
    if args.size.saturating_mul(args.pipeline) > MAX_BATCH {
        Cli::command()
            .error(
                ErrorKind::ValueValidation,
                format!(
                    "--size {} x --pipeline {} is more than {MAX_BATCH} bytes per round trip",
                    args.size, args.pipeline
                ),
            )
            .exit();
    }
    let (backend, threads, conns) = (args.backend, args.threads, args.conns);
    let cfg = Config {
        addr: args.addr,
        size: args.size,
        pipeline: args.pipeline,
        duration: args.duration,
    };
    raise_nofile();
    let rt = Builder::new()
        .backend(backend)
        .threads(threads)
        .build()
        .unwrap_or_else(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1)
        });
    let started = Instant::now();
    let parts = rt.run_on_each_thread(move |i| {
        // Spread the connections over the loops.
        let mine = conns / threads + usize::from(i < conns % threads);
        run_loop(mine, cfg)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = Results::default();
    for p in parts {
        all.merge(p);
    }
    println!(
        "echo_client: {} on {}, {conns} conns x {} B x pipeline {}, {elapsed:.1}s",
        cfg.addr,
        rt.backend(),
        cfg.size,
        cfg.pipeline
    );
    println!(
        "  {:.0} round trips/s, {:.2} MB/s each way",
        all.messages as f64 / elapsed,
        all.bytes as f64 / elapsed / 1e6
    );
    println!(
        "  latency p50 {:?} p99 {:?} p999 {:?} max {:?}",
        all.latency(0.50),
        all.latency(0.99),
        all.latency(0.999),
        all.latency(1.0)
    );
    println!(
        "  errors {}{}",
        all.errors,
        all.first_error
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    let m = rt.metrics();
    println!(
        "  client syscalls per op {:.3} ({} waits / {} ops)",
        m.syscalls_per_op(),
        m.wait_syscalls,
        m.ops_completed
    );
    drop(rt);
    std::process::exit(i32::from(all.errors > 0));
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}
