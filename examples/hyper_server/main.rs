//! hyper 1.x on ringloop: a thread-per-core HTTP/1.1 and HTTP/2 (prior
//! knowledge) server.
//!
//! ```sh
//! cargo run --release --example hyper_server -- --addr 127.0.0.1:8080 --threads 2
//! curl http://127.0.0.1:8080/
//! curl --http2-prior-knowledge http://127.0.0.1:8080/stream?chunks=3\&size=5 | od -c
//! ```
//!
//! Each loop binds its own `SO_REUSEPORT` listener and serves every
//! connection it accepts in a task of its own (`!Send` is fine: hyper's
//! HTTP/1 connection needs no `Send`, and HTTP/2's streams are spawned on
//! the same loop by [`rt::LocalExec`]). Sockets go to hyper through
//! `ringloop::net::compat::CopyIo` (feature `tokio-io`), which copies
//! between its own buffers and hyper's (see `docs/compat.md` for what that
//! costs). On SIGINT or SIGTERM it stops accepting, asks every connection
//! to finish its in-flight requests (`graceful_shutdown`), waits for them
//! for `--grace`, prints its figures and exits 0; a second signal exits at
//! once. Routes: see `service.rs`.

#[path = "../support/cli.rs"]
mod cli;
mod rt;
mod server;
mod service;
#[path = "../support/shutdown.rs"]
mod shutdown;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use ringloop::Backend;
use server::{serve, Config, LoopStats};

/// hyper 1.x on ringloop: HTTP/1.1 and HTTP/2 (prior knowledge), an
/// SO_REUSEPORT listener per loop; stops gracefully on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "hyper_server")]
struct Cli {
    /// Address to listen on (port 0: pick a free one)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Event loops, one thread each
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::threads())]
    threads: usize,
    /// I/O backend
    #[arg(long, value_name = "auto|uring|epoll", default_value = "auto", value_parser = cli::backend)]
    backend: Backend,
    /// Time open connections get to finish after SIGINT/SIGTERM
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = cli::duration)]
    grace: Duration,
    /// Time a client gets to send a request head
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = cli::nonzero_duration)]
    header_timeout: Duration,
}

fn main() {
    let Cli {
        mut addr,
        threads,
        backend,
        grace,
        header_timeout,
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
        grace,
        header_timeout,
    };

    let rt = shutdown::build_runtime("hyper_server", backend, threads);
    let announce = format!(
        "hyper_server: listening on {addr} with {threads} loop(s) on {}",
        rt.backend()
    );
    let started = Instant::now();
    let per_loop = shutdown::run_until_signal(&rt, "hyper_server", announce, move |i, bound| {
        serve(i, cfg, move |_| bound.done())
    });
    let mut total = LoopStats::default();
    for (i, s) in per_loop.iter().enumerate() {
        match s {
            Ok(s) => {
                total.accepted += s.accepted;
                total.http1 += s.http1;
                total.http2 += s.http2;
                total.accept_errors += s.accept_errors;
                total.conn_errors += s.conn_errors;
                total.left_open += s.left_open;
            }
            Err(e) => eprintln!("hyper_server: loop {i} failed: {e}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "hyper_server: {} connections ({} HTTP/1, {} HTTP/2) in {secs:.1}s, {} accept errors, {} connection errors, {} cut at the end of the grace period",
        total.accepted, total.http1, total.http2, total.accept_errors, total.conn_errors, total.left_open
    );
    println!("{}", rt.metrics());
    let failed = per_loop.iter().any(Result::is_err);
    drop(rt);
    std::process::exit(i32::from(failed));
}
