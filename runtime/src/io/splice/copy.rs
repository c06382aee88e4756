//! [`zero_copy`]: [`copy`](crate::io::copy) between two sockets through a
//! pipe, so no byte passes through user memory.

use std::io;
use std::os::fd::AsRawFd;

use super::ops::{Lowering, Splice};
use super::{pollable, wait, AsSharedFd, Pipe};
use crate::driver::{Interest, Op, SharedFd};
use crate::sys::context;

/// Copies everything `from` yields to `to` through a pipe made for the
/// call, until `from` ends; returns the number of bytes copied. monoio's
/// `zero_copy`, on both backends: non-blocking `splice(2)` on the loop
/// thread (not a `SPLICE` SQE, whose worker-thread hand-off costs more than
/// the copy it saves: see the [`io`](crate::io#zero-copy-splice-and-sendfile)
/// docs), each side waiting for its socket's readiness after `EAGAIN`.
///
/// Meant for sockets (a proxy); a pipe works too, and a regular file at
/// either end is spliced with a `SPLICE` SQE on io_uring, on the blocking
/// pool on epoll. `to` is neither
/// flushed (nothing to flush) nor shut down: call its `shutdown` to pass
/// the end of stream on. An error from either side ends the copy, with the
/// side named and the OS error kept; bytes still in the pipe are lost.
///
/// # Examples
///
/// ```
/// use ringloop::io::{self, AsyncRead, AsyncWrite};
/// use ringloop::net::UnixStream;
///
/// ringloop::block_on(async {
///     let (client, proxy_in) = UnixStream::pair()?;
///     let (proxy_out, server) = UnixStream::pair()?;
///     let writer = ringloop::spawn(async move {
///         client.write_all(vec![b'x'; 300_000]).await.0
///         // `client` dropped here: the end of stream after those bytes.
///     });
///     let reader = ringloop::spawn(async move { server.read_to_end(Vec::new()).await });
///     assert_eq!(io::zero_copy(&proxy_in, &proxy_out).await?, 300_000);
///     drop(proxy_out);
///     writer.await.unwrap()?;
///     let (n, _) = reader.await.unwrap();
///     assert_eq!(n?, 300_000);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn zero_copy<R, W>(from: &R, to: &W) -> io::Result<u64>
where
    R: AsSharedFd + ?Sized,
    W: AsSharedFd + ?Sized,
{
    let (fi, fo) = (from.as_shared_fd(), to.as_shared_fd());
    let (i, o) = (fi.as_raw_fd(), fo.as_raw_fd());
    let read_ctx = |e| context(e, format_args!("zero_copy: splice fd {i} to a pipe"));
    let write_ctx = |e| context(e, format_args!("zero_copy: splice a pipe to fd {o}"));
    // The pipe is empty before each read and holds bytes before each
    // write, so `EAGAIN` can only come from the socket: wait for it. A
    // socket's splice runs on the loop thread on both backends (see
    // `Lowering`); a regular file's is an SQE, or on the pool.
    let lin = match pollable(i).map_err(read_ctx)? {
        true => Lowering::Ready(i, Interest::Readable),
        false => Lowering::Pool,
    };
    let lout = match pollable(o).map_err(write_ctx)? {
        true => Lowering::Ready(o, Interest::Writable),
        false => Lowering::Pool,
    };
    let pipe = Pipe::new().map_err(read_ctx)?;
    let (r, w, cap) = (pipe.reader(), pipe.writer(), pipe.capacity() as u32);
    let mut total = 0u64;
    loop {
        let n = splice_retrying(fi, w, cap, lin, fi, Interest::Readable)
            .await
            .map_err(read_ctx)?;
        if n == 0 {
            return Ok(total);
        }
        let mut left = n;
        while left > 0 {
            let m = splice_retrying(r, fo, left as u32, lout, fo, Interest::Writable)
                .await
                .map_err(write_ctx)?;
            if m == 0 {
                return Err(write_ctx(io::ErrorKind::WriteZero.into()));
            }
            left -= m.min(left);
        }
        total += n as u64;
    }
}

/// One splice from `fi` to `fo` that moved something (or reached the end),
/// waiting for `blocker` to be ready for `interest` after each `EAGAIN`.
async fn splice_retrying(
    fi: &SharedFd,
    fo: &SharedFd,
    len: u32,
    lowering: Lowering,
    blocker: &SharedFd,
    interest: Interest,
) -> io::Result<usize> {
    loop {
        match Op::new(Splice::new(fi, -1, fo, -1, len, lowering)).await {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(blocker, interest).await?,
            Err(e) => return Err(e),
        }
    }
}
