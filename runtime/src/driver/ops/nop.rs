//! [`Nop`]: `IORING_OP_NOP`, the cost of the seam and the ring alone.

use std::io;

use io_uring::{opcode, squeue};

use crate::driver::{Completion, Fallback, OpCode};

/// `IORING_OP_NOP`: a round trip through the ring and nothing else (5.1).
///
/// On epoll, the closest equivalent: it completes on the spot, with no
/// syscall — so a `Nop` bench measures the seam and the executor, and on
/// io_uring additionally the ring.
///
/// # Examples
///
/// ```
/// use ringloop::driver::{ops::Nop, Op};
///
/// ringloop::block_on(async {
///     Op::new(Nop).await.unwrap();
/// });
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Nop;

// SAFETY: a NOP SQE carries no pointer.
unsafe impl OpCode for Nop {
    type Output = io::Result<()>;
    const CODE: u8 = opcode::Nop::CODE;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn fallback(&mut self) -> io::Result<Fallback> {
        Ok(Fallback::Immediate)
    }

    fn try_io(&mut self) -> io::Result<u32> {
        Ok(0)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.result.map(drop)
    }
}
