//! ringloop's side: the echo server (pooled or owned receives) and the task
//! benches, on one loop.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use futures_core::Stream;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::{Backend, Builder};

use crate::{child, sys, BUF};

/// Where an echo server's reads land.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// `recv_pooled`, one receive at a time (the bundled echo server).
    Pooled,
    /// A buffer the connection owns.
    Owned,
    /// `recv_stream`: a multishot receive into the pool.
    Multishot,
}

fn runtime(backend: Backend, recv: Recv) -> io::Result<ringloop::Runtime> {
    let mut b = Builder::new();
    b.backend(backend).threads(1);
    if recv != Recv::Owned {
        // As the bundled echo server: 1,024 buffers of 16 KiB.
        b.recv_buffers(1024, BUF as u32);
    }
    b.build()
}

/// Serves echo on one loop until the parent closes our stdin.
pub fn echo(backend: Backend, recv: Recv) -> io::Error {
    let rt = match runtime(backend, recv) {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let handle = rt.handles().remove(0);
    let r: io::Result<()> = rt.block_on(async move {
        let listener = TcpListener::from_std(sys::listener()?)?;
        let port = listener.local_addr()?.port();
        child::announce(
            port,
            Some(Box::new(move || {
                let m = handle.metrics();
                m.wait_syscalls + m.io_syscalls
            })),
        );
        let mut incoming = listener.incoming();
        loop {
            let next = poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx)).await;
            let stream = match next {
                Some(s) => s?,
                None => return Ok(()),
            };
            drop(ringloop::spawn(async move {
                let _ = match recv {
                    Recv::Pooled => echo_pooled(&stream).await,
                    Recv::Owned => echo_owned(&stream).await,
                    Recv::Multishot => echo_multishot(&stream).await,
                };
            }));
        }
    });
    r.err()
        .unwrap_or_else(|| io::Error::other("the listener stopped"))
}

/// The bundled echo server's pooled path: a loop buffer is taken only when
/// bytes arrive, written back whole, then returned.
async fn echo_pooled(stream: &TcpStream) -> io::Result<()> {
    while let Some(buf) = stream.recv_pooled().await? {
        let (r, buf) = stream.write_all(buf).await;
        drop(buf);
        r?;
    }
    Ok(())
}

/// One multishot receive for the connection's life (re-armed when the
/// kernel ends it), each buffer written back before the next is taken.
async fn echo_multishot(stream: &TcpStream) -> io::Result<()> {
    let mut rx = stream.recv_stream();
    while let Some(buf) = poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await {
        let (r, buf) = stream.write_all(buf?).await;
        drop(buf);
        r?;
    }
    Ok(())
}

/// A 16 KiB buffer owned by the connection, read into and written back.
async fn echo_owned(stream: &TcpStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(BUF);
    loop {
        buf.clear();
        let (r, b) = stream.read(buf).await;
        if r? == 0 {
            return Ok(());
        }
        let (r, b) = stream.write_all(b).await;
        r?;
        buf = b;
    }
}

/// ns per spawn + join, and per yield switch, `n` of each.
pub fn tasks(backend: Backend, n: usize) -> io::Result<(f64, f64)> {
    let rt = runtime(backend, Recv::Owned)?;
    let spawn = rt.block_on(async move {
        let t = Instant::now();
        for i in 0..n {
            let v = ringloop::spawn(async move { i }).await;
            std::hint::black_box(v.ok());
        }
        t.elapsed().as_nanos() as f64 / n as f64
    });
    let rounds = n.div_ceil(2);
    let switch = rt.block_on(async move {
        let t = Instant::now();
        let other = ringloop::spawn(async move {
            for _ in 0..rounds {
                ringloop::yield_now().await;
            }
        });
        for _ in 0..rounds {
            ringloop::yield_now().await;
        }
        let _ = other.await;
        t.elapsed().as_nanos() as f64 / (2 * rounds) as f64
    });
    Ok((spawn, switch))
}
