//! Loop health beyond stalls: event-loop utilization, empty wakes and the
//! busy-spin detector, events and tasks per turn, completion-to-poll delay.
//! Both backends.
mod util;

use std::future::poll_fn;
use std::io;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use ringloop::driver::io_uring::{opcode, squeue, types};
use ringloop::driver::ops::Nop;
use ringloop::driver::{Completion, Fallback, Interest, MultiOp, MultishotOpCode, Op, OpCode};
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::metrics::{StallKind, StallReport};
use ringloop::{Backend, Builder};

/// A multishot `POLL_ADD` (readable) on `fd`; on epoll its readiness
/// fallback (one item per readable edge).
struct PollMulti(RawFd);

// SAFETY: the SQE carries only an fd, which the test keeps open for longer
// than the operation.
unsafe impl OpCode for PollMulti {
    type Output = io::Result<u32>;
    const CODE: u8 = opcode::PollAdd::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(types::Fd(self.0), libc::POLLIN as u32)
            .multi(true)
            .build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.0,
            interest: Interest::Readable,
        })
    }

    fn try_io(&mut self) -> io::Result<u32> {
        let mut p = libc::pollfd {
            fd: self.0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        match unsafe { libc::poll(&mut p, 1, 0) } {
            1 => Ok(p.revents as u32),
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    fn complete(self, c: Completion) -> io::Result<u32> {
        c.result
    }
}

impl MultishotOpCode for PollMulti {
    type Item = io::Result<u32>;
    fn item(&mut self, c: Completion) -> io::Result<u32> {
        c.result
    }
}

/// A non-blocking eventfd.
fn eventfd() -> OwnedFd {
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", io::Error::last_os_error());
    // SAFETY: `fd` is a new fd this function owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Signals `fd` every `period` (paced, not a synchronisation) until `stop`
/// is set or the time limit passes: an fd that keeps firing.
fn poke(fd: RawFd, period: Duration, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let end = Instant::now() + util::LIMIT;
        while !stop.load(Ordering::Relaxed) && Instant::now() < end {
            let one = 1u64;
            // SAFETY: writes 8 bytes from a local to an eventfd the test
            // keeps open until this thread is joined.
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
            std::thread::sleep(period);
        }
    })
}

/// Stall reports, and a waker to wake when one arrives.
#[derive(Default)]
struct Reports {
    seen: Mutex<(Vec<StallReport>, Option<Waker>)>,
}

impl Reports {
    fn hook(self: &Arc<Self>) -> impl Fn(&StallReport) + Send + Sync + 'static {
        let me = self.clone();
        move |r| {
            let mut g = me.seen.lock().unwrap();
            g.0.push(r.clone());
            if let Some(w) = g.1.take() {
                w.wake();
            }
        }
    }

    /// Resolves once a spin was reported.
    async fn spin(&self) -> StallReport {
        poll_fn(|cx| {
            let mut g = self.seen.lock().unwrap();
            if let Some(r) =
                g.0.iter()
                    .find(|r| matches!(r.kind, StallKind::Spin { .. }))
            {
                return Poll::Ready(r.clone());
            }
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    fn spins(&self) -> usize {
        let g = self.seen.lock().unwrap();
        g.0.iter()
            .filter(|r| matches!(r.kind, StallKind::Spin { .. }))
            .count()
    }
}

// A multishot poll on an fd that keeps firing (an eventfd another thread
// keeps signalling, nobody reads), whose stream the task no longer polls
// (io_uring: a re-armed operation whose CQEs queue up and wake nobody), or
// the same fd's edges with no waiter (epoll: an interest left on): the loop
// wakes again and again for nothing.
each_backend!(spin_is_reported, |b: Backend| {
    let reports = Arc::new(Reports::default());
    let rt = Builder::new()
        .backend(b)
        .spin_threshold(Some(100))
        .spin_window(Duration::from_millis(50))
        .on_stall(reports.hook())
        .build()
        .unwrap();
    let efd = eventfd();
    let stop = Arc::new(AtomicBool::new(false));
    let (r, poker) = rt.block_on(async {
        let mut stream = MultiOp::new(PollMulti(efd.as_raw_fd()));
        // Armed (io_uring) or registered and waiting (epoll) before the fd
        // fires: the eventfd is not readable yet.
        let armed = poll_fn(|cx| Poll::Ready(Pin::new(&mut stream).poll_next(cx).is_pending()));
        assert!(armed.await);
        let poker = poke(efd.as_raw_fd(), Duration::from_micros(50), stop.clone());
        // One edge is consumed; after that nobody polls the stream.
        let first = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
        assert!(first.expect("a first item").is_ok());
        let r = ringloop::time::timeout(util::LIMIT, reports.spin())
            .await
            .expect("no spin reported within the time limit");
        (r, poker)
    });
    stop.store(true, Ordering::Relaxed);
    poker.join().unwrap();
    let StallKind::Spin { empty_wakes } = r.kind else {
        unreachable!()
    };
    assert!(empty_wakes >= 5, "{r}");
    assert!(r.duration <= Duration::from_millis(50), "{r}");
    assert_eq!(r.loop_index, 0);
    assert!(r.to_string().contains("spinning"), "{r}");
    let m = rt.metrics();
    assert!(m.empty_wakes >= empty_wakes, "{}", m.empty_wakes);
    assert!(m.spins >= 1);
    println!("{r}");
});

// A busy request-response server (a blocking client on another thread,
// ping-pong over TCP) wakes its loop once per message, for a task each
// time: its empty wakes (epoll: the edge of data a recv already took) come
// one at a time, and do not add up to a spin even at the threshold the
// spinning test uses.
each_backend!(echo_server_does_not_spin, |b: Backend| {
    let reports = Arc::new(Reports::default());
    let rt = Builder::new()
        .backend(b)
        .spin_threshold(Some(100))
        .spin_window(Duration::from_millis(50))
        .on_stall(reports.hook())
        .build()
        .unwrap();
    const ROUNDS: usize = 5_000;
    let before = rt.metrics();
    rt.block_on(async {
        let l = ringloop::net::TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            s.set_read_timeout(Some(util::LIMIT)).unwrap();
            let mut buf = [0u8; 64];
            for i in 0..ROUNDS {
                let msg = [i as u8; 64];
                s.write_all(&msg).unwrap();
                s.read_exact(&mut buf).unwrap();
                assert_eq!(buf, msg);
            }
        });
        let (s, _) = l.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = Vec::with_capacity(64);
        loop {
            buf.clear();
            let (r, b) = s.read(buf).await;
            if r.unwrap() == 0 {
                break;
            }
            let (r, b) = s.write_all(b).await;
            r.unwrap();
            buf = b;
        }
        client.join().unwrap();
    });
    let m = rt.metrics();
    assert_eq!(reports.spins(), 0);
    assert_eq!(m.spins, 0);
    // Well below one per round trip.
    let empty = m.empty_wakes - before.empty_wakes;
    assert!(empty < ROUNDS as u64 / 2, "{empty} empty wakes");
    println!("{b}: {empty} empty wakes in {ROUNDS} round trips");
});

// A loop waiting on a timer is parked: its utilization is far from 1; a
// loop running a busy task is not: far from 0. The interval ratio between
// two snapshots sees each phase on its own.
each_backend!(elu_tells_parked_from_busy, |b: Backend| {
    let rt = util::rt(b);
    let t0 = rt.metrics();
    rt.block_on(ringloop::time::sleep(Duration::from_millis(30)));
    let t1 = rt.metrics();
    let during = rt.block_on(async {
        // Busy without parking: the thing ELU must tell from waiting.
        let end = Instant::now() + Duration::from_millis(30);
        while Instant::now() < end {
            std::hint::spin_loop();
        }
        // Read from another thread while the poll is still running.
        let h = ringloop::Handle::current();
        std::thread::spawn(move || h.metrics()).join().unwrap()
    });
    let t2 = rt.metrics();
    // The phase in progress is included: a stuck poll shows as it grows.
    assert!(
        during.busy - t1.busy >= Duration::from_millis(30),
        "{:?}",
        during.busy
    );
    let idle = t1.elu_since(&t0);
    let busy = t2.elu_since(&t1);
    assert!(idle < 0.5, "waiting on a timer: ELU {idle}");
    assert!(busy > 0.5, "spinning in a poll: ELU {busy}");
    assert!(t1.parked > t1.busy, "{:?} {:?}", t1.parked, t1.busy);
    // The spin ran inside one poll: all of it is busy time.
    assert!(t2.busy - t1.busy >= Duration::from_millis(30));
    let all = t2.elu();
    assert!(all > 0.0 && all < 1.0, "{all}");
    // A runtime's figure is the mean over its loops.
    let sum = t2.clone() + t2.clone();
    assert!((sum.elu() - all).abs() < 1e-9);
});

// A batch of NOPs completes in one park: one turn harvests them all and
// polls their tasks together; the delay from the park to the polls is
// sampled.
each_backend!(events_and_tasks_per_turn, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        for _ in 0..20 {
            let hs: Vec<_> = (0..64)
                .map(|_| ringloop::spawn(async { Op::new(Nop).await.unwrap() }))
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
    });
    let m = rt.metrics();
    assert!(m.tasks_per_turn.count() >= 1);
    // Every turn but the one `block_on` returned from.
    assert_eq!(m.tasks_per_turn.count() + 1, m.loop_iterations);
    assert!(m.tasks_per_turn.max() >= 64, "{:?}", m.tasks_per_turn);
    assert_eq!(m.events_per_turn.count() + 1, m.loop_iterations);
    if b == Backend::IoUring {
        // 64 NOPs submitted at once complete in one reap.
        assert!(m.events_per_turn.max() >= 64, "{:?}", m.events_per_turn);
        assert!(m.completion_to_poll.count() >= 1, "{m:?}");
    }
    println!(
        "{b}: events/turn {:?}; tasks/turn {:?}; completion to poll {:?}",
        m.events_per_turn, m.tasks_per_turn, m.completion_to_poll
    );
});
