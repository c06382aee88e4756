//! A thread-per-core HTTP/1.1 static file server.
//!
//! ```sh
//! cargo run --release --example file_server -- --root ./public --addr 127.0.0.1:8080 \
//!     --threads 2 --backend auto|uring|epoll [--max-conns 10000] [--idle-timeout 10s] [--log]
//! ```
//!
//! GET and HEAD, keep-alive and pipelining, single byte ranges,
//! `index.html` for directories (a directory named without its trailing
//! slash is redirected to it), origin- and absolute-form targets, `ETag`
//! and `Last-Modified` with 304/412 for conditional requests and If-Range. Files are opened with `openat2(2)` beneath
//! the root directory fd (`RESOLVE_BENEATH`), so nothing outside `--root`
//! is served whatever the path or the symlinks say; bodies go from file to
//! socket with `splice` (io_uring) or `sendfile` (epoll). The modules:
//!
//! - `server.rs`: accept loop, `--max-conns` (503), stop and grace period;
//! - `conn.rs`: one connection, request by request; `http.rs`: heads,
//!   limits, dates and media types; `target.rs`: the request target's forms;
//!   `path.rs`: its path → root-relative path; `range.rs`; `conditional.rs`:
//!   validators and preconditions;
//! - `open.rs`: the example's own `OpenAt2` `OpCode` and index.html;
//! - `body.rs`: zero-copy bodies with the `OpCode`s of `ops.rs` (`Splice`,
//!   `SendFile`, `PollOut`).
//!
//! On SIGINT or SIGTERM it stops accepting, closes idle connections, lets
//! busy ones finish for `--grace`, prints the runtime's figures, exits 0.

#[path = "../support/args.rs"]
mod args;
mod body;
mod conditional;
mod conn;
mod http;
mod open;
mod ops;
mod path;
mod range;
mod server;
#[path = "../support/shutdown.rs"]
mod shutdown;
mod target;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ringloop::Backend;
use server::{serve, Config, LoopStats};

const USAGE: &str = "usage: file_server --root DIR [--addr 127.0.0.1:8080] [--threads N]
            [--backend auto|uring|epoll] [--max-conns M] [--idle-timeout 10s]
            [--grace 2s] [--log]";

fn fail(msg: String, code: i32) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(code)
}

fn duration(a: &args::Args, name: &str, default: &str) -> Duration {
    args::duration(&a.get(name, default.to_string()))
        .unwrap_or_else(|e| fail(format!("--{name}: {e}\n\n{USAGE}"), 2))
}

fn main() {
    let a = args::Args::parse(USAGE);
    let root_dir: String = a.get("root", String::new());
    if root_dir.is_empty() || root_dir == "true" {
        fail(format!("--root DIR is required\n\n{USAGE}"), 2);
    }
    let backend: Backend = a
        .get("backend", "auto".to_string())
        .parse()
        .unwrap_or_else(|e| fail(format!("{e}\n\n{USAGE}"), 2));
    let threads = a.get("threads", 1usize).max(1);
    let max_conns = a.get("max-conns", 10_000usize).max(1);
    let mut addr: SocketAddr = a.get("addr", "127.0.0.1:8080".parse().expect("valid default"));
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
        idle_timeout: duration(&a, "idle-timeout", "10s"),
        grace: duration(&a, "grace", "2s"),
        log: a.flag("log"),
    });

    let rt = shutdown::build_runtime("file_server", backend, threads);
    let announce = format!(
        "file_server: serving {root_dir} on http://{addr} with {threads} loop(s) on {}",
        rt.backend()
    );
    let per_loop = shutdown::run_until_signal(&rt, "file_server", announce, move |_, bound| {
        serve(cfg.clone(), move |_| bound.done())
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
    println!(
        "file_server: {} connections, {} refused with 503, {} accept errors, {} cut at the end of the grace period",
        total.accepted, total.rejected_503, total.accept_errors, total.left_open
    );
    println!("{}", rt.metrics());
    let failed = per_loop.iter().any(Result::is_err);
    drop(rt);
    std::process::exit(i32::from(failed));
}
