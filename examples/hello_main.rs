//! `#[ringloop::main]` in a few lines: the body is an ordinary async fn that
//! spawns a task, sleeps and reads a file, on whichever backend the runtime
//! chose (`RINGLOOP_BACKEND=uring|epoll` picks one).
//!
//! ```sh
//! cargo run --example hello_main
//! RINGLOOP_BACKEND=epoll cargo run --example hello_main
//! ```
//!
//! A runtime that cannot start (say `RINGLOOP_BACKEND=bogus`) is reported on
//! stderr and the program exits with code 1.

use std::io;
use std::time::{Duration, Instant};

use clap::Parser;

/// A #[ringloop::main] program in a few lines: spawns a task, sleeps and
/// reads a file on the backend the runtime chose (RINGLOOP_BACKEND=uring or
/// epoll picks one). It takes no flags.
#[derive(Parser, Debug)]
#[command(name = "hello_main")]
struct Cli {}

#[ringloop::main]
async fn main() -> io::Result<()> {
    // Only `--help`; anything else is an error (exit code 2).
    Cli::parse();
    let backend = ringloop::current_backend().expect("the body runs on a loop");
    let start = Instant::now();
    let task = ringloop::spawn(async {
        ringloop::time::sleep(Duration::from_millis(1)).await;
        21
    });
    let answer = task.await.map_err(|e| io::Error::other(e.to_string()))? * 2;
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let bytes = ringloop::fs::read(manifest).await?.len();
    println!(
        "hello from ringloop on {backend}: answer {answer}, read {bytes} bytes of Cargo.toml, \
         in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
