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

#[path = "support/cli.rs"]
mod cli;

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
}

fn main() {
    let args: Cli = cli::parse();
    let (backend, n) = (args.backend, args.n);
    let timing = args.timing == "on";
    let rt = Builder::new()
        .backend(backend)
        .poll_timing(timing)
        .stall_threshold(timing.then_some(Duration::from_millis(10)))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
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
