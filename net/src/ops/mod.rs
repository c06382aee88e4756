//! Socket operations as [`OpCode`](ringloop_runtime::driver::OpCode)
//! families: one file per family, each holding the op value (with the fd
//! clone, buffer, sockaddr and msghdr it owns), its SQE, its non-blocking
//! syscall and readiness direction, and how a result becomes the output.
//!
//! Every op holds a clone of the socket's `SharedFd`, so the fd stays open
//! (and its number unused) while the kernel may act on it, also after the
//! op's future was dropped and its value waits in the driver's slot for the
//! final completion.
//!
//! Minimum kernels for the completion path: `SENDMSG`/`RECVMSG` 5.3,
//! `ACCEPT`/`CONNECT` 5.5, `SEND`/`RECV` 5.6, `SHUTDOWN` 5.11, multishot
//! accept 5.19, `SEND_ZC` 6.0. Where the ring's probe lacks an opcode the op takes its
//! readiness path on io_uring too. `Ready` (the `readable`/`writable`
//! waits) has no opcode of its own and always takes it.

mod accept;
mod connect;
mod ready;
mod recv;
mod recv_fixed;
mod recv_from;
mod recv_pooled;
mod recv_vectored;
mod send;
mod send_fixed;
mod send_to;
mod send_zc;
mod shutdown;
mod writev;

pub(crate) use accept::{Accept, AcceptMulti};
pub(crate) use connect::Connect;
pub(crate) use ready::Ready;
pub(crate) use recv::Recv;
pub(crate) use recv_fixed::RecvFixed;
pub(crate) use recv_from::RecvFrom;
pub(crate) use recv_pooled::RecvPooled;
pub(crate) use recv_vectored::RecvVectored;
pub(crate) use send::Send;
pub(crate) use send_fixed::SendFixed;
pub(crate) use send_to::SendTo;
pub(crate) use send_zc::SendZc;
pub(crate) use shutdown::Shutdown;
pub(crate) use writev::SendVectored;

/// Flags for every send: a send to a peer that went away must return
/// `EPIPE`, never raise `SIGPIPE` and kill the process.
pub(crate) const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
