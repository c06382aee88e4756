//! TCP: [`TcpListener`] (with a builder for `SO_REUSEPORT` and the
//! backlog), [`TcpStream`] and its owned halves.
//!
//! Streams implement the runtime's owned-buffer
//! [`AsyncRead`](ringloop_runtime::io::AsyncRead) and
//! [`AsyncWrite`](ringloop_runtime::io::AsyncWrite), so `read_exact` and
//! `write_all` work on them and on their halves, on both backends.

mod listener;
mod split;
mod stream;

pub use listener::{TcpListener, TcpListenerBuilder};
pub use split::{OwnedReadHalf, OwnedWriteHalf};
pub use stream::TcpStream;

use std::net::SocketAddr;

/// `AF_INET` or `AF_INET6` for `addr`.
pub(crate) fn domain(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}
