//! The file server's loop: accept, limit, spawn a task per connection, stop.
//! Shared by `main.rs` and the tests (`tests/server_http.rs` includes this
//! file and its siblings with `#[path]`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};

use crate::conn::Conn;
use crate::deadline::WriteLimit;
use crate::shutdown;

/// Settings shared by every loop.
#[derive(Debug)]
pub struct Config {
    pub addr: SocketAddr,
    /// The served directory (`O_PATH`), opened once by [`crate::open::open_root`].
    pub root: Arc<OwnedFd>,
    pub max_conns_per_loop: usize,
    /// An idle connection (no byte of a next head) is closed after this.
    pub idle_timeout: Duration,
    /// A head must be complete this long after its first byte.
    pub header_timeout: Duration,
    /// The minimum send rate (`--write-timeout`, `--min-send-rate`).
    pub write: WriteLimit,
    /// How long open connections may finish after a stop.
    pub grace: Duration,
    pub log: bool,
    /// Answer `GET /metrics` with the Prometheus text of every loop
    /// (`--metrics`) instead of looking for a file of that name.
    pub metrics: bool,
}

/// What one loop did.
#[derive(Default, Debug, Clone, Copy)]
pub struct LoopStats {
    pub accepted: u64,
    pub rejected_503: u64,
    pub accept_errors: u64,
    pub left_open: u64,
}

/// One loop's state, shared by its connection tasks.
pub struct Shared {
    pub cfg: Arc<Config>,
    live: Cell<usize>,
    stopping: Cell<bool>,
    /// Connections idle between requests, woken to close at a stop.
    idle: RefCell<HashMap<u64, Waker>>,
    /// The stopping acceptor, waiting for the last connection.
    drained: RefCell<Option<Waker>>,
}

impl Shared {
    pub fn stopping(&self) -> bool {
        self.stopping.get()
    }

    /// Runs `fut`; when `idle` (no request under way), gives up with `None`
    /// as soon as the loop stops.
    pub async fn unless_stopped<F: Future>(
        &self,
        id: u64,
        idle: bool,
        fut: F,
    ) -> Option<F::Output> {
        struct Unlist<'a>(&'a Shared, u64);
        impl Drop for Unlist<'_> {
            fn drop(&mut self) {
                self.0.idle.borrow_mut().remove(&self.1);
            }
        }
        let _unlist = Unlist(self, id);
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if idle && self.stopping.get() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            if idle {
                self.idle.borrow_mut().insert(id, cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    fn stop(&self) {
        self.stopping.set(true);
        let wakers: Vec<Waker> = self.idle.borrow_mut().drain().map(|(_, w)| w).collect();
        wakers.into_iter().for_each(Waker::wake);
    }

    fn done(&self) {
        crate::stats::conn_closed();
        self.live.set(self.live.get() - 1);
        if self.live.get() == 0 {
            if let Some(w) = self.drained.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nServer: ringloop\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\nRetry-After: 1\r\n\
Connection: close\r\n\r\n503 Service Unavailable\n";

/// Over `--max-conns`: answer 503 and close, without reading the request
/// first (but draining it briefly, so the close is not a reset).
async fn reject(stream: TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(1);
    let sent = ringloop::time::timeout_at(deadline, stream.write_all(BUSY)).await;
    if !matches!(sent, Ok((Ok(()), _))) {
        return;
    }
    let _ = stream.shutdown(std::net::Shutdown::Write).await;
    let mut buf = Vec::with_capacity(2048);
    for _ in 0..8 {
        buf.clear();
        match ringloop::time::timeout_at(deadline, stream.read(buf)).await {
            Ok((Ok(n), b)) if n > 0 => buf = b,
            _ => return,
        }
    }
}

/// Serves on the current loop until it is told to stop
/// ([`shutdown::trigger`]); `bound` is called with the listening address.
pub async fn serve(cfg: Arc<Config>, bound: impl FnOnce(SocketAddr)) -> Result<LoopStats, String> {
    let listener = TcpListener::builder(cfg.addr)
        .reuse_port(true)
        .backlog(4096)
        .bind()
        .map_err(|e| format!("bind {}: {e}", cfg.addr))?;
    bound(listener.local_addr().map_err(|e| e.to_string())?);
    let shared = Rc::new(Shared {
        cfg: cfg.clone(),
        live: Cell::new(0),
        stopping: Cell::new(false),
        idle: RefCell::new(HashMap::new()),
        drained: RefCell::new(None),
    });
    let mut stats = LoopStats::default();
    let mut incoming = listener.incoming();
    let mut next_id = 0u64;
    loop {
        let next = shutdown::or_stop(poll_fn(|cx| {
            std::pin::Pin::new(&mut incoming).poll_next(cx)
        }))
        .await;
        let stream = match next {
            None | Some(None) => break,
            Some(Some(Ok(s))) => s,
            Some(Some(Err(e))) => {
                // EMFILE and friends: count, back off a little, keep going.
                stats.accept_errors += 1;
                if stats.accept_errors.is_power_of_two() {
                    eprintln!("file_server: accept: {e}");
                }
                ringloop::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.live.get() >= cfg.max_conns_per_loop {
            stats.rejected_503 += 1;
            drop(ringloop::spawn(reject(stream)));
            continue;
        }
        stats.accepted += 1;
        let _ = stream.set_nodelay(true);
        shared.live.set(shared.live.get() + 1);
        crate::stats::conn_opened();
        next_id += 1;
        let conn = Conn::new(stream, shared.clone(), next_id);
        let sh = shared.clone();
        drop(ringloop::spawn(async move {
            conn.run().await;
            sh.done();
        }));
    }
    drop(incoming);
    drop(listener);
    // Idle connections close now; busy ones may finish for the grace period.
    shared.stop();
    let drain = poll_fn(|cx| {
        if shared.live.get() == 0 {
            Poll::Ready(())
        } else {
            *shared.drained.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    });
    if ringloop::time::timeout(cfg.grace, drain).await.is_err() {
        stats.left_open = shared.live.get() as u64;
    }
    Ok(stats)
}
