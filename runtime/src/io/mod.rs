//! Owned-buffer I/O traits that every ringloop stream implements (TCP, Unix,
//! files at their cursor, in-memory buffers, the buffered wrappers), so user
//! code is the same on every stream type and on both backends; and the
//! helpers people reach for: [`copy`], [`BufReader`], [`BufWriter`],
//! [`AsyncRead::read_to_end`], [`AsyncRead::read_to_string`].
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
//! # `&self`, and what that means for in-memory types
//!
//! The methods take `&self`, so one task may read and write a socket at
//! once (`join!` of a read and a write on one `&TcpStream`). A type with no
//! kernel object behind it must then keep its position in a cell, so the
//! in-memory implementations are on [`RefCell`](std::cell::RefCell)s:
//! `RefCell<Cursor<T>>` for any `T: AsRef<[u8]>` (reads; writes where
//! `Cursor<T>` is `std::io::Write`: `Vec<u8>`, `&mut [u8]`, `Box<[u8]>`,
//! `&mut Vec<u8>`), `RefCell<&[u8]>` (reads, consuming the slice) and
//! `RefCell<Vec<u8>>` (writes, appending). References and boxes forward:
//! `&T`, `&mut T` and `Box<T>` implement the traits when `T` does.
//!
//! ```
//! use std::cell::RefCell;
//! use std::io::Cursor;
//! use ringloop::io::{self, AsyncRead};
//!
//! ringloop::block_on(async {
//!     let src = RefCell::new(Cursor::new(b"hello world".to_vec()));
//!     let dst = RefCell::new(Vec::new());
//!     assert_eq!(io::copy(&src, &dst).await.unwrap(), 11);
//!     assert_eq!(dst.into_inner(), b"hello world");
//!
//!     let (n, s) = RefCell::new(&b"caf\xc3\xa9"[..]).read_to_string(String::new()).await;
//!     assert_eq!((n.unwrap(), s.as_str()), (5, "café"));
//! });
//! ```
//!
//! The futures are `!Send` by design (thread-per-core), which is why these
//! traits use `async fn` without `Send` bounds.
//!
//! # Zero-copy: splice and sendfile
//!
//! [`splice`] moves bytes between two fds (one a pipe) with one
//! `splice(2)`; [`copy_file_to_socket`] sends a file's byte range to a
//! socket ([`FileToSocket`] does it one step at a time); [`zero_copy`] is
//! [`copy`] between two sockets through a [`Pipe`]. None of them passes a
//! byte through user memory. They take anything that owns its fd as a
//! [`SharedFd`](crate::driver::SharedFd) ([`AsSharedFd`]: the sockets,
//! files and pipe ends of ringloop). Each backend takes these paths:
//!
//! | call, fds | io_uring (`IORING_OP_SPLICE`, 5.7, probed) | epoll, or io_uring without the opcode |
//! |---|---|---|
//! | [`splice`], pipes and sockets | `splice(2)` on the loop thread, non-blocking | the same |
//! | [`splice`], a regular file at one end | a `SPLICE` SQE (the kernel's worker reads the file) | `splice(2)` on the blocking pool |
//! | [`copy_file_to_socket`] | a `SPLICE` SQE file → pipe, then `splice(2)` pipe → socket on the loop thread | `sendfile(2)` file → socket: on the loop thread when `cachestat(2)` (6.5) says the range is in the page cache, else on the blocking pool |
//! | [`zero_copy`] | `splice(2)` socket → pipe → socket on the loop thread | the same |
//!
//! Why not a `SPLICE` SQE between pipes and sockets: the kernel hands every
//! `SPLICE` SQE to one of its worker threads (the opcode is always forced
//! async), and that hand-off per splice made [`zero_copy`] cost 1.2 to 1.6
//! times the CPU of [`copy`] on io_uring (`examples/zero_copy.rs`), where
//! the same splice on the loop thread costs about 0.7 times. A splice
//! between non-blocking pipes and sockets never blocks, so it needs no
//! worker; a regular file's read may, and there the SQE is what keeps the
//! loop free (and no pool thread is used on io_uring).
//!
//! Every splice passes `SPLICE_F_NONBLOCK`, and ringloop's sockets are
//! non-blocking, so no path ever waits inside the kernel or on a pool
//! thread for a pipe or a socket: a full or empty one answers `EAGAIN`,
//! and the call waits for that fd's readiness on the loop (a `POLL_ADD` on
//! io_uring, the fd's next edge on epoll), then tries again. Only a
//! regular file's read can block, and that is what the pool (epoll) or the
//! kernel's worker (io_uring) is for. `sendfile(2)` on epoll is what
//! reactor servers do (nginx), but there it may block the loop on a cold
//! page cache; here each step first asks `cachestat(2)` (6.5) whether its
//! range is cached, and sends from the pool when it may not be (on a
//! kernel without `cachestat`, from the loop thread as before).
//!
//! **Dropping one of these futures**: every operation holds a clone of each
//! fd it names, so the fds (and the pipe) stay open until the kernel's or
//! the pool's final completion; the clones close them then. What a dropped
//! call had moved is unknown: bytes already in its pipe are lost with it
//! (and a dropped [`FileToSocket::step`] makes its pipe unusable, see
//! [`FileToSocket::into_pipe`]), as a dropped `write_all` loses its buffer.
//!
//! **Errors** name the call and the fds and keep the OS error
//! ([`os_error`]); `EINVAL` means the fds cannot be spliced (neither end is
//! a pipe, or a file system without `splice_read`): copy through a buffer.
//!
//! # Cancellation
//!
//! Dropping one of these futures before it completes never frees memory
//! the kernel may still use (the driver keeps the buffer until the final
//! completion), but the buffer is not handed back, and a partial transfer
//! is lost: a dropped `write_all` has written an unknown prefix. To cancel
//! any operation and get its buffers back, run it under a cancel scope,
//! [`CancelToken::run`]; for a socket read you can also pass a cancel
//! signal instead
//! (a [`CancelToken`], a timer, any future) to the socket's
//! `read_cancellable`.
//!
//! [`buf`]: crate::buf

mod buf_reader;
mod buf_writer;
mod cancel;
mod forward;
mod mem;
mod splice;
mod util;
mod vectored;

use std::future::Future;
use std::io;

use crate::buf::{BufResult, IoBuf, IoBufMut};
pub use crate::sys::os_error;
pub use buf_reader::BufReader;
pub use buf_writer::BufWriter;
pub use cancel::{cancelled_error, is_cancelled, CancelToken, Cancellable};
pub use splice::{copy_file_to_socket, splice, zero_copy, AsSharedFd, FileToSocket, Pipe};
pub use util::copy;

/// A stream that reads into owned buffers.
pub trait AsyncRead {
    /// Reads at most the buffer's total capacity (`bytes_total`) and
    /// returns the count; 0 means end of stream (or a zero-capacity
    /// buffer). The bytes start at the buffer's first byte (use
    /// [`IoBuf::slice`] to read into the middle), and its initialised
    /// length grows to cover them (it never shrinks: see
    /// [`IoBufMut::set_init`]).
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
                Ok(0) => return (Err(eof(filled, total)), buf),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// A scattering read: fills `bufs` in order, each from its first byte
    /// up to its capacity, and returns the total. The default reads into
    /// the first buffer with room only (like `std::io::Read`'s default);
    /// types with a real `readv` override it.
    #[allow(async_fn_in_trait)]
    async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        vectored::readv_first(self, bufs).await
    }

    /// Fills every buffer of `bufs` to its capacity, in order, with as many
    /// [`readv`](Self::readv)s as it takes. `UnexpectedEof` if the stream
    /// ends first (each buffer's initialised length says what arrived).
    #[allow(async_fn_in_trait)]
    async fn read_vectored_exact<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<(), Vec<B>> {
        vectored::read_vectored_exact(self, bufs).await
    }

    /// Reads to the end of the stream, appending to `buf` (growing it as
    /// needed); returns the number of bytes appended.
    #[allow(async_fn_in_trait)]
    async fn read_to_end(&self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        util::read_to_end(self, buf).await
    }

    /// Reads to the end of the stream, appending to `s`; `InvalidData` if
    /// what arrived is not UTF-8 (then `s` is handed back unchanged).
    #[allow(async_fn_in_trait)]
    async fn read_to_string(&self, s: String) -> BufResult<usize, String> {
        util::read_to_string(self, s).await
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
                Ok(0) => return (Err(write_zero(done, total)), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// A gathering write of the initialised bytes of `bufs`, in order;
    /// returns the total written (possibly fewer). The default writes the
    /// first non-empty buffer only (like `std::io::Write`'s default); the
    /// sockets and files override it with one `sendmsg`/`writev`.
    #[allow(async_fn_in_trait)]
    async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        vectored::writev_first(self, bufs).await
    }

    /// Writes every initialised byte of `bufs`, in order, with as many
    /// [`writev`](Self::writev)s as it takes. `WriteZero` if one makes no
    /// progress.
    #[allow(async_fn_in_trait)]
    async fn write_vectored_all<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<(), Vec<B>> {
        vectored::write_vectored_all(self, bufs).await
    }

    /// Pushes out what a buffering layer holds ([`BufWriter`]). Sockets
    /// and files hold nothing in user space: `Ok` at once (it is not
    /// `fsync`; see the file's `sync_all`).
    #[allow(async_fn_in_trait)]
    async fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// Flushes, then ends the write direction: a socket sends its FIN
    /// (`shutdown(SHUT_WR)`); a type with no such notion only flushes.
    #[allow(async_fn_in_trait)]
    async fn shutdown(&self) -> io::Result<()> {
        self.flush().await
    }
}

fn eof(filled: usize, total: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("stream ended after {filled} of {total} bytes"),
    )
}

fn write_zero(done: usize, total: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::WriteZero,
        format!("write returned 0 after {done} of {total} bytes"),
    )
}
