//! Owned-buffer I/O traits that every ringloop stream implements (TCP, Unix,
//! files at a cursor...), so user code is the same on every stream type and
//! on both backends.
//!
//! Buffers go in by value and come back with the result (see [`buf`]):
//!
//! ```no_run
//! # #![allow(dead_code)]
//! use ringloop::io::{AsyncRead, AsyncWrite};
//!
//! async fn echo_once<S: AsyncRead + AsyncWrite>(s: &S) -> std::io::Result<()> {
//!     let (res, buf) = s.read(Vec::with_capacity(4096)).await;
//!     res?;
//!     let (res, _buf) = s.write_all(buf).await;
//!     res
//! }
//! ```
//!
//! The futures are `!Send` by design (thread-per-core), which is why these
//! traits use `async fn` without `Send` bounds.
//!
//! [`buf`]: crate::buf

use std::future::Future;
use std::io;

use crate::buf::{BufResult, IoBuf, IoBufMut};
pub use crate::sys::os_error;

/// A stream that reads into owned buffers.
pub trait AsyncRead {
    /// Reads at most `buf.bytes_total() - …` — up to the buffer's total
    /// capacity — and returns the count; 0 means end of stream (or a
    /// zero-capacity buffer). The bytes land after nothing: they start at
    /// the buffer's first byte (use [`IoBuf::slice`] to read into the
    /// middle).
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>>;

    /// Reads until the buffer is full to its total capacity. An end of
    /// stream first gives `UnexpectedEof`, with the bytes read so far
    /// recorded in the buffer's initialised length.
    #[allow(async_fn_in_trait)] // thread-per-core: !Send futures by design
    async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut filled = 0;
        let mut buf = buf;
        while filled < total {
            let (res, slice) = self.read(buf.slice(filled..)).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("stream ended after {filled} of {total} bytes"),
                    );
                    return (Err(e), buf);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }
}

/// A stream that writes from owned buffers.
pub trait AsyncWrite {
    /// Writes some of the buffer's initialised bytes and returns the count.
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>>;

    /// Writes all of the buffer's initialised bytes. A write that makes no
    /// progress gives `WriteZero`.
    #[allow(async_fn_in_trait)] // thread-per-core: !Send futures by design
    async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut done = 0;
        let mut buf = buf;
        while done < total {
            let (res, slice) = self.write(buf.slice(done..total)).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("write returned 0 after {done} of {total} bytes"),
                    );
                    return (Err(e), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }
}
