//! A [`File`] as a stream: reads and writes at the file's cursor, which
//! they advance, and [`File::seek`] — what code ported from `std::fs`,
//! tokio or monoio expects — beside the positional `read_at`/`write_at`.
//!
//! The cursor is the kernel's file position (the one `std::fs::File`
//! uses, so [`File::from_std`] keeps it): io_uring `READ`/`WRITE`/`READV`/
//! `WRITEV` with offset `-1` (Linux 5.6, `IORING_FEAT_RW_CUR_POS`), and
//! `read`/`write`/`readv`/`writev` on the pool path. A file opened with
//! `append` writes at its end. Cursor operations on one file should not
//! overlap: as with two threads calling `read(2)` on one fd, which of them
//! gets which bytes is up to the kernel. `seek` is `lseek(2)`, which does
//! no I/O, so it runs at once on the loop thread.
//!
//! `File` implements [`AsyncRead`] and [`AsyncWrite`] at the cursor, so the
//! io helpers (`copy`, `BufReader`, `read_to_end`) work on files. Its
//! `flush` has nothing to do (no user-space buffer; `sync_all` is the
//! durability call) and its `shutdown` is `flush`.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::os::fd::AsRawFd;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::Op;
use ringloop_runtime::io::{AsyncRead, AsyncWrite};

use crate::ops::{Read, Readv, Write, Writev, CURSOR};
use crate::File;

impl File {
    /// Reads into `buf` at the cursor and advances it by the count read (0
    /// at the end of the file).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::SeekFrom;
    /// use ringloop::fs::File;
    ///
    /// ringloop::block_on(async {
    ///     let path = std::env::temp_dir().join(format!("ringloop-cursor-doc-{}", std::process::id()));
    ///     let f = File::options().read(true).write(true).create(true).open(&path).await.unwrap();
    ///     let (r, _) = f.write(b"hello".to_vec()).await;
    ///     assert_eq!(r.unwrap(), 5);
    ///     assert_eq!(f.seek(SeekFrom::Start(1)).await.unwrap(), 1);
    ///     let (r, buf) = f.read(Vec::with_capacity(8)).await;
    ///     assert_eq!((r.unwrap(), &buf[..]), (4, &b"ello"[..]));
    ///     ringloop::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let (r, buf) = Op::new(Read::new(self.fd().clone(), buf, CURSOR)).await;
        (r.map_err(|e| self.cursor_err(e, "read")), buf)
    }

    /// Writes the initialised bytes of `buf` at the cursor (at the end for
    /// a file opened with `append`) and advances it; returns the count
    /// written (possibly fewer).
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let (r, buf) = Op::new(Write::new(self.fd().clone(), buf, CURSOR)).await;
        (r.map_err(|e| self.cursor_err(e, "write")), buf)
    }

    /// Moves the cursor (`lseek(2)`); returns its new offset from the start.
    /// Seeking past the end is allowed (a write there leaves a hole).
    pub async fn seek(&self, pos: SeekFrom) -> io::Result<u64> {
        let (off, whence) = match pos {
            SeekFrom::Start(n) => (
                i64::try_from(n).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "seek offset past i64::MAX")
                })?,
                libc::SEEK_SET,
            ),
            SeekFrom::End(n) => (n, libc::SEEK_END),
            SeekFrom::Current(n) => (n, libc::SEEK_CUR),
        };
        // SAFETY: a plain syscall on the file's open fd.
        let r = unsafe { libc::lseek(self.as_raw_fd(), off, whence) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return Err(crate::error::with_path(e, "seek", self.path()));
        }
        Ok(r as u64)
    }

    /// The cursor's offset from the start (`seek(SeekFrom::Current(0))`).
    pub async fn stream_position(&self) -> io::Result<u64> {
        self.seek(SeekFrom::Current(0)).await
    }

    /// Rewinds the cursor to the start.
    pub async fn rewind(&self) -> io::Result<()> {
        self.seek(SeekFrom::Start(0)).await.map(drop)
    }

    fn cursor_err(&self, e: io::Error, op: &str) -> io::Error {
        crate::error::with_path(e, op, self.path())
    }
}

/// Reads at the cursor (see the module docs).
impl AsyncRead for File {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        File::read(self, buf)
    }

    /// One `READV` (`readv(2)` on the pool) at the cursor.
    async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let (r, bufs) = Op::new(Readv::new(self.fd().clone(), bufs, CURSOR)).await;
        (r.map_err(|e| self.cursor_err(e, "readv")), bufs)
    }
}

/// Writes at the cursor (see the module docs).
impl AsyncWrite for File {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        File::write(self, buf)
    }

    /// One `WRITEV` (`writev(2)` on the pool) at the cursor.
    async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let (r, bufs) = Op::new(Writev::new(self.fd().clone(), bufs, CURSOR)).await;
        (r.map_err(|e| self.cursor_err(e, "writev")), bufs)
    }
}
