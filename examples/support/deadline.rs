//! The bundled servers' timeout policy, one for both backends: built on
//! ringloop's timers only (never on socket options such as `SO_SNDTIMEO`,
//! which an io_uring op does not obey the way a readiness syscall does), so
//! a connection is dropped on the same schedule on io_uring and on epoll.
//!
//! - [`Watchdog`]: a connection's one timer. Each wait it bounds (a read,
//!   a write) sets an instant; moving it later costs nothing (the timer is
//!   re-armed only when it fires early), so a busy connection does not
//!   touch the loop's timer table per operation.
//! - [`Pace`]: the minimum send rate. While a connection has bytes to send,
//!   every window of `--write-timeout` must see at least
//!   `--min-send-rate × --write-timeout` bytes accepted by the kernel (or
//!   the rest of what there is to send); the window restarts each time that
//!   quota is met. A client that stops reading is dropped one window after
//!   its socket buffers filled, and so is one that reads a trickle: no
//!   single write can hold the connection open by making a little progress.
//!   [`write_all`] is `write_all` under that rule.
#![allow(dead_code)] // shared by several examples; each uses a part

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use ringloop::buf::IoBuf;
use ringloop::io::AsyncWrite;
use ringloop::time::{sleep_until, Sleep};

/// A deadline far enough away to mean "none".
fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// The error of a wait that ran past its instant.
pub fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// A connection's timer (see the module docs).
#[derive(Debug)]
pub struct Watchdog {
    sleep: Sleep,
    /// When the current wait must end.
    at: Instant,
}

impl Default for Watchdog {
    fn default() -> Self {
        let at = far();
        Watchdog {
            sleep: sleep_until(at),
            at,
        }
    }
}

impl Watchdog {
    /// Runs `fut` until it completes (`Ok`) or `at` passes (`Err`, and
    /// `fut` is dropped: whatever it was doing is cancelled, so the caller
    /// must give up on the connection).
    pub async fn run<F: Future>(&mut self, at: Instant, fut: F) -> Result<F::Output, Elapsed> {
        self.at = at;
        if at < self.sleep.deadline() {
            self.sleep.reset(at);
        }
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            loop {
                match Pin::new(&mut self.sleep).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) if Instant::now() >= self.at => {
                        return Poll::Ready(Err(Elapsed))
                    }
                    // Fired for an earlier wait: re-arm for this one.
                    Poll::Ready(()) => self.sleep.reset(self.at),
                }
            }
        })
        .await
    }
}

/// A [`Watchdog::run`] that ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// The write side's settings: the window and the bytes it must see.
#[derive(Debug, Clone, Copy)]
pub struct WriteLimit {
    /// `--write-timeout`.
    pub window: Duration,
    /// `--min-send-rate`, bytes per second.
    pub min_rate: u64,
}

impl WriteLimit {
    /// Bytes every window must see.
    pub fn quota(&self) -> u64 {
        let q = self.min_rate as u128 * self.window.as_nanos() / 1_000_000_000;
        (q as u64).max(1)
    }
}

/// The minimum send rate of one connection (see the module docs).
#[derive(Debug)]
pub struct Pace {
    limit: WriteLimit,
    quota: u64,
    /// Start of the current window, and the bytes sent in it.
    start: Instant,
    sent: u64,
}

impl Pace {
    pub fn new(limit: WriteLimit) -> Pace {
        Pace {
            limit,
            quota: limit.quota(),
            start: Instant::now(),
            sent: 0,
        }
    }

    /// Called before a write: a window that ran out while the connection
    /// had nothing to send (it was reading, or opening a file) starts over.
    /// One that runs out during a write ends the connection instead.
    pub fn begin(&mut self) -> Instant {
        let now = Instant::now();
        if now >= self.deadline() {
            self.start = now;
            self.sent = 0;
        }
        self.deadline()
    }

    /// When the current window ends.
    pub fn deadline(&self) -> Instant {
        self.start + self.limit.window
    }

    /// Counts `n` bytes the kernel took; a met quota starts a new window.
    pub fn sent(&mut self, n: usize) {
        self.sent += n as u64;
        if self.sent >= self.quota {
            self.start = Instant::now();
            self.sent = 0;
        }
    }
}

/// Writes all of `buf` to `sock` at the rate `pace` demands and gives the
/// buffer back; `TimedOut` when a window passes short of its quota. On any
/// error the buffer is dropped (a timed-out write took it along).
pub async fn write_all<W: AsyncWrite, B: IoBuf>(
    sock: &W,
    buf: B,
    dog: &mut Watchdog,
    pace: &mut Pace,
) -> io::Result<B> {
    let total = buf.bytes_init();
    let mut done = 0;
    let mut buf = buf;
    while done < total {
        let at = pace.begin();
        let (res, slice) = dog
            .run(at, sock.write(buf.slice(done..total)))
            .await
            .map_err(|_| timed_out("write"))?;
        buf = slice.into_inner();
        match res {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                done += n;
                pace.sent(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
}
