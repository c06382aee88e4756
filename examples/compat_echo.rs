//! What `net::compat::CopyIo` costs: echo round trips over loopback TCP on
//! one loop (client and server tasks on the same thread), through the
//! owned-buffer API and through the adapter (futures-io traits and tokio's
//! traits), on both backends, in one run. Prints ns per round trip (median
//! of `--reps` timed runs) and each adapter's ratio to the owned path.
//!
//! ```sh
//! cargo build --release --example compat_echo
//! taskset -c 1 target/release/examples/compat_echo --sizes 64,4096,65536
//! ```
//!
//! Both sides of each round trip go through the same API, so a round trip
//! pays the adapter's copy four times (client write and read, server read
//! and write) against the owned path's zero.

#[path = "support/cli.rs"]
mod cli;

use std::time::{Duration, Instant};

use ringloop::io::{AsyncRead as _, AsyncWrite as _};
use ringloop::net::compat::CopyIo;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::{Backend, Builder};

/// Echo round trips over loopback TCP on one loop: owned buffers vs
/// CopyIo (futures-io and tokio traits). Pin it: taskset -c 1 compat_echo
#[derive(clap::Parser, Debug)]
#[command(name = "compat_echo")]
struct Cli {
    /// Backends to measure: both, uring or epoll
    #[arg(long, value_name = "both|uring|epoll", default_value = "both")]
    backend: String,
    /// Message sizes in bytes, comma-separated
    #[arg(long, value_name = "BYTES,...", default_value = "64,4096,65536", value_delimiter = ',', value_parser = cli::count(64 << 20))]
    sizes: Vec<usize>,
    /// Length of one timed run
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = cli::nonzero_duration)]
    duration: Duration,
    /// Timed runs per figure (the median is printed)
    #[arg(long, value_name = "N", default_value = "3", value_parser = cli::count(1000))]
    reps: usize,
}

/// One way of doing the echo.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Owned,
    Futures,
    Tokio,
}

const PATHS: [Path; 3] = [Path::Owned, Path::Futures, Path::Tokio];

fn main() {
    let Cli {
        backend,
        sizes,
        duration: dur,
        reps,
    } = cli::parse();
    let backends = match backend.as_str() {
        "both" => vec![Backend::IoUring, Backend::Epoll],
        b => vec![b.parse::<Backend>().unwrap_or_else(|e| {
            eprintln!("error: --backend {b}: {e}");
            std::process::exit(2)
        })],
    };

    println!(
        "{:<8} {:>7} {:>12} {:>12} {:>12} {:>9} {:>9}",
        "backend", "bytes", "owned ns", "futures ns", "tokio ns", "fut/own", "tok/own"
    );
    for &b in &backends {
        let rt = match Builder::new().backend(b).build() {
            Ok(rt) => rt,
            Err(e) => {
                println!("{b:<8} cannot start: {e}");
                continue;
            }
        };
        for &size in &sizes {
            let mut ns = [0.0; 3];
            for (k, &path) in PATHS.iter().enumerate() {
                let mut runs: Vec<f64> = (0..reps.max(1))
                    .map(|_| rt.block_on(run(path, size, dur)))
                    .collect();
                runs.sort_by(f64::total_cmp);
                ns[k] = runs[runs.len() / 2];
            }
            println!(
                "{:<8} {:>7} {:>12.0} {:>12.0} {:>12.0} {:>9.2} {:>9.2}",
                b.to_string(),
                size,
                ns[0],
                ns[1],
                ns[2],
                ns[1] / ns[0],
                ns[2] / ns[0]
            );
        }
    }
    println!(
        "legend: ns per echo round trip of `bytes` bytes (median of {reps} runs of {dur:?}); \
         fut/own, tok/own: the adapter's time over the owned-buffer path's"
    );
}

/// Times echo round trips of `size` bytes along `path` for about `dur`;
/// returns ns per round trip.
async fn run(path: Path, size: usize, dur: Duration) -> f64 {
    let l = TcpListener::bind(([127, 0, 0, 1], 0)).expect("bind");
    let c = TcpStream::connect(l.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (s, _) = l.accept().await.expect("accept");
    c.set_nodelay(true).expect("nodelay");
    s.set_nodelay(true).expect("nodelay");
    let server = ringloop::spawn(serve(path, s, size));
    let (n, elapsed) = match path {
        Path::Owned => client_owned(c, size, dur).await,
        Path::Futures => client_futures(CopyIo::new(c), size, dur).await,
        Path::Tokio => client_tokio(CopyIo::new(c), size, dur).await,
    };
    server.await.expect("server task");
    elapsed.as_nanos() as f64 / n as f64
}

/// Round trips (untimed warm-up first) until `dur` has passed; checks
/// every echo's first and last byte. Returns (round trips, time).
macro_rules! rounds {
    ($dur:expr, $size:expr, |$msg:ident| $rt:block) => {{
        let mut $msg = vec![0u8; $size];
        for _ in 0..200 {
            $msg = $rt;
        }
        let t0 = Instant::now();
        let mut n = 0u64;
        while t0.elapsed() < $dur {
            for _ in 0..100 {
                $msg[0] = n as u8;
                let last = $msg.len() - 1;
                $msg[last] = !(n as u8);
                $msg = $rt;
                assert!($msg[0] == n as u8 && $msg[last] == !(n as u8), "bad echo");
                n += 1;
            }
        }
        (n, t0.elapsed())
    }};
}

async fn client_owned(c: TcpStream, size: usize, dur: Duration) -> (u64, Duration) {
    let r = rounds!(dur, size, |msg| {
        let (r, m) = c.write_all(msg).await;
        r.expect("write");
        let (r, m) = c.read_exact(m).await;
        r.expect("read");
        m
    });
    c.shutdown(std::net::Shutdown::Write)
        .await
        .expect("shutdown");
    r
}

async fn client_futures(mut c: CopyIo<TcpStream>, size: usize, dur: Duration) -> (u64, Duration) {
    use futures_util::{AsyncReadExt, AsyncWriteExt};
    let r = rounds!(dur, size, |msg| {
        c.write_all(&msg).await.expect("write");
        c.flush().await.expect("flush");
        c.read_exact(&mut msg).await.expect("read");
        msg
    });
    c.close().await.expect("close");
    r
}

async fn client_tokio(mut c: CopyIo<TcpStream>, size: usize, dur: Duration) -> (u64, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let r = rounds!(dur, size, |msg| {
        c.write_all(&msg).await.expect("write");
        c.flush().await.expect("flush");
        c.read_exact(&mut msg).await.expect("read");
        msg
    });
    c.shutdown().await.expect("shutdown");
    r
}

/// Echoes whole messages of `size` bytes until end of stream.
async fn serve(path: Path, s: TcpStream, size: usize) {
    match path {
        Path::Owned => {
            let mut buf = vec![0u8; size];
            loop {
                let (r, b) = s.read_exact(buf).await;
                if r.is_err() {
                    return; // end of stream
                }
                let (r, b) = s.write_all(b).await;
                r.expect("server write");
                buf = b;
            }
        }
        Path::Futures => {
            use futures_util::{AsyncReadExt, AsyncWriteExt};
            let mut s = CopyIo::new(s);
            let mut buf = vec![0u8; size];
            while s.read_exact(&mut buf).await.is_ok() {
                s.write_all(&buf).await.expect("server write");
                s.flush().await.expect("server flush");
            }
        }
        Path::Tokio => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = CopyIo::new(s);
            let mut buf = vec![0u8; size];
            while s.read_exact(&mut buf).await.is_ok() {
                s.write_all(&buf).await.expect("server write");
                s.flush().await.expect("server flush");
            }
        }
    }
}
