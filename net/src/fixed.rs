//! Sends and receives with registered buffers (`ringloop::buf::fixed`) on
//! stream sockets: [`ops::SendFixed`] and [`ops::RecvFixed`] where the
//! ring has the buffers, the plain [`Socket::send`] / [`Socket::recv`]
//! (same bytes, same counts) on epoll and where the kernel refused the
//! registration.

use std::io;

use ringloop_runtime::buf::fixed::FixedBuf;
use ringloop_runtime::buf::BufResult;
use ringloop_runtime::driver::{Interest, Op};

use crate::ops;
use crate::socket::Socket;

impl Socket {
    /// See `TcpStream::send_fixed`.
    pub(crate) async fn send_fixed(&self, buf: FixedBuf) -> BufResult<usize, FixedBuf> {
        match buf.ring_index() {
            Err(e) => (Err(self.ctx("send_fixed")(e)), buf),
            Ok(None) => self.send(buf).await,
            Ok(Some(index)) => {
                let first = Op::new(ops::SendFixed::new(self.shared_fd().clone(), buf, index));
                let first = first.await;
                let (r, buf) = self
                    .in_progress_retry(first, |fd, b| ops::SendFixed::new(fd, b, index))
                    .await;
                (r.map_err(self.ctx("send_fixed")), buf)
            }
        }
    }

    /// See `TcpStream::recv_fixed`.
    pub(crate) async fn recv_fixed(&self, buf: FixedBuf) -> BufResult<usize, FixedBuf> {
        let index = match buf.ring_index() {
            Err(e) => return (Err(self.ctx("recv_fixed")(e)), buf),
            Ok(None) => return self.recv(buf).await,
            Ok(Some(index)) => index,
        };
        let stream = matches!(self.kind(), "tcp" | "unix stream");
        let mut buf = buf;
        loop {
            let op = ops::RecvFixed::new(self.shared_fd().clone(), buf, index, stream);
            match Op::new(op).await {
                // A kernel whose READ of a non-blocking socket says EAGAIN
                // rather than waiting: wait for data, then read again.
                (Err(e), b) if e.kind() == io::ErrorKind::WouldBlock => {
                    buf = b;
                    let ready = Op::new(ops::Ready::new(
                        self.shared_fd().clone(),
                        Interest::Readable,
                    ));
                    if let Err(e) = ready.await {
                        return (Err(self.ctx("recv_fixed")(e)), buf);
                    }
                }
                (r, b) => return (r.map_err(self.ctx("recv_fixed")), b),
            }
        }
    }
}
