//! The proactor's invariants with teeth: a dropped in-flight operation
//! keeps its memory until the kernel's (or the pool's) final completion,
//! and the driver's drop waits for every one of them. Unlike a test whose
//! ops never receive anything, the kernel here *does* write into the
//! buffers of dropped reads, so freeing one early corrupts memory the test
//! checks (canaries), and every op is counted ([`Counted`]): how many
//! final completions were consumed, and whether any value was freed before
//! its own. Both backends; `.ci/run` also runs it under valgrind.
//!
//! `tests/MUTATIONS.md` lists the bugs these tests must catch.
mod util;

use std::ffi::CString;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use ringloop::driver::io_uring::{opcode, squeue, types};
use ringloop::driver::ops::{Nop, Timeout};
use ringloop::driver::SharedFd;
use ringloop::driver::{Completion, Fallback, Interest, Op, OpCode};
use ringloop::Backend;
use util::ops::{pipe, Counted, Ledger, PipeRead, PoolJob, RawAccept, RawOpen};

/// Ops per kind; smaller under valgrind (`RINGLOOP_DROP_OPS`).
fn per_kind() -> usize {
    std::env::var("RINGLOOP_DROP_OPS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(400, |n| (n / 10).max(20))
}

/// One ledger per kind of op.
#[derive(Default)]
struct Ledgers {
    timeout: Arc<Ledger>,
    read: Arc<Ledger>,
    accept: Arc<Ledger>,
    open: Arc<Ledger>,
    pool: Arc<Ledger>,
}

impl Ledgers {
    /// Checks every kind: all values made were freed; none was freed before
    /// its final completion unless it sat on the readiness path (epoll:
    /// nothing is in flight between attempts there); the ops the kernel or
    /// the pool owned all had their final completion consumed.
    fn check(&self, b: Backend, n: usize) {
        let kinds: [(&str, &Arc<Ledger>, bool); 5] = [
            // (name, ledger, in flight on this backend's completion/pool path)
            ("timeout", &self.timeout, b == Backend::IoUring),
            ("read", &self.read, b == Backend::IoUring),
            ("accept", &self.accept, b == Backend::IoUring),
            ("open", &self.open, true),
            ("pool job", &self.pool, true),
        ];
        for (name, l, owned_by_kernel) in kinds {
            let [made, completed, freed, freed_first] = l.get();
            assert_eq!(made, n, "{b} {name}: made");
            assert_eq!(freed, made, "{b} {name}: every value freed");
            if owned_by_kernel {
                assert_eq!(
                    completed, made,
                    "{b} {name}: every final completion consumed"
                );
                assert_eq!(freed_first, 0, "{b} {name}: freed before its completion");
            } else {
                assert_eq!(completed + freed_first, made, "{b} {name}");
            }
        }
    }
}

/// Starts `n` ops of every kind, each in its own task, all in flight (or
/// waiting for readiness) when this returns. Returns what must stay open.
async fn start_every_kind(n: usize, l: &Ledgers) -> Vec<OwnedFd> {
    let (rd, wr) = pipe();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    let path = std::env::temp_dir().join(format!("ringloop-order-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    for _ in 0..n {
        let t = Counted::new(Timeout::new(Duration::from_secs(3600)), &l.timeout);
        drop(ringloop::spawn(async move { drop(Op::new(t).await) }));
        let r = Counted::new(
            PipeRead {
                fd: rd.clone(),
                buf: Vec::with_capacity(64),
            },
            &l.read,
        );
        drop(ringloop::spawn(async move { drop(Op::new(r).await) }));
        let a = Counted::new(RawAccept { fd: lfd.clone() }, &l.accept);
        drop(ringloop::spawn(async move { drop(Op::new(a).await) }));
        let o = Counted::new(
            RawOpen {
                path: cpath.clone(),
            },
            &l.open,
        );
        drop(ringloop::spawn(async move { drop(Op::new(o).await) }));
        let p = Counted::new(
            PoolJob {
                dur: Duration::from_millis(20),
                out: Box::new(0),
            },
            &l.pool,
        );
        drop(ringloop::spawn(async move { drop(Op::new(p).await) }));
    }
    // Every task runs once (FIFO) and starts its op; a Nop round trip then
    // hands every queued SQE to the kernel.
    ringloop::yield_now().await;
    Op::new(Nop).await.unwrap();
    let _ = std::fs::remove_file(&path);
    vec![wr]
}

each_backend!(runtime_drop_finishes_every_kind, |b: Backend| {
    let _one = util::serial();
    util::raise_nofile();
    let n = per_kind();
    let fds = util::open_fds();
    let l = Ledgers::default();
    let rt = util::rt(b);
    let keep = rt.block_on(start_every_kind(n, &l));
    // The tasks (and their futures) are dropped with the runtime, their ops
    // cancelled; its drop must wait for every final completion.
    drop(rt);
    l.check(b, n);
    drop(keep);
    util::assert_no_fd_leak(fds, "no fd leaked");
});

each_backend!(graceful_shutdown_finishes_every_kind, |b: Backend| {
    let _one = util::serial();
    util::raise_nofile();
    let n = per_kind();
    let fds = util::open_fds();
    let l = Ledgers::default();
    let rt = util::rt(b);
    let keep = rt.block_on(start_every_kind(n, &l));
    // The grace period lets the opens and pool jobs finish on their own;
    // the rest is cancelled at its end.
    let cancelled = rt.shutdown(Duration::from_millis(100));
    assert!(
        cancelled >= 3 * n,
        "timeouts, reads and accepts never finish"
    );
    l.check(b, n);
    drop(keep);
    util::assert_no_fd_leak(fds, "no fd leaked");
});

/// A read of at most `want` bytes into a buffer of `CAP` canary bytes.
struct CanaryRead {
    fd: SharedFd,
    buf: Vec<u8>,
    want: usize,
}

const CAP: usize = 4096;
const CANARY: u8 = 0xA5;
const DATA: u8 = 0x3C;

fn canary_buf() -> Vec<u8> {
    vec![CANARY; CAP]
}

// SAFETY: the SQE points into `self.buf` (`want` <= its length), owned by
// the value, which the runtime keeps alive until the final CQE.
unsafe impl OpCode for CanaryRead {
    type Output = (io::Result<usize>, Vec<u8>);
    const CODE: u8 = opcode::Read::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Read::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.as_mut_ptr(),
            self.want as u32,
        )
        .build()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        })
    }
    fn try_io(&mut self) -> io::Result<u32> {
        // SAFETY: reads at most `want` bytes into the op's own buffer.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), self.buf.as_mut_ptr().cast(), self.want) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as u32)
    }
    fn complete(self, c: Completion) -> Self::Output {
        (c.result.map(|n| n as usize), self.buf)
    }
}

/// Checks a buffer that a read of `n` bytes of `DATA` went into.
fn assert_canaries(buf: &[u8], n: usize, what: &str) {
    assert_eq!(buf.len(), CAP, "{what}: buffer length");
    assert!(buf[..n].iter().all(|&b| b == DATA), "{what}: data");
    assert!(
        buf[n..].iter().all(|&b| b == CANARY),
        "{what}: canary overwritten (memory written after it was freed?)"
    );
}

fn write_all_pipes(wr: &[OwnedFd], len: usize) {
    let data = vec![DATA; len];
    for w in wr {
        // SAFETY: writes `len` bytes from a live buffer to a pipe we own.
        let r = unsafe { libc::write(w.as_raw_fd(), data.as_ptr().cast(), len) };
        assert_eq!(r, len as isize, "pipe write");
    }
}

each_backend!(the_kernel_writes_into_dropped_reads_safely, |b: Backend| {
    let _one = util::serial();
    util::raise_nofile();
    const PIPES: usize = 256;
    const WANT: usize = 512;
    let rt = util::rt(b);
    let ledger = Arc::new(Ledger::default());
    rt.block_on(async {
        let pipes: Vec<_> = (0..PIPES).map(|_| pipe()).collect();
        // Two reads per pipe: the first of each is kept, the second dropped.
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for (rd, _) in &pipes {
            for keep in [true, false] {
                let op = Counted::new(
                    CanaryRead {
                        fd: rd.clone(),
                        buf: canary_buf(),
                        want: WANT,
                    },
                    &ledger,
                );
                let mut fut = Box::pin(Op::new(op));
                let polled = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(fut.as_mut().poll(cx).is_ready())
                })
                .await;
                assert!(!polled, "nothing written yet");
                if keep {
                    kept.push(fut)
                } else {
                    dropped.push(fut)
                }
            }
        }
        // Let the loop hand every read to the kernel.
        Op::new(Nop).await.unwrap();
        // In one turn: drop half of the reads (their cancels are queued, not
        // yet sent) and make data arrive for all of them. On io_uring the
        // kernel completes reads of dropped futures before their cancels
        // land, writing into the buffers the driver still holds.
        drop(dropped);
        let wr: Vec<OwnedFd> = pipes.into_iter().map(|(_, w)| w).collect();
        write_all_pipes(&wr, 2 * WANT);
        // Memory freed too early would be handed out again here, and the
        // kernel's writes would land in these.
        let fresh: Vec<Vec<u8>> = (0..2 * PIPES).map(|_| canary_buf()).collect();
        for (i, fut) in kept.into_iter().enumerate() {
            let (r, buf) = fut.await;
            let n = r.unwrap();
            assert!(n > 0 && n <= WANT, "read {i}: {n} bytes");
            assert_canaries(&buf, n, &format!("kept read {i}"));
        }
        // The dropped reads' final completions are reaped meanwhile.
        let t0 = std::time::Instant::now();
        while ringloop::Handle::current().metrics().ops_in_flight != 0 {
            assert!(t0.elapsed() < util::LIMIT, "dropped reads never finished");
            ringloop::time::sleep(Duration::from_millis(1)).await;
        }
        for (i, buf) in fresh.iter().enumerate() {
            assert_canaries(buf, 0, &format!("fresh buffer {i}"));
        }
        drop(wr);
    });
    let [made, completed, freed, freed_first] = ledger.get();
    assert_eq!((made, freed), (2 * PIPES, 2 * PIPES));
    match b {
        Backend::IoUring => {
            assert_eq!(completed, made, "every read had its final completion");
            assert_eq!(freed_first, 0, "no buffer freed before its completion");
        }
        _ => assert_eq!(completed + freed_first, made),
    }
});

each_backend!(data_arriving_during_shutdown_is_safe, |b: Backend| {
    let _one = util::serial();
    util::raise_nofile();
    const PIPES: usize = 128;
    let rt = util::rt(b);
    let ledger = Arc::new(Ledger::default());
    let wr = rt.block_on(async {
        let pipes: Vec<_> = (0..PIPES).map(|_| pipe()).collect();
        for (rd, _) in &pipes {
            for _ in 0..4 {
                let op = Counted::new(
                    CanaryRead {
                        fd: rd.clone(),
                        buf: canary_buf(),
                        want: 256,
                    },
                    &ledger,
                );
                // Detached: the runtime's drop cancels it.
                drop(ringloop::spawn(async move {
                    let (r, buf) = Op::new(op).await;
                    assert_canaries(&buf, r.unwrap(), "a read that completed");
                }));
            }
        }
        ringloop::yield_now().await;
        Op::new(Nop).await.unwrap();
        pipes.into_iter().map(|(_, w)| w).collect::<Vec<OwnedFd>>()
    });
    // Data keeps arriving from another thread while the runtime shuts down.
    let writer = std::thread::spawn(move || {
        for _ in 0..64 {
            for w in &wr {
                let d = [DATA; 64];
                // SAFETY: a write from a live local buffer to a pipe we own;
                // EAGAIN (full pipe) is fine.
                unsafe { libc::write(w.as_raw_fd(), d.as_ptr().cast(), d.len()) };
            }
        }
        wr
    });
    drop(rt);
    let wr = writer.join().unwrap();
    let fresh: Vec<Vec<u8>> = (0..PIPES).map(|_| canary_buf()).collect();
    for (i, buf) in fresh.iter().enumerate() {
        assert_canaries(buf, 0, &format!("fresh buffer {i}"));
    }
    let [made, completed, freed, freed_first] = ledger.get();
    assert_eq!((made, freed), (4 * PIPES, 4 * PIPES));
    if b == Backend::IoUring {
        assert_eq!(completed, made, "every read had its final completion");
        assert_eq!(freed_first, 0, "no buffer freed before its completion");
    }
    drop(wr);
});
