//! [`BufWriter`]: a write buffer in front of a stream, so many small writes
//! become one inner write.

use std::cell::RefCell;
use std::future::Future;
use std::io;

use super::mem::bytes;
use super::{AsyncRead, AsyncWrite};
use crate::buf::{BufResult, IoBuf, IoBufMut};

const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Buffers the output of an [`AsyncWrite`]: small writes are copied into
/// an owned `Vec<u8>`, which goes to the inner stream (by value, with
/// `write_all`) when the next write would not fit, on
/// [`flush`](AsyncWrite::flush) and on [`shutdown`](AsyncWrite::shutdown).
/// A write at least as large as the capacity, with the buffer empty, goes
/// straight through.
///
/// **Flush before dropping**: a drop cannot wait for I/O, so bytes still
/// buffered then are lost (as with tokio's `BufWriter`).
///
/// Methods take `&self` like the traits; two writes of one `BufWriter`
/// may not overlap (the second is an error while the first flushes).
/// Reads pass through to the inner stream.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use ringloop::io::{AsyncWrite, BufWriter};
///
/// ringloop::block_on(async {
///     let w = BufWriter::new(RefCell::new(Vec::new()));
///     for word in ["a", "b", "c"] {
///         let (r, _) = w.write_all(word).await;
///         r.unwrap();
///     }
///     assert!(w.get_ref().borrow().is_empty()); // still buffered
///     w.flush().await.unwrap();
///     assert_eq!(w.into_inner().into_inner(), b"abc");
/// });
/// ```
#[derive(Debug)]
pub struct BufWriter<W> {
    inner: W,
    cap: usize,
    /// `None` while the buffer is lent to the inner stream's write.
    buf: RefCell<Option<Vec<u8>>>,
}

fn busy() -> io::Error {
    io::Error::other("BufWriter: another write on it is still flushing its buffer")
}

impl<W: AsyncWrite> BufWriter<W> {
    /// A writer with an 8 KiB buffer.
    pub fn new(inner: W) -> Self {
        Self::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A writer with a buffer of `cap` bytes (at least 1).
    pub fn with_capacity(cap: usize, inner: W) -> Self {
        let cap = cap.max(1);
        BufWriter {
            inner,
            cap,
            buf: RefCell::new(Some(Vec::with_capacity(cap))),
        }
    }

    /// The buffer's capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Bytes written to the buffer and not yet to the inner stream.
    pub fn buffered(&self) -> usize {
        self.buf.borrow().as_ref().map_or(0, Vec::len)
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner stream, mutably (writing to it directly jumps ahead of
    /// what is buffered).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The inner stream; buffered bytes are lost (flush first).
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Writes the whole buffer to the inner stream. On an error the bytes
    /// not yet written stay buffered, in order.
    async fn flush_buf(&self) -> io::Result<()> {
        let mut buf = self.buf.borrow_mut().take().ok_or_else(busy)?;
        let total = buf.len();
        let mut done = 0;
        let mut err = None;
        while done < total {
            let (r, s) = self.inner.write(buf.slice(done..total)).await;
            buf = s.into_inner();
            match r {
                Ok(0) => {
                    err = Some(super::write_zero(done, total));
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        buf.drain(..done);
        *self.buf.borrow_mut() = Some(buf);
        err.map_or(Ok(()), Err)
    }
}

impl<W: AsyncWrite> AsyncWrite for BufWriter<W> {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let src = bytes(&buf).len();
        let Some(held) = self.buf.borrow().as_ref().map(Vec::len) else {
            return (Err(busy()), buf);
        };
        if held + src > self.cap && held > 0 {
            if let Err(e) = self.flush_buf().await {
                return (Err(e), buf);
            }
        }
        if src >= self.cap {
            return self.inner.write(buf).await;
        }
        match self.buf.borrow_mut().as_mut() {
            Some(b) => b.extend_from_slice(bytes(&buf)),
            None => return (Err(busy()), buf),
        }
        (Ok(src), buf)
    }

    async fn flush(&self) -> io::Result<()> {
        self.flush_buf().await?;
        self.inner.flush().await
    }

    async fn shutdown(&self) -> io::Result<()> {
        self.flush_buf().await?;
        self.inner.shutdown().await
    }
}

impl<W: AsyncRead + AsyncWrite> AsyncRead for BufWriter<W> {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.inner.read(buf)
    }
    async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.inner.readv(bufs).await
    }
}
