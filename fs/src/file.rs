//! [`File`]: an open file, read and written with owned buffers at explicit
//! offsets (`read_at`, `write_at`) or at its cursor (`read`, `write`,
//! `seek`: see `cursor.rs`).
//!
//! The positional calls (`pread` / `pwrite` semantics) touch no cursor, so
//! many of them on one `File` may be in flight at once, from many tasks.
//! Each is one SQE on io_uring and one pool job on epoll (see the crate
//! docs). Dropping a read or write future before it
//! completes leaves its buffer with the runtime until the kernel is done.
//!
//! Closing: [`File::close`] reports the error of `close(2)`; dropping a
//! `File` closes it too, without blocking the loop (a `CLOSE` SQE on
//! io_uring), once the operations still in flight on it have finished.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::rc::Rc;

use ringloop_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringloop_runtime::driver::Op;
use ringloop_runtime::driver::SharedFd;
use ringloop_runtime::io::AsSharedFd;

use crate::metadata::Metadata;
use crate::ops::{Fallocate, Fsync, Ftruncate, Read, Readv, Statx, Write, Writev};
use crate::OpenOptions;

/// An open file.
///
/// # Examples
///
/// ```
/// use ringloop::fs::File;
///
/// ringloop::block_on(async {
///     let path = std::env::temp_dir().join(format!("ringloop-file-doc-{}", std::process::id()));
///     let f = File::options()
///         .read(true)
///         .write(true)
///         .create(true)
///         .open(&path)
///         .await
///         .unwrap();
///     let (r, _) = f.write_all_at(b"0123456789".to_vec(), 0).await;
///     r.unwrap();
///     let (r, buf) = f.read_exact_at(vec![0u8; 4], 3).await;
///     r.unwrap();
///     assert_eq!(buf, b"3456");
///     assert_eq!(f.metadata().await.unwrap().len(), 10);
///     f.close().await.unwrap();
///     ringloop::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub struct File {
    fd: SharedFd,
    path: Rc<Path>,
}

impl File {
    /// Opens `path` read-only.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` write-only, creating it or truncating it.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// [`OpenOptions::new`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    pub(crate) fn from_owned(fd: OwnedFd, path: &Path) -> File {
        File {
            fd: SharedFd::new(fd),
            path: path.into(),
        }
    }

    /// Takes over a std file (for example one opened with flags this crate
    /// does not offer). Call it on the loop thread that will use it.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            fd: SharedFd::new(file.into()),
            path: Path::new("<from_std>").into(),
        }
    }

    /// The path the file was opened with (used in error messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn fd(&self) -> &SharedFd {
        &self.fd
    }

    pub(crate) fn err(&self, e: io::Error, op: &str, pos: u64) -> io::Error {
        crate::error::context(e, format_args!("{op}({:?}, pos {pos})", self.path))
    }

    /// Reads into `buf` at offset `pos`, up to the buffer's capacity
    /// (`bytes_total`), filling it from its start. Returns the number of
    /// bytes read (0 at or past the end of the file) and the buffer, whose
    /// initialised length covers what was read.
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let (r, buf) = Op::new(Read::new(self.fd.clone(), buf, pos)).await;
        (r.map_err(|e| self.err(e, "read_at", pos)), buf)
    }

    /// Writes the initialised bytes of `buf` at offset `pos`; returns how
    /// many were written (possibly fewer) and the buffer.
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let (r, buf) = Op::new(Write::new(self.fd.clone(), buf, pos)).await;
        (r.map_err(|e| self.err(e, "write_at", pos)), buf)
    }

    /// Fills the whole capacity of `buf` from offset `pos`, issuing more
    /// reads after short ones. `UnexpectedEof` if the file ends first (the
    /// buffer then holds what was read).
    pub async fn read_exact_at<B: IoBufMut>(&self, mut buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut done = 0;
        while done < total {
            let at = pos + done as u64;
            let (r, s) = self.read_at(buf.slice(done..total), at).await;
            buf = s.into_inner();
            match r {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "end of file");
                    return (Err(self.err(e, "read_exact_at", at)), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes all initialised bytes of `buf` from offset `pos`, issuing
    /// more writes after short ones. `WriteZero` if the kernel accepts none.
    pub async fn write_all_at<B: IoBuf>(&self, mut buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut done = 0;
        while done < total {
            let at = pos + done as u64;
            let (r, s) = self.write_at(buf.slice(done..total), at).await;
            buf = s.into_inner();
            match r {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes");
                    return (Err(self.err(e, "write_all_at", at)), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Reads into `bufs` in order, starting at `pos` (`preadv`): one
    /// operation for all of them (at most 1024). Returns the total read.
    pub async fn readv_at<B: IoBufMut>(&self, bufs: Vec<B>, pos: u64) -> BufResult<usize, Vec<B>> {
        let (r, bufs) = Op::new(Readv::new(self.fd.clone(), bufs, pos)).await;
        (r.map_err(|e| self.err(e, "readv_at", pos)), bufs)
    }

    /// Writes the initialised bytes of `bufs` in order, starting at `pos`
    /// (`pwritev`). Returns the total written (possibly fewer).
    pub async fn writev_at<B: IoBuf>(&self, bufs: Vec<B>, pos: u64) -> BufResult<usize, Vec<B>> {
        let (r, bufs) = Op::new(Writev::new(self.fd.clone(), bufs, pos)).await;
        (r.map_err(|e| self.err(e, "writev_at", pos)), bufs)
    }

    /// Flushes data and metadata to the device (`fsync`). Await the writes
    /// that must be covered first.
    pub async fn sync_all(&self) -> io::Result<()> {
        Op::new(Fsync::new(self.fd.clone(), false))
            .await
            .map_err(|e| crate::error::with_path(e, "sync_all", &self.path))
    }

    /// Flushes data, and only the metadata needed to read it (`fdatasync`).
    pub async fn sync_data(&self) -> io::Result<()> {
        Op::new(Fsync::new(self.fd.clone(), true))
            .await
            .map_err(|e| crate::error::with_path(e, "sync_data", &self.path))
    }

    /// Metadata of the open file (`statx` with `AT_EMPTY_PATH`).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        Op::new(Statx::fd(self.fd.clone()))
            .await
            .map(Metadata::new)
            .map_err(|e| crate::error::with_path(e, "metadata", &self.path))
    }

    /// Truncates or extends the file to `len` bytes (`FTRUNCATE`, Linux 6.9;
    /// the pool on older kernels).
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        Op::new(Ftruncate::new(self.fd.clone(), len))
            .await
            .map_err(|e| self.err(e, "set_len", len))
    }

    /// Allocates (or with `mode` flags such as `libc::FALLOC_FL_KEEP_SIZE`,
    /// `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`, changes) the disk space
    /// for `len` bytes from `offset` (`fallocate(2)`; the `FALLOCATE` SQE on
    /// io_uring, the pool on epoll). Mode 0 extends the file if the range
    /// ends past its end. `EOPNOTSUPP` on a file system without it.
    pub async fn fallocate(&self, offset: u64, len: u64, mode: i32) -> io::Result<()> {
        Op::new(Fallocate::new(self.fd.clone(), offset, len, mode))
            .await
            .map_err(|e| self.err(e, "fallocate", offset))
    }

    /// Closes the file and reports the error of `close(2)`. If operations
    /// on the file are still in flight (their futures were dropped), the fd
    /// closes when they finish and this returns `Ok(())`.
    pub async fn close(self) -> io::Result<()> {
        let path = self.path;
        self.fd
            .close()
            .await
            .map_err(|e| crate::error::with_path(e, "close", &path))
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The file for [`ringloop::io::copy_file_to_socket`](ringloop_runtime::io::copy_file_to_socket)
/// and [`splice`](ringloop_runtime::io::splice), which keep it open while
/// they run.
impl AsSharedFd for File {
    fn as_shared_fd(&self) -> &SharedFd {
        &self.fd
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.as_raw_fd())
            .field("path", &self.path)
            .finish()
    }
}
