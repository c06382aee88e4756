//! [`BufReader`]: a read buffer in front of a stream, for many small reads
//! and for line- or delimiter-framed input.

use std::cell::RefCell;
use std::future::Future;
use std::io;

use super::{AsyncRead, AsyncWrite};
use crate::buf::{BufResult, IoBuf, IoBufMut};

const DEFAULT_CAPACITY: usize = 8 * 1024;

#[derive(Debug)]
struct State {
    /// `buf[pos..]` is read and not yet consumed; `None` while the buffer
    /// is lent to the inner stream's read.
    buf: Option<Vec<u8>>,
    pos: usize,
}

/// Buffers the input of an [`AsyncRead`]: one inner read of up to its
/// capacity serves many small reads, and [`read_line`](Self::read_line) /
/// [`read_until`](Self::read_until) find delimiters in it.
///
/// The buffer is an owned `Vec<u8>` that goes to the inner stream by value,
/// as every ringloop read does, so a `BufReader` over a socket costs one
/// `RECV` per fill on io_uring. A read larger than the capacity, with the
/// buffer empty, goes straight to the inner stream.
///
/// Methods take `&self` like the traits; two reads of one `BufReader` may
/// not overlap (the second is an error while the first is filling).
///
/// Writes pass through to the inner stream, so a `BufReader<TcpStream>`
/// still answers.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use ringloop::io::BufReader;
///
/// ringloop::block_on(async {
///     let r = BufReader::new(RefCell::new(&b"one\ntwo\n"[..]));
///     let (n, line) = r.read_line(String::new()).await;
///     assert_eq!((n.unwrap(), line.as_str()), (4, "one\n"));
///     let (n, line) = r.read_line(line).await;
///     assert_eq!((n.unwrap(), line.as_str()), (4, "one\ntwo\n"));
/// });
/// ```
#[derive(Debug)]
pub struct BufReader<R> {
    inner: R,
    cap: usize,
    state: RefCell<State>,
}

fn busy() -> io::Error {
    io::Error::other("BufReader: another read on it is still filling its buffer")
}

/// Copies as much of `src` as fits into `dst`'s capacity, from its start.
fn copy_out<B: IoBufMut>(src: &[u8], dst: &mut B) -> usize {
    let n = src.len().min(dst.bytes_total());
    // SAFETY: `dst` is writable for `bytes_total >= n` bytes (IoBufMut) and
    // is not `src`'s memory (that is the reader's own Vec).
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.stable_mut_ptr(), n) };
    // SAFETY: the first `n` bytes were just written.
    unsafe { dst.set_init(n) };
    n
}

impl<R: AsyncRead> BufReader<R> {
    /// A reader with an 8 KiB buffer.
    pub fn new(inner: R) -> Self {
        Self::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A reader with a buffer of `cap` bytes (at least 1).
    pub fn with_capacity(cap: usize, inner: R) -> Self {
        let cap = cap.max(1);
        BufReader {
            inner,
            cap,
            state: RefCell::new(State {
                buf: Some(Vec::with_capacity(cap)),
                pos: 0,
            }),
        }
    }

    /// The buffer's capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Bytes read from the inner stream and not consumed yet.
    pub fn buffered(&self) -> usize {
        let st = self.state.borrow();
        st.buf.as_ref().map_or(0, |b| b.len() - st.pos)
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner stream, mutably (reading from it directly skips what is
    /// buffered).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The inner stream; buffered bytes are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Makes sure unconsumed bytes are buffered, reading once from the
    /// inner stream if none are; the count buffered (0 at end of stream).
    async fn fill(&self) -> io::Result<usize> {
        let mut buf = {
            let mut st = self.state.borrow_mut();
            let len = st.buf.as_ref().ok_or_else(busy)?.len();
            if st.pos < len {
                return Ok(len - st.pos);
            }
            st.pos = 0;
            st.buf.take().ok_or_else(busy)?
        };
        buf.clear();
        let (r, b) = self.inner.read(buf).await;
        self.state.borrow_mut().buf = Some(b);
        r
    }

    /// Runs `f` on the unconsumed bytes; it returns how many to consume and
    /// its own result.
    fn consume_with<T>(&self, f: impl FnOnce(&[u8]) -> (usize, T)) -> io::Result<T> {
        let mut st = self.state.borrow_mut();
        let pos = st.pos;
        let buf = st.buf.as_ref().ok_or_else(busy)?;
        let (used, out) = f(&buf[pos..]);
        st.pos += used;
        Ok(out)
    }

    /// Appends bytes to `out` up to and including `delim`, or to the end of
    /// the stream; returns the number appended (0 at end of stream).
    pub async fn read_until(&self, delim: u8, mut out: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        let mut total = 0;
        loop {
            match self.fill().await {
                Ok(0) => return (Ok(total), out),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return (Err(e), out),
            }
            let step = self.consume_with(|avail| match avail.iter().position(|&b| b == delim) {
                Some(i) => {
                    out.extend_from_slice(&avail[..=i]);
                    (i + 1, (i + 1, true))
                }
                None => {
                    out.extend_from_slice(avail);
                    (avail.len(), (avail.len(), false))
                }
            });
            match step {
                Ok((n, found)) => {
                    total += n;
                    if found {
                        return (Ok(total), out);
                    }
                }
                Err(e) => return (Err(e), out),
            }
        }
    }

    /// Appends one line, with its `\n`, to `s` (the last line of a stream
    /// may lack it); returns the bytes appended, 0 at end of stream.
    /// `InvalidData` if the line is not UTF-8 (`s` comes back unchanged).
    pub async fn read_line(&self, s: String) -> BufResult<usize, String> {
        let start = s.len();
        let (r, mut bytes) = self.read_until(b'\n', s.into_bytes()).await;
        let r = match std::str::from_utf8(&bytes[start..]) {
            Ok(_) => r,
            Err(bad) => {
                bytes.truncate(start);
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("line is not UTF-8: {bad}"),
                ))
            }
        };
        // SAFETY: `bytes[..start]` was a String and the rest was checked
        // (or cut off) above.
        (r, unsafe { String::from_utf8_unchecked(bytes) })
    }
}

impl<R: AsyncRead> AsyncRead for BufReader<R> {
    async fn read<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        let (empty, busy_now) = {
            let st = self.state.borrow();
            match &st.buf {
                Some(b) => (st.pos >= b.len(), false),
                None => (true, true),
            }
        };
        if busy_now {
            return (Err(busy()), buf);
        }
        if empty && buf.bytes_total() >= self.cap {
            return self.inner.read(buf).await;
        }
        if let Err(e) = self.fill().await {
            return (Err(e), buf);
        }
        let r = self.consume_with(|avail| {
            let n = copy_out(avail, &mut buf);
            (n, n)
        });
        (r, buf)
    }
}

impl<R: AsyncWrite> AsyncWrite for BufReader<R> {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.inner.write(buf)
    }
    async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.inner.writev(bufs).await
    }
    async fn flush(&self) -> io::Result<()> {
        self.inner.flush().await
    }
    async fn shutdown(&self) -> io::Result<()> {
        self.inner.shutdown().await
    }
}
