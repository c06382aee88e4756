//! The cost of loop-health timing, in instructions: runs `--n` spawn+join
//! and `--n` no-op operations on one loop, with poll timing (loop lag,
//! longest poll, stall detector) on or off. Run it under
//! `valgrind --tool=callgrind` and compare the instruction totals of
//! `--timing on` and `--timing off`: instruction counts are repeatable where
//! wall-clock times on a shared machine are not. The `runtime` bench's
//! `health_overhead` group measures the same in time.
//!
//! ```sh
//! cargo build --release --example overhead
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/overhead --backend epoll --timing on
//! ```
//!
//! `--what nops --batch 1000` runs `--n` NOPs started 1,000 at a time
//! instead, and `--what raw-nops` the same NOPs on the same ring setup
//! driven directly with the `io-uring` crate (no runtime): the difference
//! of the two instruction totals is the runtime's cost per op.
//!
//! `--timing off` turns the whole loop-health layer off (poll timing, ELU,
//! per-turn histograms, stall and spin detectors); `--timing on` has all
//! of it but stall backtraces, which `--stall-backtrace on` adds.

#[path = "support/cli.rs"]
mod cli;
#[path = "../benches/support/raw_ring.rs"]
mod raw_ring;

use std::time::Duration;

use clap::Parser;
use ringloop::driver::{ops::Nop, Op};
use ringloop::{Backend, Builder};

/// Runs --n spawn+join and --n no-op operations on one loop, with loop-health
/// timing on or off; compare the two under callgrind.
#[derive(Parser, Debug)]
#[command(name = "overhead")]
struct Cli {
    /// I/O backend
    #[arg(long, value_name = "auto|uring|epoll", default_value = "uring", value_parser = cli::backend)]
    backend: Backend,
    /// Poll timing (loop lag, longest poll, stall detector)
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    timing: String,
    /// Spawn+join rounds, each with one no-op operation
    #[arg(long, value_name = "N", default_value = "100000", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    n: u64,
    /// What to run: spawn+join with a NOP per round, NOPs alone, or NOPs on a
    /// raw ring without the runtime
    #[arg(long, default_value = "spawn-nop", value_parser = ["spawn-nop", "nops", "raw-nops"])]
    what: String,
    /// NOPs started together (for --what nops|raw-nops)
    #[arg(long, value_name = "B", default_value = "1", value_parser = clap::value_parser!(u64).range(1..=4096))]
    batch: u64,
    /// Stall backtraces (a watchdog thread; needs --timing on)
    #[arg(long, value_name = "on|off", default_value = "off", value_parser = ["on", "off"])]
    stall_backtrace: String,
}

/// Awaits `n` NOPs started together: the first pass submits them all, later
/// passes go on from the first one not yet done (NOPs complete in order).
async fn nops(n: usize) {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;
    let mut ops: Vec<Op<Nop>> = (0..n).map(|_| Op::new(Nop)).collect();
    let mut first = true;
    let mut next = 0;
    std::future::poll_fn(|cx| {
        if first {
            first = false;
            for op in &mut ops[..] {
                let _ = Pin::new(op).poll(cx);
            }
        }
        while next < ops.len() {
            match Pin::new(&mut ops[next]).poll(cx) {
                Poll::Ready(r) => {
                    r.expect("a NOP fails");
                    next += 1;
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(())
    })
    .await
}

fn main() {
    let args: Cli = cli::parse();
    let (backend, n) = (args.backend, args.n);
    if args.what == "raw-nops" {
        let mut ring = raw_ring::RawRing::new(256).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
        let mut left = n;
        while left > 0 {
            let b = left.min(args.batch);
            ring.nops(b as u32);
            left -= b;
        }
        println!("raw ring: {n} nops in batches of {}", args.batch);
        return;
    }
    let timing = args.timing == "on";
    let rt = Builder::new()
        .backend(backend)
        .poll_timing(timing)
        .stall_threshold(timing.then_some(Duration::from_millis(10)))
        .spin_threshold(timing.then_some(10_000))
        .stall_backtrace(args.stall_backtrace == "on")
        .build()
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
    if args.what == "nops" {
        let batch = args.batch;
        rt.block_on(async move {
            let mut left = n;
            while left > 0 {
                let b = left.min(batch);
                nops(b as usize).await;
                left -= b;
            }
        });
        let m = rt.metrics();
        println!(
            "{backend} timing={timing}: {n} nops in batches of {batch}, {} polls, {} loop turns",
            m.tasks_polled, m.loop_iterations
        );
        return;
    }
    let sum = rt.block_on(async move {
        let mut sum = 0u64;
        for i in 0..n {
            sum += ringloop::spawn(async move { i }).await.unwrap_or(0);
            Op::new(Nop).await.unwrap_or(());
        }
        sum
    });
    let m = rt.metrics();
    println!(
        "{backend} timing={timing}: {n} spawn+join and {n} nops (checksum {sum}), {} polls",
        m.tasks_polled
    );
}
