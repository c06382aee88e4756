//! TCP: [`TcpListener`] (with a builder for `SO_REUSEPORT` and the
//! backlog), [`TcpStream`] and its owned halves.
//!
//! Streams implement the runtime's owned-buffer
//! [`AsyncRead`](ringloop_runtime::io::AsyncRead) and
//! [`AsyncWrite`](ringloop_runtime::io::AsyncWrite), so `read_exact` and
//! `write_all` work on them and on their halves, on both backends.
//!
//! # Why `bind` is synchronous
//!
//! [`TcpListener::bind`] stays synchronous, as `std`'s is: binding a literal
//! address (`"127.0.0.1:8080"`, `([0, 0, 0, 0], 80)`, a `SocketAddr`)
//! never waits, and a server's start-up code reads better without an
//! `.await` on every listener. A host name cannot be resolved without
//! possibly blocking for seconds, which a loop thread must never do: `bind`
//! refuses one with an error that says so, and [`TcpListener::bind_host`]
//! (the builder's [`bind_host`](TcpListenerBuilder::bind_host)) is the
//! `async` form that resolves it on the blocking pool first, like tokio's
//! `bind`. [`UdpSocket::bind`](crate::UdpSocket::bind) works the same way.
//! [`TcpStream::connect`] waits anyway, so it takes names directly.

mod connect_builder;
mod listener;
mod split;
mod stream;

pub use connect_builder::TcpStreamBuilder;
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
