//! The load generator's connection code, shared by `main.rs` and the tests
//! (`tests/server_echo.rs` includes this file).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::TcpStream;

#[derive(Clone, Copy)]
pub struct Config {
    pub addr: SocketAddr,
    pub size: usize,
    pub pipeline: usize,
    pub duration: Duration,
}

#[derive(Default)]
pub struct Results {
    pub messages: u64,
    pub bytes: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Round-trip latencies in ns, one per message.
    pub latencies: Vec<u64>,
}

/// Runs `conns` connections on the current loop until the duration is over.
pub async fn run_loop(conns: usize, cfg: Config) -> Results {
    let results = Rc::new(RefCell::new(Results::default()));
    let deadline = Instant::now() + cfg.duration;
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            let results = results.clone();
            ringloop::spawn(async move {
                if let Err(e) = connection(c, cfg, deadline, &results).await {
                    let mut r = results.borrow_mut();
                    r.errors += 1;
                    r.first_error.get_or_insert_with(|| e.to_string());
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    Rc::try_unwrap(results)
        .map(RefCell::into_inner)
        .unwrap_or_default()
}

async fn connection(
    id: usize,
    cfg: Config,
    deadline: Instant,
    results: &RefCell<Results>,
) -> std::io::Result<()> {
    let s = TcpStream::connect(cfg.addr).await?;
    s.set_nodelay(true)?;
    let batch = cfg.size * cfg.pipeline;
    // A pattern that differs per connection and per byte, to catch mix-ups.
    let expected: Vec<u8> = (0..batch)
        .map(|i| (i.wrapping_mul(31) ^ id) as u8)
        .collect();
    let mut out = expected.clone();
    let mut back = Vec::with_capacity(batch);
    while Instant::now() < deadline {
        let t = Instant::now();
        let (r, o) = s.write_all(out).await;
        out = o;
        r?;
        back.clear();
        let (r, b) = s.read_exact(back).await;
        back = b;
        r?;
        let ns = t.elapsed().as_nanos() as u64;
        if back != expected {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "echo differs from what was sent",
            ));
        }
        let mut r = results.borrow_mut();
        r.messages += cfg.pipeline as u64;
        r.bytes += batch as u64;
        r.latencies.extend(std::iter::repeat_n(ns, cfg.pipeline));
    }
    Ok(())
}
