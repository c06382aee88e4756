//! The hyper example's service on tokio's current-thread runtime, for the
//! side-by-side bench (`scripts/hyper_bench`): the same routes
//! (`hyper_server/service.rs`), the same hyper glue (`hyper_server/rt.rs`'s
//! `HyperIo`, here over `tokio::net::TcpStream`, which reads straight into
//! hyper's buffer), HTTP/1.1 with the same header read timeout, one thread.
//!
//! ```sh
//! cargo run --release --example hyper_tokio -- --addr 127.0.0.1:8081
//! ```
//!
//! It runs until killed (SIGINT/SIGTERM end it at once).

#[path = "support/cli.rs"]
mod cli;
#[path = "hyper_server/rt.rs"]
mod rt;
#[path = "hyper_server/service.rs"]
mod service;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use rt::HyperIo;

/// The hyper service of `hyper_server`, on tokio's current_thread runtime
/// (the yardstick of `scripts/hyper_bench`).
#[derive(clap::Parser, Debug)]
#[command(name = "hyper_tokio")]
struct Cli {
    /// Address to listen on
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:8081")]
    addr: SocketAddr,
    /// Time a client gets to send a request head
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = cli::nonzero_duration)]
    header_timeout: Duration,
}

fn main() {
    let Cli {
        addr,
        header_timeout,
    } = cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("hyper_tokio: cannot start tokio: {e}");
            std::process::exit(1)
        });
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| {
                eprintln!("hyper_tokio: bind {addr}: {e}");
                std::process::exit(1)
            });
        let addr = listener.local_addr().expect("local address");
        println!("hyper_tokio: listening on {addr} on tokio current_thread");
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("hyper_tokio: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::task::spawn_local(async move {
                let _ = http1::Builder::new()
                    .timer(TokioTimer)
                    .header_read_timeout(header_timeout)
                    .serve_connection(HyperIo::new(stream), service_fn(service::handle))
                    .await;
            });
        }
    });
}

/// hyper's timer over `tokio::time` (what hyper-util's `TokioTimer` does).
#[derive(Clone, Copy, Debug)]
struct TokioTimer;

struct TokioSleep(Pin<Box<tokio::time::Sleep>>);

impl Future for TokioSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for TokioSleep {}

impl hyper::rt::Timer for TokioTimer {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep(Box::pin(tokio::time::sleep(d))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep(Box::pin(tokio::time::sleep_until(
            deadline.into(),
        ))))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TokioSleep>() {
            Some(mut s) => s.0.as_mut().reset(deadline.into()),
            None => *sleep = self.sleep_until(deadline),
        }
    }
}
