//! Load generator for the echo server, written on ringloop.
//!
//! ```sh
//! cargo run --release --example echo_client -- --addr 127.0.0.1:7000 --conns 64 --size 64 --duration 10s --pipeline 1
//! ```
//!
//! Each connection writes `--pipeline` messages of `--size` bytes, reads the
//! whole echo back and checks it, and repeats until `--duration` is over.
//! A round trip's latency is from the first byte written to the last byte of
//! its echo read; it is recorded once per message of the batch. Prints
//! round trips (messages) per second, MB/s each way, latency percentiles and
//! errors, then exits (1 when any connection failed).

#[path = "../support/args.rs"]
mod args;
mod client;

use std::time::{Duration, Instant};

use client::{run_loop, Config, Results};
use ringloop::{Backend, Builder};

const USAGE: &str =
    "usage: echo_client [--addr 127.0.0.1:7000] [--conns 64] [--size 64] [--duration 10s]
                   [--pipeline 1] [--threads N] [--backend auto|uring|epoll]";

fn main() {
    let a = args::Args::parse(USAGE);
    let backend: Backend = a.get("backend", Backend::Auto);
    let threads = a.get("threads", 1usize).max(1);
    let conns = a.get("conns", 64usize).max(1);
    let cfg = Config {
        addr: a.get("addr", "127.0.0.1:7000".parse().expect("valid default")),
        size: a.get("size", 64usize).max(1),
        pipeline: a.get("pipeline", 1usize).max(1),
        duration: a.duration("duration", Duration::from_secs(10)),
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
        all.messages += p.messages;
        all.bytes += p.bytes;
        all.errors += p.errors;
        all.first_error = all.first_error.or(p.first_error);
        all.latencies.extend(p.latencies);
    }
    all.latencies.sort_unstable();
    let pct = |q: f64| -> Duration {
        if all.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i =
            ((q * all.latencies.len() as f64).ceil() as usize).clamp(1, all.latencies.len()) - 1;
        Duration::from_nanos(all.latencies[i])
    };
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
        pct(0.50),
        pct(0.99),
        pct(0.999),
        all.latencies
            .last()
            .map_or(Duration::ZERO, |&n| Duration::from_nanos(n))
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
