//! Drop safety of in-flight operations, on both backends.
//!
//! Starts 10,000 operations that never complete on their own — one-hour
//! `Timeout`s and reads of a pipe nobody writes — then drops them all,
//! first by aborting their tasks while the runtime runs on, then by shutting
//! a runtime down with them in flight. Nothing may leak: no driver slot, no
//! fd, no task. `.ci/run` runs this binary under valgrind memcheck, which
//! checks that no buffer handed to the kernel is freed twice or leaked and
//! that the driver never reads a freed op value.
mod util;

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use ringloop::driver::io_uring::squeue;
use ringloop::driver::ops::{Nop, Timeout};
use ringloop::driver::{BlockingJob, Completion, Fallback, Op, OpCode};
use ringloop::time::timeout;
use ringloop::Backend;
use util::ops::{pipe, PipeRead};

/// The fd count is process-wide: the scenarios run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Number of ops per scenario; smaller under valgrind, which is ~50x slower.
fn ops() -> usize {
    std::env::var("RINGLOOP_DROP_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Spawns `n` tasks each awaiting one op that never completes.
async fn start_ops(n: usize) -> (Vec<ringloop::JoinHandle<()>>, OwnedFd) {
    let (rd, wr) = pipe();
    let hs = (0..n)
        .map(|i| {
            let rd = rd.clone();
            ringloop::spawn(async move {
                if i % 2 == 0 {
                    Op::new(Timeout::new(Duration::from_secs(3600)))
                        .await
                        .unwrap();
                } else {
                    let (r, _buf) = Op::new(PipeRead {
                        fd: rd,
                        buf: Vec::with_capacity(64),
                    })
                    .await;
                    panic!("a read of an idle pipe completed: {r:?}");
                }
            })
        })
        .collect();
    // The run queue is FIFO: after one yield every task has run once and
    // started its op. A Nop round trip then needs a driver turn, which
    // hands every queued SQE to the kernel (epoll registers on first poll).
    ringloop::yield_now().await;
    Op::new(Nop).await.unwrap();
    (hs, wr)
}

each_backend!(abort_ten_thousand_in_flight, |b: Backend| {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    util::raise_nofile();
    let n = ops();
    let before = util::open_fds();
    let rt = util::rt(b);
    rt.block_on(async {
        let (hs, wr) = start_ops(n).await;
        let [tasks, _, in_flight, _] = rt.debug_resources();
        assert_eq!(tasks, n);
        if b == Backend::IoUring {
            assert_eq!(in_flight, n, "every op is in a driver slot");
        }
        for h in &hs {
            h.abort();
        }
        for h in hs {
            assert!(timeout(util::LIMIT, h)
                .await
                .unwrap()
                .unwrap_err()
                .is_cancelled());
        }
        // io_uring: the kernel's final completions free every slot while the
        // loop runs. epoll: nothing is in flight once a readiness op is
        // dropped, so this returns at once; what that half checks is below:
        // the pipe's epoll registration and every task are gone, no fd leaks.
        timeout(util::LIMIT, async {
            while rt.debug_resources()[2] != 0 {
                ringloop::yield_now().await;
            }
        })
        .await
        .expect("all cancelled ops reaped");
        drop(wr);
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    drop(rt);
    util::assert_no_fd_leak(before, "no fd leaked");
});

each_backend!(shutdown_with_ten_thousand_in_flight, |b: Backend| {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    util::raise_nofile();
    let n = ops();
    let before = util::open_fds();
    let rt = util::rt(b);
    let wr = rt.block_on(async {
        let (hs, wr) = start_ops(n).await;
        // Detach: the tasks stay alive, their ops in flight.
        drop(hs);
        wr
    });
    assert_eq!(rt.debug_resources()[0], n);
    // Drop cancels every op and waits for every final completion.
    drop(rt);
    drop(wr);
    util::assert_no_fd_leak(before, "no fd leaked");
});

/// Wakes a waker when dropped: shows when the runtime freed an op value.
struct DropSignal {
    freed: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.freed.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

/// An op with no io_uring opcode: its job blocks until `release` is sent.
struct BlockedJob {
    release: Option<mpsc::Receiver<()>>,
    _signal: DropSignal,
}

// SAFETY: the job touches no memory of the op value.
unsafe impl OpCode for BlockedJob {
    type Output = io::Result<u32>;
    const CODE: u8 = ringloop::driver::NO_OPCODE;

    fn sqe(&mut self) -> squeue::Entry {
        unreachable!("NO_OPCODE never takes the completion path")
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }
    fn blocking_job(&mut self) -> BlockingJob {
        let rx = self.release.take().expect("called once");
        // SAFETY: the closure owns its receiver and touches nothing else.
        unsafe { BlockingJob::new(move || rx.recv().map(|()| 0).map_err(io::Error::other)) }
    }
    fn complete(self, c: Completion) -> io::Result<u32> {
        c.result
    }
}

each_backend!(
    dropped_pool_op_is_freed_when_its_job_returns,
    |b: Backend| {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let rt = util::rt(b);
        rt.block_on(async {
            let freed = Arc::new(AtomicBool::new(false));
            let waker = Arc::new(Mutex::new(None::<Waker>));
            let (tx, rx) = mpsc::channel();
            let mut op = Op::new(BlockedJob {
                release: Some(rx),
                _signal: DropSignal {
                    freed: freed.clone(),
                    waker: waker.clone(),
                },
            });
            // Start it (the job goes to the pool), then drop it mid-flight.
            assert!(poll_fn(|cx| Poll::Ready(Pin::new(&mut op).poll(cx)))
                .await
                .is_pending());
            drop(op);
            assert!(
                !freed.load(Ordering::SeqCst),
                "freed while a pool thread may use it"
            );
            assert_eq!(rt.debug_resources()[2], 1, "the driver holds the orphan");
            tx.send(()).unwrap();
            // Nothing else wakes this loop: only the job's return can unpark
            // the driver, which frees the value, whose drop wakes us.
            // The bound's timer would also turn the loop (and so free the
            // value): it must not be what ended the wait.
            let deadline = std::time::Instant::now() + util::LIMIT;
            let _ = ringloop::time::timeout_at(
                deadline,
                poll_fn(|cx| {
                    if freed.load(Ordering::SeqCst) {
                        return Poll::Ready(());
                    }
                    *waker.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                }),
            )
            .await;
            assert!(
                std::time::Instant::now() < deadline,
                "the loop was not unparked when the job returned"
            );
        });
        assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
    }
);

each_backend!(an_op_polled_on_another_runtime_panics, |b: Backend| {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let first = util::rt(b);
    let second = util::rt(b);
    // Started on `first`: a read of a pipe nobody writes, so it waits.
    let (mut op, _wr) = first.block_on(async {
        let (rd, wr) = pipe();
        let mut op = Box::pin(Op::new(PipeRead {
            fd: rd,
            buf: Vec::with_capacity(16),
        }));
        let done = poll_fn(|cx| Poll::Ready(op.as_mut().poll(cx).is_ready())).await;
        assert!(!done, "nothing to read yet");
        (op, wr)
    });
    // Polled on `second`: a loud panic, not a future that never completes.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        second.block_on(poll_fn(|cx| {
            let _ = op.as_mut().poll(cx);
            Poll::Ready(())
        }))
    }));
    let err = r.expect_err("polling on another runtime panics");
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("polled outside"), "{msg}");
    // Dropped, it still goes back to the driver that started it.
    drop(op);
    drop(second);
    drop(first);
});
