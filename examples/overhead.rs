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

#[path = "support/args.rs"]
mod args;

use std::time::Duration;

use ringloop::driver::{ops::Nop, Op};
use ringloop::{Backend, Builder};

const USAGE: &str = "usage: overhead [--backend uring|epoll] [--timing on|off] [--n 100000]";

fn main() {
    let a = args::Args::parse(USAGE);
    let backend: Backend = a.get("backend", Backend::IoUring);
    let timing = a.get("timing", "on".to_string()) == "on";
    let n: u64 = a.get("n", 100_000);
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
