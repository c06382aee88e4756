//! The echo server's serving code, shared by `main.rs` and the tests
//! (`tests/server_echo.rs` includes this file).
//!
//! Timeouts (the policy of `examples/support/deadline.rs`, the same on
//! both backends): `--idle-timeout` from the accept or the end of the last
//! echo until the next bytes arrive (then the connection is closed);
//! `--write-timeout` with `--min-send-rate` on every echo written (a client
//! that does not read its echoes, or reads a trickle, is reset).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use ringloop::driver::PooledBufs;
use ringloop::io::AsyncRead;
use ringloop::net::{TcpListener, TcpStream};

use crate::deadline::{self, Pace, Watchdog, WriteLimit};
use crate::shutdown;
use crate::stats;

#[derive(Clone, Copy)]
pub struct Config {
    pub addr: SocketAddr,
    pub max_conns_per_loop: usize,
    pub grace: Duration,
    /// Bytes per read: the size of the loop's pooled buffers, or of each
    /// connection's own buffer.
    pub buf: usize,
    /// Receive into the loop's pooled buffers (an idle connection holds
    /// none) rather than into a buffer each connection owns.
    pub pooled: bool,
    /// With `pooled`: one receive at a time, or one multishot receive per
    /// connection (with or without receive bundles).
    pub multishot: Multishot,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// The minimum send rate (`--write-timeout`, `--min-send-rate`).
    pub write: WriteLimit,
}

/// How a pooled connection receives (`--recv pooled|stream|bundles`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Multishot {
    /// `recv_pooled`, one receive at a time after the previous echo.
    Off,
    /// `recv_stream`: one multishot receive, one buffer per completion.
    Buffers,
    /// `recv_bundles`: one multishot receive, a completion fills as many
    /// buffers as the queued bytes need (Linux 6.10; one elsewhere).
    Bundles,
}

/// What one loop did.
#[derive(Default, Debug, Clone, Copy)]
pub struct LoopStats {
    pub accepted: u64,
    pub bytes: u64,
    pub accept_errors: u64,
    pub conn_errors: u64,
    /// Connections closed by the idle timeout or the minimum send rate.
    pub timed_out: u64,
    pub left_open: u64,
}

/// Connections alive on this loop, and the acceptor waiting for a free one.
#[derive(Default)]
struct Conns {
    live: Cell<usize>,
    waiter: RefCell<Option<Waker>>,
}

impl Conns {
    fn done(&self) {
        self.live.set(self.live.get() - 1);
        if let Some(w) = self.waiter.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits until fewer than `max` connections are open.
    async fn below(&self, max: usize) {
        poll_fn(|cx| {
            if self.live.get() < max {
                Poll::Ready(())
            } else {
                *self.waiter.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Serves on the current loop until it is told to stop
/// ([`shutdown::trigger`]); `bound` is called with the listening address.
pub async fn serve(
    index: usize,
    cfg: Config,
    bound: impl FnOnce(SocketAddr),
) -> Result<LoopStats, String> {
    let listener = TcpListener::builder(cfg.addr)
        .reuse_port(true)
        .backlog(4096)
        .bind()
        .map_err(|e| format!("bind {}: {e}", cfg.addr))?;
    bound(listener.local_addr().map_err(|e| e.to_string())?);
    let conns = Rc::new(Conns::default());
    let stats = Rc::new(RefCell::new(LoopStats::default()));
    let mut incoming = listener.incoming();
    loop {
        // At the limit, accept nothing until a connection closes.
        if shutdown::or_stop(conns.below(cfg.max_conns_per_loop))
            .await
            .is_none()
        {
            break;
        }
        let next = shutdown::or_stop(poll_fn(|cx| {
            std::pin::Pin::new(&mut incoming).poll_next(cx)
        }))
        .await;
        let stream = match next {
            None => break,
            Some(None) => break,
            Some(Some(Ok(s))) => s,
            Some(Some(Err(e))) => {
                // EMFILE and friends: count, back off a little, keep going.
                stats.borrow_mut().accept_errors += 1;
                if index == 0 && stats.borrow().accept_errors.is_power_of_two() {
                    eprintln!("echo: accept: {e}");
                }
                ringloop::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        stats.borrow_mut().accepted += 1;
        // An echo is written as it was read, in pieces: with Nagle the last
        // short piece of a large message waits for the client's delayed
        // ACK (40 ms on Linux).
        let _ = stream.set_nodelay(true);
        conns.live.set(conns.live.get() + 1);
        stats::conn_opened();
        let (c, st) = (conns.clone(), stats.clone());
        drop(ringloop::spawn(async move {
            let mut t = Timers {
                idle: cfg.idle_timeout,
                dog: Watchdog::default(),
                pace: Pace::new(cfg.write, stream.as_raw_fd()),
            };
            let r = if cfg.pooled && cfg.multishot == Multishot::Bundles {
                echo_multishot(&stream, stream.recv_bundles(), &st, &mut t).await
            } else if cfg.pooled && cfg.multishot == Multishot::Buffers {
                echo_multishot(&stream, stream.recv_stream(), &st, &mut t).await
            } else if cfg.pooled {
                echo_pooled(&stream, &st, &mut t).await
            } else {
                echo(&stream, cfg.buf, &st, &mut t).await
            };
            match r {
                Ok(()) => {}
                Err(End::Idle) => st.borrow_mut().timed_out += 1,
                Err(End::Write(e)) => {
                    // A reset, not a close: the queued echo is thrown away
                    // instead of sent to a client that does not read.
                    let _ = stream.set_linger(Some(Duration::ZERO));
                    if e.kind() == std::io::ErrorKind::TimedOut {
                        st.borrow_mut().timed_out += 1;
                    } else {
                        st.borrow_mut().conn_errors += 1;
                    }
                }
                Err(End::Read) => st.borrow_mut().conn_errors += 1,
            }
            drop(stream);
            stats::conn_closed();
            c.done();
        }));
    }
    drop(incoming);
    drop(listener);
    // Let open connections finish for the grace period.
    let deadline = Instant::now() + cfg.grace;
    let drained = ringloop::time::timeout_at(deadline, conns.below(1)).await;
    if drained.is_err() {
        stats.borrow_mut().left_open = conns.live.get() as u64;
    }
    let s = *stats.borrow();
    Ok(s)
}

/// A connection's timeouts.
struct Timers {
    idle: Duration,
    dog: Watchdog,
    pace: Pace,
}

/// Why a connection ended early.
enum End {
    Idle,
    Read,
    Write(std::io::Error),
}

/// Echoes with pooled receives: a buffer is taken only when bytes arrive
/// and goes back once they are written out. One receive at a time, after
/// the previous echo was written: a client that does not read its echo
/// stops the server reading from it (TCP backpressure), and holds one
/// buffer at most.
async fn echo_pooled(
    stream: &TcpStream,
    stats: &RefCell<LoopStats>,
    t: &mut Timers,
) -> Result<(), End> {
    loop {
        let at = Instant::now() + t.idle;
        let got = t.dog.run(at, stream.recv_pooled()).await;
        let Some(buf) = got.map_err(|_| End::Idle)?.map_err(|_| End::Read)? else {
            return Ok(());
        };
        let n = buf.len();
        let buf = deadline::write_all(stream, buf, &mut t.dog, &mut t.pace)
            .await
            .map_err(End::Write)?;
        drop(buf);
        stats.borrow_mut().bytes += n as u64;
        stats::request();
    }
}

/// Echoes what one multishot receive per connection yields (bytes keep
/// arriving into the pool while an echo is written: a client that does not
/// read its echoes holds the buffers its bytes filled, up to the pool's
/// size, and then waits like any starved receive).
async fn echo_multishot<B: Into<PooledBufs>>(
    stream: &TcpStream,
    mut rx: impl Stream<Item = std::io::Result<B>> + Unpin,
    stats: &RefCell<LoopStats>,
    t: &mut Timers,
) -> Result<(), End> {
    loop {
        let at = Instant::now() + t.idle;
        let next = poll_fn(|cx| std::pin::Pin::new(&mut rx).poll_next(cx));
        let got = t.dog.run(at, next).await;
        let Some(bufs) = got.map_err(|_| End::Idle)? else {
            return Ok(());
        };
        let bufs: PooledBufs = bufs.map_err(|_| End::Read)?.into();
        let n = bufs.len();
        for buf in bufs {
            drop(
                deadline::write_all(stream, buf, &mut t.dog, &mut t.pace)
                    .await
                    .map_err(End::Write)?,
            );
        }
        stats.borrow_mut().bytes += n as u64;
        stats::request();
    }
}

/// Echoes through a buffer the connection owns (its pages touched only as
/// far as reads fill it).
async fn echo(
    stream: &TcpStream,
    size: usize,
    stats: &RefCell<LoopStats>,
    t: &mut Timers,
) -> Result<(), End> {
    let mut buf = Vec::with_capacity(size);
    loop {
        buf.clear();
        let at = Instant::now() + t.idle;
        let (r, b) = t
            .dog
            .run(at, stream.read(buf))
            .await
            .map_err(|_| End::Idle)?;
        let n = r.map_err(|_| End::Read)?;
        if n == 0 {
            return Ok(());
        }
        buf = deadline::write_all(stream, b, &mut t.dog, &mut t.pace)
            .await
            .map_err(End::Write)?;
        stats.borrow_mut().bytes += n as u64;
        stats::request();
    }
}
