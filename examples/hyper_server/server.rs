//! The hyper server's serving code, shared by `main.rs` and the tests
//! (`tests/hyper.rs` includes this file): one `SO_REUSEPORT` listener per
//! loop, one task per connection, HTTP/1.1 or HTTP/2 (prior knowledge,
//! told apart by the client's first bytes), and a graceful stop.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use ringloop::net::compat::CopyIo;
use ringloop::net::{TcpListener, TcpStream};

use crate::rt::{HyperIo, LocalExec, RingTimer};
use crate::{service, shutdown};

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    /// After a stop, how long open connections get to finish.
    pub grace: Duration,
    /// How long a client may take to send a request's headers (HTTP/1).
    pub header_timeout: Duration,
}

/// What one loop did.
#[derive(Default, Debug, Clone, Copy)]
pub struct LoopStats {
    pub accepted: u64,
    pub http1: u64,
    pub http2: u64,
    pub accept_errors: u64,
    pub conn_errors: u64,
    pub left_open: u64,
}

/// Connections alive on this loop, and the task waiting for none.
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

    async fn none(&self) {
        poll_fn(|cx| {
            if self.live.get() == 0 {
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
        let next = shutdown::or_stop(poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx))).await;
        let stream = match next {
            None | Some(None) => break,
            Some(Some(Ok(s))) => s,
            Some(Some(Err(e))) => {
                // EMFILE and friends: count, back off a little, keep going.
                stats.borrow_mut().accept_errors += 1;
                if index == 0 && stats.borrow().accept_errors.is_power_of_two() {
                    eprintln!("hyper_server: accept: {e}");
                }
                ringloop::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        stats.borrow_mut().accepted += 1;
        conns.live.set(conns.live.get() + 1);
        let (c, st) = (conns.clone(), stats.clone());
        drop(ringloop::spawn(async move {
            match serve_conn(stream, cfg).await {
                Ok(Some(Proto::Http1)) => st.borrow_mut().http1 += 1,
                Ok(Some(Proto::Http2)) => st.borrow_mut().http2 += 1,
                Ok(None) => {}
                Err(_) => st.borrow_mut().conn_errors += 1,
            }
            c.done();
        }));
    }
    drop(incoming);
    drop(listener);
    // Open connections were told to finish (graceful_shutdown); give them
    // the grace period.
    let deadline = Instant::now() + cfg.grace;
    if ringloop::time::timeout_at(deadline, conns.none())
        .await
        .is_err()
    {
        stats.borrow_mut().left_open = conns.live.get() as u64;
    }
    let s = *stats.borrow();
    Ok(s)
}

/// The protocol a connection spoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Http1,
    Http2,
}

/// The first bytes of an HTTP/2 connection with prior knowledge (the
/// client preface starts `PRI * HTTP/2.0`); no HTTP/1 method is `PRI`.
const H2_START: &[u8] = b"PRI ";

/// Serves one connection until the client closes it or, after a stop, the
/// in-flight requests are answered. `Ok(None)`: stopped or closed before
/// the first byte.
pub async fn serve_conn(stream: TcpStream, cfg: Config) -> Result<Option<Proto>, hyper::Error> {
    // Small responses go out at once (no Nagle delay).
    let _ = stream.set_nodelay(true);
    let mut io = CopyIo::new(stream);
    // Peek at the first bytes (the adapter keeps them for hyper).
    let first = shutdown::or_stop(poll_fn(|cx| {
        tokio::io::AsyncBufRead::poll_fill_buf(Pin::new(&mut io), cx).map_ok(|b| {
            let n = b.len().min(H2_START.len());
            (b.is_empty(), n > 0 && b[..n] == H2_START[..n])
        })
    }))
    .await;
    let h2 = match first {
        None | Some(Err(_)) | Some(Ok((true, _))) => return Ok(None),
        Some(Ok((false, h2))) => h2,
    };
    let svc = service_fn(service::handle);
    if h2 {
        let conn = http2::Builder::new(LocalExec)
            .timer(RingTimer)
            .serve_connection(HyperIo::new(io), svc);
        let mut conn = pin!(conn);
        match shutdown::or_stop(conn.as_mut()).await {
            Some(r) => r?,
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await?;
            }
        }
        Ok(Some(Proto::Http2))
    } else {
        let conn = http1::Builder::new()
            .timer(RingTimer)
            .header_read_timeout(cfg.header_timeout)
            .serve_connection(HyperIo::new(io), svc);
        let mut conn = pin!(conn);
        match shutdown::or_stop(conn.as_mut()).await {
            Some(r) => r?,
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await?;
            }
        }
        Ok(Some(Proto::Http1))
    }
}
