//! `futures_io` traits for [`CopyIo`] (feature `futures-io`).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{CopyIo, ReadStream, WriteStream};

/// Copies received bytes out of the adapter's buffer.
impl<S: ReadStream> futures_io::AsyncRead for CopyIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = self.get_mut();
        let src = ready!(this.poll_fill(cx))?;
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        this.consume(n);
        Poll::Ready(Ok(n))
    }
}

/// Lends the adapter's buffer: no copy beyond the receive itself.
impl<S: ReadStream> futures_io::AsyncBufRead for CopyIo<S> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.get_mut().poll_fill(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().consume(amt);
    }
}

/// Copies the caller's bytes into the adapter's buffer; `poll_close` flushes
/// and shuts the write side down.
impl<S: WriteStream> futures_io::AsyncWrite for CopyIo<S> {
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

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_write(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown_write(cx)
    }
}
