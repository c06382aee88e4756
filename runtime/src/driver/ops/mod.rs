//! Operations the runtime itself owns: [`Nop`] and [`Timeout`] exercise and
//! benchmark the seam without sockets or files; [`Close`] retires an fd.
//! `ASYNC_CANCEL` is issued by the io_uring driver itself when an in-flight
//! [`Op`](super::Op) is dropped.

mod close;
mod nop;
mod timeout;

pub use close::Close;
pub use nop::Nop;
pub use timeout::Timeout;
