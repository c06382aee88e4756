//! tokio's I/O traits for [`CopyIo`] (feature `tokio-io`; tokio with no
//! features: only its trait definitions, no runtime).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::ReadBuf;

use super::{CopyIo, ReadStream, WriteStream};

/// Copies received bytes out of the adapter's buffer into the `ReadBuf`.
impl<S: ReadStream> tokio::io::AsyncRead for CopyIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let this = self.get_mut();
        let src = ready!(this.poll_fill(cx))?;
        let n = src.len().min(buf.remaining());
        buf.put_slice(&src[..n]);
        this.consume(n);
        Poll::Ready(Ok(()))
    }
}

/// Lends the adapter's buffer: no copy beyond the receive itself.
impl<S: ReadStream> tokio::io::AsyncBufRead for CopyIo<S> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.get_mut().poll_fill(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().consume(amt);
    }
}

/// Copies the caller's bytes into the adapter's buffer; `poll_shutdown`
/// flushes and shuts the write side down.
impl<S: WriteStream> tokio::io::AsyncWrite for CopyIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_slices(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_slices(cx, bufs)
    }

    /// Vectored writes are one copy and one send, so callers should use
    /// them rather than gather into a buffer of their own.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_write(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown_write(cx)
    }
}
