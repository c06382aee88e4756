//! [`copy_file_to_socket`] and its steps, [`FileToSocket`]: a byte range
//! of a file to a socket, file → pipe → socket on io_uring (a `SPLICE`
//! SQE in, `splice(2)` out), `sendfile(2)` on epoll (see the [module docs](crate::io#zero-copy-splice-and-sendfile)).

use std::io;
use std::os::fd::AsRawFd;

use super::ops::{Lowering, SendFile, Splice};
use super::{has_splice, wait, AsSharedFd, Pipe};
use crate::driver::{Interest, Op, SharedFd};
use crate::sys::context;

/// Most bytes one `sendfile(2)` is asked for: bounds the time one call
/// holds the loop thread.
const SENDFILE_CHUNK: u64 = 1 << 20;

/// How the bytes go, chosen at the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// A `SPLICE` SQE into a pipe, `splice(2)` out of it.
    Splice,
    /// `sendfile(2)` on the readiness path.
    SendFile,
}

/// Sends bytes `offset..offset + len` of `file` to `socket`; returns how
/// many went out. Fewer than `len` means the file ended first (pass
/// `u64::MAX` to send up to its end). The file's own position is neither
/// used nor moved.
///
/// On io_uring the bytes go file → pipe with a `SPLICE` SQE (the kernel's
/// worker reads the file), pipe → socket with a non-blocking `splice(2)`
/// on the loop thread, one pipe's capacity at a time, through a pipe made
/// for this call; on epoll
/// (or a kernel without the opcode) `sendfile(2)`, at most 1 MiB per call.
/// An error says which step failed and keeps the OS error; `EINVAL` means
/// this file cannot be spliced or sent (copy it through a buffer instead).
/// To see progress between steps, or to reuse a pipe, use
/// [`FileToSocket`].
///
/// # Examples
///
/// ```
/// use ringloop::io::{self, AsyncRead};
/// use ringloop::net::UnixStream;
///
/// ringloop::block_on(async {
///     let path = std::env::temp_dir().join(format!("ringloop-doc-{}", std::process::id()));
///     std::fs::write(&path, b"0123456789")?;
///     let file = ringloop::fs::File::open(&path).await?;
///     let (a, b) = UnixStream::pair()?;
///     assert_eq!(io::copy_file_to_socket(&file, 2, 5, &a).await?, 5);
///     // Past the end: only what the file has.
///     assert_eq!(io::copy_file_to_socket(&file, 8, 100, &a).await?, 2);
///     let (n, buf) = b.read(Vec::with_capacity(16)).await;
///     assert_eq!((n?, &buf[..]), (7, &b"2345689"[..]));
///     std::fs::remove_file(&path)
/// })
/// .unwrap();
/// ```
pub async fn copy_file_to_socket<F, S>(
    file: &F,
    offset: u64,
    len: u64,
    socket: &S,
) -> io::Result<u64>
where
    F: AsSharedFd + ?Sized,
    S: AsSharedFd + ?Sized,
{
    let mut copy = FileToSocket::new(file, offset, len, socket);
    while copy.step().await? > 0 {}
    Ok(copy.sent())
}

/// [`copy_file_to_socket`] one step at a time: each
/// [`step`](Self::step) hands some bytes to the socket and says how many,
/// so a caller can account for progress (a send-rate limit, a metric)
/// between steps, and a pipe can serve many copies ([`with_pipe`](Self::with_pipe),
/// [`into_pipe`](Self::into_pipe)).
///
/// # Examples
///
/// ```
/// use ringloop::io::{AsyncRead, FileToSocket, Pipe};
/// use ringloop::net::UnixStream;
///
/// ringloop::block_on(async {
///     let path = std::env::temp_dir().join(format!("ringloop-doc2-{}", std::process::id()));
///     std::fs::write(&path, vec![7u8; 100_000])?;
///     let file = ringloop::fs::File::open(&path).await?;
///     let (a, b) = UnixStream::pair()?;
///     let reader = ringloop::spawn(async move { b.read_to_end(Vec::new()).await });
///     let mut copy = FileToSocket::new(&file, 0, u64::MAX, &a).with_pipe(Pipe::new()?);
///     let mut steps = 0;
///     while copy.step().await? > 0 {
///         steps += 1;
///     }
///     assert!(steps >= 1 && copy.sent() == 100_000 && copy.file_ended());
///     let _pipe_for_the_next_copy = copy.into_pipe();
///     drop(a);
///     let (n, _) = reader.await.unwrap();
///     assert_eq!(n?, 100_000);
///     std::fs::remove_file(&path)
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct FileToSocket {
    file: SharedFd,
    socket: SharedFd,
    /// The next file offset to read.
    next: u64,
    /// Where the range ends (saturated).
    end: u64,
    /// Bytes handed to the socket.
    sent: u64,
    /// The pipe of the splice path; made at the first step if not given.
    pipe: Option<Pipe>,
    /// Bytes in the pipe not yet sent.
    queued: usize,
    /// The file ended before the range did.
    eof: bool,
    /// The file's length, read (`fstat`) only when the page cache check
    /// needs it (a range that may reach past the end).
    size: Option<u64>,
    /// A step is running, or one was dropped before it finished (what it
    /// moved is unknown: the copy and its pipe cannot go on).
    busy: bool,
    path: Option<Path>,
}

impl FileToSocket {
    /// A copy of bytes `offset..offset + len` of `file` to `socket`;
    /// nothing happens until the first [`step`](Self::step).
    pub fn new<F, S>(file: &F, offset: u64, len: u64, socket: &S) -> Self
    where
        F: AsSharedFd + ?Sized,
        S: AsSharedFd + ?Sized,
    {
        FileToSocket {
            file: file.as_shared_fd().clone(),
            socket: socket.as_shared_fd().clone(),
            next: offset,
            end: offset.saturating_add(len),
            sent: 0,
            pipe: None,
            queued: 0,
            eof: false,
            size: None,
            busy: false,
            path: None,
        }
    }

    /// Uses `pipe` (which must be empty: one from [`into_pipe`](Self::into_pipe),
    /// or a new one) instead of making one, where the splice path is taken.
    pub fn with_pipe(mut self, pipe: Pipe) -> Self {
        self.pipe = Some(pipe);
        self
    }

    /// Bytes handed to the socket so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether the file ended before the range did (then [`sent`](Self::sent)
    /// is short of `len`).
    pub fn file_ended(&self) -> bool {
        self.eof
    }

    /// The pipe, for another copy: `None` if none was made, or if bytes
    /// are or may be still in it (a step failed sending them, or was
    /// dropped halfway).
    pub fn into_pipe(self) -> Option<Pipe> {
        if self.busy || self.queued > 0 {
            None
        } else {
            self.pipe
        }
    }

    /// Hands the next bytes to the socket (waiting while it is full) and
    /// returns how many; `Ok(0)` when the copy is over: the range is sent
    /// or the file ended ([`file_ended`](Self::file_ended)). After a step's
    /// future was dropped the copy cannot go on (what it moved is unknown;
    /// the next step says so with an error).
    pub async fn step(&mut self) -> io::Result<usize> {
        if self.busy {
            return Err(io::Error::other(
                "ringloop: FileToSocket::step after a step was dropped unfinished",
            ));
        }
        self.busy = true;
        let path = *self.path.get_or_insert_with(|| {
            if has_splice() {
                Path::Splice
            } else {
                Path::SendFile
            }
        });
        let r = match path {
            Path::Splice => self.splice_step().await,
            Path::SendFile => self.sendfile_step().await,
        };
        // Not reached when the future is dropped, so `busy` stays set. An
        // error leaves the state exact (what is in the pipe is counted).
        self.busy = false;
        r
    }

    /// The file offset of the next read, as an `off_t`.
    fn offset(&self) -> io::Result<i64> {
        i64::try_from(self.next).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("file offset {} is out of range", self.next),
            )
        })
    }

    async fn splice_step(&mut self) -> io::Result<usize> {
        if self.pipe.is_none() {
            self.pipe = Some(Pipe::new()?);
        }
        let pipe = self.pipe.as_ref().expect("made above");
        let (r, w, cap) = (
            pipe.reader().clone(),
            pipe.writer().clone(),
            pipe.capacity(),
        );
        if self.queued == 0 {
            if self.eof || self.next >= self.end {
                return Ok(0);
            }
            let off = self.offset()?;
            let want = (self.end - self.next).min(cap as u64) as u32;
            // The pipe is empty, so it has room: only the file can make
            // the splice wait, and the kernel's worker does that.
            let n = loop {
                let op = Splice::new(&self.file, off, &w, -1, want, Lowering::Pool);
                match Op::new(op).await {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let fd = self.file.as_raw_fd();
                        let what = format_args!("splice file (fd {fd}) at {off} to a pipe");
                        return Err(context(e, what));
                    }
                }
            };
            if n == 0 {
                self.eof = true;
                return Ok(0);
            }
            self.next += n as u64;
            self.queued = n;
        }
        // The pipe holds bytes, so only the socket can answer EAGAIN.
        let sock = self.socket.as_raw_fd();
        let what = || format!("splice a pipe to socket (fd {sock})");
        let lowering = Lowering::Ready(sock, Interest::Writable);
        loop {
            let op = Splice::new(&r, -1, &self.socket, -1, self.queued as u32, lowering);
            match Op::new(op).await {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    return Err(context(e, what()));
                }
                Ok(m) => {
                    self.queued -= m.min(self.queued);
                    self.sent += m as u64;
                    return Ok(m);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(&self.socket, Interest::Writable)
                        .await
                        .map_err(|e| context(e, what()))?;
                }
                Err(e) => return Err(context(e, what())),
            }
        }
    }

    /// Whether the next `want` bytes may not all be in the page cache (then
    /// `sendfile` goes to the pool, where waiting for the disk holds no
    /// loop). Unknown (no `cachestat`) counts as cached: the loop thread,
    /// as before.
    fn may_wait_for_disk(&mut self, want: u64) -> bool {
        let fd = self.file.as_raw_fd();
        let bound = self.size.unwrap_or(u64::MAX);
        match super::cache::all_cached(fd, self.next, want, bound) {
            Some(false) if self.size.is_none() => {
                // Maybe only past the end: look at the file's length once.
                let size = file_size(fd).unwrap_or(u64::MAX);
                self.size = Some(size);
                super::cache::all_cached(fd, self.next, want, size) == Some(false)
            }
            Some(cached) => !cached,
            None => false,
        }
    }

    async fn sendfile_step(&mut self) -> io::Result<usize> {
        if self.eof || self.next >= self.end {
            return Ok(0);
        }
        let off = self.offset()?;
        let want = (self.end - self.next).min(SENDFILE_CHUNK) as usize;
        let on_pool = self.may_wait_for_disk(want as u64);
        loop {
            match Op::new(SendFile::new(&self.socket, &self.file, off, want, on_pool)).await {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.next += n as u64;
                    self.sent += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // On the pool, the socket was full: wait for it here.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(&self.socket, Interest::Writable).await?;
                }
                Err(e) => {
                    let (s, f) = (self.socket.as_raw_fd(), self.file.as_raw_fd());
                    let what = format_args!("sendfile(socket fd {s}, file fd {f}) at {off}");
                    return Err(context(e, what));
                }
            }
        }
    }
}

/// The length of the file `fd` (`fstat`).
fn file_size(fd: std::os::fd::RawFd) -> io::Result<u64> {
    // SAFETY: `stat` is plain data; all-zero is a valid value to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable `stat` for the call.
    crate::sys::cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st.st_size as u64)
}
