//! tokio's side (current_thread, every driver enabled as
//! `#[tokio::main(flavor = "current_thread")]` has them): the echo server
//! and the task benches.

use std::io;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{child, sys, BUF};

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Serves echo until the parent closes our stdin: a task per connection
/// with its own 16 KiB buffer, the usual tokio echo.
pub fn echo() -> io::Error {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let r: io::Result<()> = rt.block_on(async {
        let std = sys::listener()?;
        std.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std)?;
        child::announce(listener.local_addr()?.port(), None);
        loop {
            let (mut s, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = vec![0u8; BUF];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    r.err()
        .unwrap_or_else(|| io::Error::other("the listener stopped"))
}

/// ns per spawn + join, and per yield switch, `n` of each.
pub fn tasks(n: usize) -> io::Result<(f64, f64)> {
    let rt = runtime()?;
    let spawn = rt.block_on(async move {
        let t = Instant::now();
        for i in 0..n {
            let v = tokio::spawn(async move { i }).await;
            std::hint::black_box(v.ok());
        }
        t.elapsed().as_nanos() as f64 / n as f64
    });
    let rounds = n.div_ceil(2);
    let switch = rt.block_on(async move {
        let t = Instant::now();
        let other = tokio::spawn(async move {
            for _ in 0..rounds {
                tokio::task::yield_now().await;
            }
        });
        for _ in 0..rounds {
            tokio::task::yield_now().await;
        }
        let _ = other.await;
        t.elapsed().as_nanos() as f64 / (2 * rounds) as f64
    });
    Ok((spawn, switch))
}
