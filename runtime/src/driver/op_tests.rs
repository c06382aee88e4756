//! The lifecycle without io_uring: an epoll driver, ops polled by hand,
//! `Rc<()>` payloads whose strong count says who still holds the value.
//! (The in-flight path's state machine is tested the same way, with
//! synthetic CQEs, in `uring/slots.rs`.)
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::Waker;
use std::time::Duration;

use super::*;
use crate::blocking::{Pool, PoolConfig};
use crate::driver::{current, BlockingJob, Driver, Kind, NO_OPCODE};
use io_uring::{opcode, squeue};

struct Fixture {
    driver: DriverRef,
    _entered: current::Entered,
    _wake: std::os::fd::OwnedFd,
}

fn fixture() -> Fixture {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(fd >= 0);
    // SAFETY: a new fd owned by nobody else.
    let wake = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let pool = Pool::new(PoolConfig {
        max_threads: 2,
        queue_capacity: 16,
        keep_alive: Duration::from_secs(5),
        cached_first: true,
    });
    let metrics = Arc::new(LoopMetrics::default());
    let d = Driver::new(
        Kind::Epoll,
        crate::driver::RingConfig {
            entries: 8,
            min_wait: None,
            ring_wakes: false,
            faults: &Default::default(),
        },
        Default::default(),
        fd,
        pool,
        Waker::noop().clone(),
        metrics,
    )
    .unwrap();
    let driver = Rc::new(RefCell::new(d));
    let _entered = current::enter(&driver);
    Fixture {
        driver,
        _entered,
        _wake: wake,
    }
}

/// An op on the pool path whose job waits for `go`, then reports on `done`.
struct Blocks {
    _payload: Rc<()>,
    go: Option<mpsc::Receiver<()>>,
    done: mpsc::Sender<()>,
}

// SAFETY: no SQE (NO_OPCODE); the job touches no memory of the value.
unsafe impl OpCode for Blocks {
    type Output = io::Result<u32>;
    const CODE: u8 = NO_OPCODE;
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Blocking)
    }
    fn blocking_job(&mut self) -> BlockingJob {
        let (go, done) = (self.go.take().unwrap(), self.done.clone());
        // SAFETY: the job uses only what it owns.
        unsafe {
            BlockingJob::new(move || {
                go.recv_timeout(Duration::from_secs(30)).ok();
                done.send(()).ok();
                Ok(7)
            })
        }
    }
    fn complete(self, c: Completion) -> io::Result<u32> {
        c.result
    }
}

/// An op on the readiness path that always says `WouldBlock`.
struct Waits {
    _payload: Rc<()>,
    fd: RawFd,
}

// SAFETY: no SQE (NO_OPCODE) and no pointer in `try_io`.
unsafe impl OpCode for Waits {
    type Output = io::Result<u32>;
    const CODE: u8 = NO_OPCODE;
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }
    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Readiness {
            fd: self.fd,
            interest: Interest::Readable,
        })
    }
    fn try_io(&mut self) -> io::Result<u32> {
        Err(io::ErrorKind::WouldBlock.into())
    }
    fn complete(self, c: Completion) -> io::Result<u32> {
        c.result
    }
}

impl MultishotOpCode for Waits {
    type Item = io::Result<u32>;
    fn item(&mut self, c: Completion) -> io::Result<u32> {
        c.result
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: room for two fds.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0);
    // SAFETY: both new, owned by nobody else.
    let (a, b) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    (a, b)
}

#[test]
fn a_dropped_pool_op_keeps_its_value_until_the_job_returns() {
    let f = fixture();
    let payload = Rc::new(());
    let (go_tx, go_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let mut op = Op::new(Blocks {
        _payload: payload.clone(),
        go: Some(go_rx),
        done: done_tx,
    });
    assert!(poll_once(&mut op).is_pending());
    assert_eq!(format!("{op:?}"), "Op { state: \"Pool\" }");
    drop(op);
    assert_eq!(Rc::strong_count(&payload), 2, "the pool orphan holds it");
    go_tx.send(()).unwrap();
    done_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    // The job has returned; the next turn finishes the orphan.
    let t0 = std::time::Instant::now();
    while Rc::strong_count(&payload) > 1 {
        assert!(t0.elapsed() < Duration::from_secs(30), "never finished");
        let (mut wakes, mut done) = (Vec::new(), Vec::new());
        {
            let mut d = f.driver.borrow_mut();
            d.park(Some(Duration::ZERO)).unwrap();
            d.take_deferred(&mut wakes, &mut done);
        }
        done.into_iter().for_each(Finished::finish);
    }
    let m = f.driver.borrow().metrics.snapshot(crate::Backend::Epoll);
    assert_eq!((m.ops_submitted, m.ops_completed), (1, 1));
}

#[test]
fn a_dropped_readiness_op_frees_its_value_at_once() {
    let f = fixture();
    let (rd, _wr) = pipe();
    let payload = Rc::new(());
    let mut op = Op::new(Waits {
        _payload: payload.clone(),
        fd: std::os::fd::AsRawFd::as_raw_fd(&rd),
    });
    assert!(poll_once(&mut op).is_pending());
    assert_eq!(format!("{op:?}"), "Op { state: \"Readiness\" }");
    drop(op);
    assert_eq!(Rc::strong_count(&payload), 1, "nothing in flight: freed");
    let mut multi = MultiOp::new(Waits {
        _payload: payload.clone(),
        fd: std::os::fd::AsRawFd::as_raw_fd(&rd),
    });
    let p = Pin::new(&mut multi).poll_next(&mut Context::from_waker(Waker::noop()));
    assert!(p.is_pending());
    drop(multi);
    assert_eq!(Rc::strong_count(&payload), 1);
    let m = f.driver.borrow().metrics.snapshot(crate::Backend::Epoll);
    assert_eq!(
        (m.ops_submitted, m.ops_completed),
        (2, 2),
        "dropped = completed"
    );
}

#[test]
fn an_unpolled_op_is_just_freed() {
    let _f = fixture();
    let payload = Rc::new(());
    let (rd, _wr) = pipe();
    drop(Op::new(Waits {
        _payload: payload.clone(),
        fd: std::os::fd::AsRawFd::as_raw_fd(&rd),
    }));
    assert_eq!(Rc::strong_count(&payload), 1);
}
