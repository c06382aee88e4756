//! The load generator's connection code, shared by `main.rs` and the tests
//! (`tests/server_echo.rs` includes this file).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::TcpStream;

/// The longest round trip the latency histogram tells apart; a longer one
/// is counted as this long.
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
pub struct Config {
    pub addr: SocketAddr,
    pub size: usize,
    pub pipeline: usize,
    pub duration: Duration,
}

pub struct Results {
    pub messages: u64,
    pub bytes: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Round-trip latencies in ns, one count per message: 3 significant
    /// digits from 1 ns to [`MAX_LATENCY`], in a fixed ~220 KiB however long
    /// the run (a `Vec` of samples grew by 8 bytes per message).
    pub latencies: Histogram<u64>,
}

impl Default for Results {
    fn default() -> Self {
        let max = MAX_LATENCY.as_nanos() as u64;
        Results {
            messages: 0,
            bytes: 0,
            errors: 0,
            first_error: None,
            latencies: Histogram::new_with_bounds(1, max, 3).expect("valid histogram bounds"),
        }
    }
}

impl Results {
    /// Adds another loop's results to these.
    pub fn merge(&mut self, other: Results) {
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.latencies
            .add(&other.latencies)
            .expect("histograms with the same bounds");
    }

    /// The latency at quantile `q` (0..=1); zero when nothing was recorded.
    pub fn latency(&self, q: f64) -> Duration {
        Duration::from_nanos(self.latencies.value_at_quantile(q))
    }
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
        r.latencies.saturating_record_n(ns, cfg.pipeline as u64);
    }
    Ok(())
}
