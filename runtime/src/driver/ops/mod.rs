//! Operations the runtime itself owns: [`Nop`] and [`Timeout`] exercise and
//! benchmark the seam without sockets or files; [`Close`] retires an fd;
//! [`Ready`] waits for an fd's readiness (for code making its own
//! non-blocking syscalls).
//! `ASYNC_CANCEL` is issued by the io_uring driver itself when an in-flight
//! [`Op`](super::Op) is dropped.

mod close;
mod nop;
mod ready;
mod timeout;

pub use close::Close;
pub use nop::Nop;
pub use ready::{ready_now, Ready};
pub use timeout::Timeout;
