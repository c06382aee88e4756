//! Starting an operation, and the readiness retry loop: the part of the
//! lifecycle that [`Op`](super::Op) and [`MultiOp`](super::MultiOp) share.

use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

use super::opcode::{Completion, Fallback, Interest, OpCode};
use super::DriverRef;
use crate::executor::JoinHandle;

/// Where a started operation went.
pub(crate) enum Started {
    /// Its SQE is queued under this slot key.
    InFlight(u64),
    /// Its syscall said `WouldBlock` or has not been tried: the readiness path.
    Readiness { fd: RawFd, interest: Interest },
    /// Its job runs on the blocking pool.
    Pool(JoinHandle<io::Result<u32>>),
}

/// A completion carrying an error.
pub(crate) fn failed(e: io::Error) -> Completion {
    Completion {
        result: Err(e),
        flags: 0,
    }
}

/// Starts `data` on the current loop: an SQE when the kernel has the
/// opcode, else its fallback. `Err` is the completion of an operation that
/// finished on the spot, or could not start. A multishot operation
/// (`multi`) accepts only the readiness fallback.
///
/// The loop's driver is stored in `driver` for the caller.
#[inline]
pub(crate) fn start<T: OpCode>(
    data: &mut T,
    multi: bool,
    driver: &mut Option<DriverRef>,
) -> Result<Started, Completion> {
    let Some(d) = crate::context::driver() else {
        let e = io::Error::other("ringloop operation polled outside a ringloop runtime");
        return Err(failed(e));
    };
    start_on(driver.insert(d), data, multi)
}

#[inline]
fn start_on<T: OpCode>(
    driver: &DriverRef,
    data: &mut T,
    multi: bool,
) -> Result<Started, Completion> {
    // The driver is borrowed only around its own calls: an op's methods may
    // reach the driver themselves (`Close`, `SharedFd::new`).
    let supported = {
        let d = driver.borrow();
        d.metrics.opcodes.started(T::CODE);
        d.supports(T::CODE)
    };
    if supported {
        let entry = data.sqe();
        // SAFETY: the entry's pointers point into `*data` (OpCode contract),
        // a heap box whose address does not change; the caller's `Drop`
        // hands the box to the slot while the kernel may use it.
        let key = unsafe { driver.borrow_mut().submit(entry, multi) };
        return key.map(Started::InFlight).map_err(failed);
    }
    // Off the completion path: the fallback may reach the driver itself, so
    // keep the counters, not a borrow of the driver.
    let metrics = driver.borrow().metrics.clone();
    metrics.ops_fallback.inc();
    match data.fallback().map_err(failed)? {
        Fallback::Readiness { fd, interest } => {
            metrics.ops_submitted.inc();
            Ok(Started::Readiness { fd, interest })
        }
        other if multi => Err(failed(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("multishot fallback must be Readiness, not {other:?}"),
        ))),
        Fallback::Blocking => {
            let job = data.blocking_job();
            Ok(Started::Pool(driver.borrow_mut().spawn_job(job)))
        }
        Fallback::Immediate => {
            metrics.ops_submitted.inc();
            metrics.io_syscalls.inc();
            Err(Completion {
                result: data.try_io(),
                flags: 0,
            })
        }
    }
}

/// The readiness path: try the syscall; on `WouldBlock` wait until `fd` may
/// be ready and try again. Ready with the outcome of the first attempt that
/// did not block, or with the wait's error.
pub(crate) fn poll_readiness<T: OpCode>(
    driver: &DriverRef,
    data: &mut T,
    (fd, interest): (RawFd, Interest),
    wait: &mut Option<u64>,
    cx: &mut Context<'_>,
) -> Poll<Completion> {
    loop {
        driver.borrow().metrics.io_syscalls.inc();
        match data.try_io() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            result => {
                driver.borrow_mut().cancel_ready(wait.take());
                return Poll::Ready(Completion { result, flags: 0 });
            }
        }
        let ready = driver.borrow_mut().poll_ready(fd, interest, wait, cx);
        match ready {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) => continue,
            Poll::Ready(Err(e)) => return Poll::Ready(failed(e)),
        }
    }
}
