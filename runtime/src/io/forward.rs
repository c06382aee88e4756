//! The traits through references and boxes: `&T`, `&mut T` and `Box<T>`
//! read and write as `T` does, every method forwarded (so a `T` that
//! overrides `writev` with one syscall keeps it).
//!
//! Method-call caveat: through a `&mut TcpStream` or `Box<TcpStream>` with
//! [`AsyncWrite`] in scope, `s.shutdown()` is the trait's (no argument:
//! the write direction); the stream's own `shutdown(how)` is then called as
//! `TcpStream::shutdown(&s, how)`. There is deliberately no `Rc<T>`
//! forwarding: an `Rc<TcpStream>`'s method calls reach the stream's own
//! methods first, as code sharing a stream through `Rc` expects (pass
//! `&*rc` where a generic `AsyncRead` is wanted).

use std::future::Future;
use std::io;

use super::{AsyncRead, AsyncWrite};
use crate::buf::{BufResult, IoBuf, IoBufMut};

macro_rules! forward {
    ($($ptr:ty),*) => {$(
        impl<T: AsyncRead + ?Sized> AsyncRead for $ptr {
            fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
                (**self).read(buf)
            }
            async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
                (**self).read_exact(buf).await
            }
            async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
                (**self).readv(bufs).await
            }
            async fn read_vectored_exact<B: IoBufMut>(
                &self,
                bufs: Vec<B>,
            ) -> BufResult<(), Vec<B>> {
                (**self).read_vectored_exact(bufs).await
            }
            async fn read_to_end(&self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
                (**self).read_to_end(buf).await
            }
            async fn read_to_string(&self, s: String) -> BufResult<usize, String> {
                (**self).read_to_string(s).await
            }
        }

        impl<T: AsyncWrite + ?Sized> AsyncWrite for $ptr {
            fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
                (**self).write(buf)
            }
            async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
                (**self).write_all(buf).await
            }
            async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
                (**self).writev(bufs).await
            }
            async fn write_vectored_all<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<(), Vec<B>> {
                (**self).write_vectored_all(bufs).await
            }
            async fn flush(&self) -> io::Result<()> {
                (**self).flush().await
            }
            async fn shutdown(&self) -> io::Result<()> {
                (**self).shutdown().await
            }
        }
    )*};
}

forward!(&T, &mut T, Box<T>);
