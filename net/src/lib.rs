//! ringloop's sockets: TCP, UDP and Unix sockets as `OpCode` families.
//!
//! # The model
//!
//! Every call that may wait — accept, connect, recv, send, recvmsg,
//! sendmsg, shutdown — is one operation (the private `ops` module has one file
//! per family) that the runtime runs two ways:
//!
//! - **io_uring (proactor):** one SQE. The op value, boxed at a stable
//!   address, owns everything the SQE points to: the buffer, the peer's
//!   `sockaddr_storage`, the `msghdr` and its iovecs, and a clone of the
//!   socket's `SharedFd` so the fd outlives the op. Connections come from a
//!   multishot accept where the kernel has it ([`Incoming`]).
//! - **epoll (reactor):** the same op tries its non-blocking syscall and,
//!   on `EAGAIN`, waits for the socket to become readable or writable. That
//!   is why every socket is created `SOCK_NONBLOCK | SOCK_CLOEXEC`.
//!
//! Buffers are owned and handed back with the result
//! ([`BufResult`](ringloop_runtime::buf::BufResult)); streams implement the
//! runtime's [`AsyncRead`](ringloop_runtime::io::AsyncRead) and
//! [`AsyncWrite`](ringloop_runtime::io::AsyncWrite). Each op's module says
//! what dropping its future mid-flight means (for a recv on io_uring: bytes
//! the kernel already put in the buffer are lost with it; the driver frees
//! the buffer after the final completion). Sends use `MSG_NOSIGNAL`: a peer
//! that went away is an `EPIPE` error, never a `SIGPIPE`. Errors carry
//! context (which call, which address) and keep their OS code
//! ([`os_error`]).
//!
//! Sockets belong to the loop thread that created them (`!Send`), and must
//! be created inside a ringloop runtime: the loop's driver closes them.
//!
//! # Example
//!
//! ```
//! use ringloop::net::tcp::{TcpListener, TcpStream};
//! use ringloop::io::{AsyncRead, AsyncWrite};
//!
//! ringloop::block_on(async {
//!     let listener = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     ringloop::spawn(async move {
//!         let (s, _) = listener.accept().await.unwrap();
//!         let (r, buf) = s.read(Vec::with_capacity(64)).await;
//!         r.unwrap();
//!         s.write_all(buf).await.0.unwrap();
//!     });
//!     let c = TcpStream::connect(addr).await.unwrap();
//!     c.write_all(b"hello".as_slice()).await.0.unwrap();
//!     let (r, buf) = c.read_exact(vec![0; 5]).await;
//!     r.unwrap();
//!     assert_eq!(buf, b"hello");
//! });
//! ```
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
#![doc(test(attr(deny(warnings))))]

mod backlog;
mod cancel;
#[cfg(any(feature = "futures-io", feature = "tokio-io"))]
pub mod compat;
mod convert;
mod error;
mod fixed;
mod incoming;
mod listener;
mod lookup;
pub(crate) mod ops;
mod pooled;
mod socket;
mod sockopt;
pub mod split;
mod sys;
pub mod tcp;
pub mod udp;
pub mod unix;

pub use error::os_error;
pub use incoming::Incoming;
pub use lookup::{lookup_host, ToSocketAddrs};
pub use pooled::{RecvBundles, RecvStream};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
