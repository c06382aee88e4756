//! A thread-per-core HTTP/1.1 static file server.
//!
//! ```sh
//! cargo run --release --example file_server -- --root ./public --addr 127.0.0.1:8080 \
//!     --threads 2 --backend auto|uring|epoll [--max-conns 10000] [--idle-timeout 10s] \
//!     [--header-timeout 10s] [--write-timeout 10s] [--min-send-rate 4096] [--log]
//! ```
//!
//! GET and HEAD, keep-alive and pipelining, single byte ranges,
//! `index.html` for directories (a directory named without its trailing
//! slash is redirected to it), origin- and absolute-form targets, `ETag`
//! and `Last-Modified` with 304/412 for conditional requests and If-Range.
//! Files are opened with `openat2(2)` beneath the root directory fd
//! (`RESOLVE_BENEATH`), so nothing outside `--root` is served whatever the
//! path or the symlinks say; bodies go from file to socket with `splice`
//! (io_uring) or `sendfile` (epoll). The modules:
//!
//! - `server.rs`: accept loop, `--max-conns` (503), stop and grace period;
//! - `conn.rs`: one connection, request by request, with a capped output
//!   buffer and the timeouts of `support/deadline.rs`; `http.rs`: heads,
//!   limits, dates and media types; `target.rs`: the request target's forms;
//!   `path.rs`: its path → root-relative path; `range.rs`; `conditional.rs`:
//!   validators and preconditions;
//! - `open.rs`: the example's own `OpenAt2` `OpCode` and index.html;
//! - `body.rs`: zero-copy bodies with `ringloop::io::FileToSocket` (the
//!   public splice / sendfile API) under the minimum send rate.
//!
//! On SIGINT or SIGTERM it stops accepting, closes idle connections, lets
//! busy ones finish for `--grace`, prints the runtime's figures, exits 0.

mod body;
#[path = "../support/cli.rs"]
mod cli;
mod conditional;
mod conn;
#[path = "../support/deadline.rs"]
mod deadline;
mod http;
mod open;
mod path;
mod range;
mod server;
#[path = "../support/shutdown.rs"]
mod shutdown;
#[path = "../support/stats.rs"]
mod stats;
mod target;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::Parser;
use deadline::WriteLimit;
use ringloop::Backend;
use server::{serve, Config, LoopStats};

/// A thread-per-core HTTP/1.1 static file server (nothing outside --root);
/// stops gracefully on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "file_server")]
struct Cli {
    /// Directory to serve (required)
    #[arg(long, value_name = "DIR", value_parser = NonEmptyStringValueParser::new())]
    root: String,
    /// Address to listen on (port 0: pick a free one)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Event loops, one thread each
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::threads())]
    threads: usize,
    /// I/O backend
    #[arg(long, value_name = "auto|uring|epoll", default_value = "auto", value_parser = cli::backend)]
    backend: Backend,
    /// Most connections open at once, over all loops; more get 503
    #[arg(long, value_name = "M", default_value = "10000", value_parser = cli::count(10_000_000))]
    max_conns: usize,
    /// Time a connection may stay idle (before a request's first byte)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = cli::nonzero_duration)]
    idle_timeout: Duration,
    /// Time a request head may take from its first byte to its end
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = cli::nonzero_duration)]
    header_timeout: Duration,
    /// Window of the minimum send rate: a client that takes less than
    /// --min-send-rate × this in one, while there is data for it, is reset
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = cli::nonzero_duration)]
    write_timeout: Duration,
    /// Minimum send rate in bytes per second (see --write-timeout)
    #[arg(long, value_name = "BYTES", default_value = "4096", value_parser = cli::count(1 << 40))]
    min_send_rate: usize,
    /// Time open connections get to finish after SIGINT/SIGTERM
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = cli::duration)]
    grace: Duration,
    /// Print one line per request [default: off]
    #[arg(long)]
    log: bool,
    /// Print one line of live figures every DURATION (req/s, loop lag p99,
    /// ELU, syscalls per op, connections, blocking-pool queue) [default: off]
    #[arg(long, value_name = "DURATION", value_parser = cli::nonzero_duration)]
    stats: Option<Duration>,
    /// Answer GET /metrics with the runtime's per-loop figures in the
    /// Prometheus text format (instead of a file named metrics) [default: off]
    #[arg(long)]
    metrics: bool,
}

fn fail(msg: String, code: i32) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(code)
}

fn main() {
    let Cli {
        root: root_dir,
        mut addr,
        threads,
        backend,
        max_conns,
        idle_timeout,
        header_timeout,
        write_timeout,
        min_send_rate,
        grace,
        log,
        stats: stats_every,
        metrics,
    } = cli::parse();
    let root =
        open::open_root(std::path::Path::new(&root_dir)).unwrap_or_else(|e| fail(e.to_string(), 1));
    if addr.port() == 0 {
        // Every loop must bind the same port: pick one first.
        addr = std::net::TcpListener::bind(addr)
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| fail(format!("cannot pick a port on {addr}: {e}"), 1));
    }
    let cfg = Arc::new(Config {
        addr,
        root: Arc::new(root),
        max_conns_per_loop: max_conns.div_ceil(threads),
        idle_timeout,
        header_timeout,
        write: WriteLimit {
            window: write_timeout,
            min_rate: min_send_rate as u64,
        },
        grace,
        log,
        metrics,
    });

    let rt = shutdown::build_runtime("file_server", backend, threads);
    let announce = format!(
        "file_server: serving {root_dir} on http://{addr} with {threads} loop(s) on {}",
        rt.backend()
    );
    let started = std::time::Instant::now();
    stats::set_loops(rt.handles());
    let per_loop = shutdown::run_until_signal(&rt, "file_server", announce, move |i, bound| {
        let serving = serve(cfg.clone(), move |_| bound.done());
        async move {
            if let (0, Some(every)) = (i, stats_every) {
                drop(ringloop::spawn(stats::report("file_server", every)));
            }
            serving.await
        }
    });
    let mut total = LoopStats::default();
    for (i, s) in per_loop.iter().enumerate() {
        match s {
            Ok(s) => {
                total.accepted += s.accepted;
                total.rejected_503 += s.rejected_503;
                total.accept_errors += s.accept_errors;
                total.left_open += s.left_open;
            }
            Err(e) => eprintln!("file_server: loop {i} failed: {e}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let reqs = stats::REQUESTS.load(std::sync::atomic::Ordering::Relaxed);
    stats::table(
        &format!("file_server: served for {secs:.1} s"),
        &[
            (
                "connections accepted",
                total.accepted.to_string(),
                "connections",
            ),
            (
                "requests answered",
                reqs.to_string(),
                "responses (any status)",
            ),
            (
                "requests per second",
                format!("{:.0}", reqs as f64 / secs.max(1e-9)),
                "responses/s",
            ),
            (
                "refused at --max-conns",
                total.rejected_503.to_string(),
                "connections answered 503",
            ),
            (
                "accept errors",
                total.accept_errors.to_string(),
                "accepts that failed (EMFILE...)",
            ),
            (
                "still open after the grace period",
                total.left_open.to_string(),
                "connections cut at exit",
            ),
        ],
        "the runtime's figures follow",
    );
    println!("{}", rt.metrics());
    let failed = per_loop.iter().any(Result::is_err);
    drop(rt);
    std::process::exit(i32::from(failed));
}
