//! The bundled servers' timeout policy, one for both backends: built on
//! ringloop's timers (never on socket options such as `SO_SNDTIMEO`, which
//! an io_uring op does not obey the way a readiness syscall does), so a
//! connection is dropped on the same schedule on io_uring and on epoll.
//!
//! - [`Watchdog`]: a connection's one timer. Each wait it bounds (a read,
//!   a write) sets an instant; moving it later costs nothing (the timer is
//!   re-armed only when it fires early), so a busy connection does not
//!   touch the loop's timer table per operation.
//! - [`Pace`]: the minimum send rate. While a connection has bytes to
//!   send, each window of `--write-timeout` must see the client take at
//!   least `--min-send-rate × --write-timeout` bytes; at the end of a
//!   window that did, the next one starts. A client that stops reading is
//!   dropped at the end of the first window after its socket buffers
//!   filled (two windows after the burst, in practice), and so is one that
//!   reads a trickle: no write can hold the connection by making a little
//!   progress.
//!
//! What the client took is the kernel's count, not the server's: the bytes
//! handed to the socket minus what is still queued in it unacknowledged
//! (`SIOCOUTQ`). Counting completed writes instead made the two backends
//! differ: a readiness op on epoll moves a few bytes whenever it is polled,
//! a `POLL_ADD` on io_uring only once a third of the socket buffer is free,
//! so the same client met a window on one backend and not on the other.
//! [`write_all`] is `write_all` under that rule.
#![allow(dead_code)] // shared by several examples; each uses a part

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::RawFd;
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
        self.run_until(at, fut, || None).await
    }

    /// As [`run`](Self::run), but when `at` passes `renew` may give a new
    /// instant to wait until instead (`fut` keeps running).
    ///
    /// The instant is checked before `fut` is polled: a poll the timer
    /// caused gives `fut` no last try (on epoll a readiness op retries its
    /// syscall whenever it is polled; on io_uring nothing would happen).
    pub async fn run_until<F: Future>(
        &mut self,
        at: Instant,
        fut: F,
        mut renew: impl FnMut() -> Option<Instant>,
    ) -> Result<F::Output, Elapsed> {
        self.set(at);
        let mut fut = pin!(fut);
        poll_fn(|cx| loop {
            while Instant::now() >= self.at {
                match renew() {
                    Some(at) => self.set(at),
                    None => return Poll::Ready(Err(Elapsed)),
                }
            }
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            match Pin::new(&mut self.sleep).poll(cx) {
                Poll::Pending => return Poll::Pending,
                // Fired for an earlier wait: re-arm for this one. (Passed:
                // the check above decides.)
                Poll::Ready(()) if Instant::now() < self.at => self.sleep.reset(self.at),
                Poll::Ready(()) => {}
            }
        })
        .await
    }

    fn set(&mut self, at: Instant) {
        self.at = at;
        if at < self.sleep.deadline() {
            self.sleep.reset(at);
        }
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

/// Bytes queued in a TCP socket and not yet acknowledged (`SIOCOUTQ`);
/// 0 when it cannot be read (the rule then counts what the socket took).
fn unacked(fd: RawFd) -> u64 {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer; `fd`
    // is the connection's socket, open for as long as its `Pace` is used.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
    if r < 0 {
        0
    } else {
        n.max(0) as u64
    }
}

/// The minimum send rate of one connection (see the module docs).
#[derive(Debug)]
pub struct Pace {
    limit: WriteLimit,
    quota: u64,
    fd: RawFd,
    /// Bytes handed to the socket so far.
    written: u64,
    /// Start of the current window, and what the client had taken then.
    start: Instant,
    taken_at_start: u64,
}

impl Pace {
    /// The rule for the TCP socket `fd`.
    pub fn new(limit: WriteLimit, fd: RawFd) -> Pace {
        Pace {
            limit,
            quota: limit.quota(),
            fd,
            written: 0,
            start: Instant::now(),
            taken_at_start: 0,
        }
    }

    /// Bytes the client has taken (acknowledged) so far.
    fn taken(&self) -> u64 {
        self.written.saturating_sub(unacked(self.fd))
    }

    /// Called before a write; returns when its window ends. A window that
    /// ended while the connection had nothing to send (it was reading, or
    /// opening a file) starts over; one that ends during a write is judged
    /// by [`renew`](Self::renew).
    pub fn begin(&mut self) -> Instant {
        let now = Instant::now();
        if now >= self.deadline() {
            self.start = now;
            self.taken_at_start = self.taken();
        }
        self.deadline()
    }

    /// When the current window ends.
    pub fn deadline(&self) -> Instant {
        self.start + self.limit.window
    }

    /// Counts `n` bytes handed to the socket.
    pub fn sent(&mut self, n: usize) {
        self.written += n as u64;
    }

    /// At the end of a window during a write: the end of the next one if
    /// the client took its quota in this one, else `None` (drop it).
    pub fn renew(&mut self) -> Option<Instant> {
        let taken = self.taken();
        if taken.saturating_sub(self.taken_at_start) < self.quota {
            return None;
        }
        self.start = Instant::now();
        self.taken_at_start = taken;
        Some(self.deadline())
    }

    /// Runs one write step `fut` under the rule.
    pub async fn within<F: Future>(&mut self, dog: &mut Watchdog, fut: F) -> io::Result<F::Output> {
        let at = self.begin();
        dog.run_until(at, fut, || self.renew())
            .await
            .map_err(|_| timed_out("write"))
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
        let (res, slice) = pace.within(dog, sock.write(buf.slice(done..total))).await?;
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
