//! [`copy`], and the defaults of `read_to_end` / `read_to_string`.

use std::io;

use super::{AsyncRead, AsyncWrite};
use crate::buf::{BufResult, IoBuf};

/// Size of the one buffer [`copy`] reuses.
const COPY_BUF: usize = 64 * 1024;

/// Copies everything `reader` yields to `writer`, then flushes `writer`;
/// returns the number of bytes copied. One 64 KiB buffer goes back and
/// forth between the two (read into it, write all of it, reuse it).
///
/// Not a `splice`: every byte passes through user memory, on both
/// backends. An error from either side ends the copy; the bytes written
/// so far stay written.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use ringloop::io;
///
/// ringloop::block_on(async {
///     let out = RefCell::new(Vec::new());
///     let n = io::copy(&RefCell::new(&b"abc"[..]), &out).await.unwrap();
///     assert_eq!((n, out.into_inner()), (3, b"abc".to_vec()));
/// });
/// ```
pub async fn copy<R, W>(reader: &R, writer: &W) -> io::Result<u64>
where
    R: AsyncRead + ?Sized,
    W: AsyncWrite + ?Sized,
{
    let mut buf = Vec::with_capacity(COPY_BUF);
    let mut total = 0u64;
    loop {
        buf.clear();
        let (r, b) = reader.read(buf).await;
        buf = b;
        let n = match r {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let (r, b) = writer.write_all(buf).await;
        buf = b;
        r?;
        total += n as u64;
    }
    writer.flush().await?;
    Ok(total)
}

/// Smallest room `read_to_end` asks a read to fill.
const MIN_READ: usize = 4096;

pub(super) async fn read_to_end<R>(r: &R, mut buf: Vec<u8>) -> BufResult<usize, Vec<u8>>
where
    R: AsyncRead + ?Sized,
{
    let start = buf.len();
    loop {
        if buf.capacity() - buf.len() < MIN_READ {
            // Doubling, as `Vec` grows: amortised O(1) per byte.
            buf.reserve(buf.capacity().max(MIN_READ));
        }
        let len = buf.len();
        let (res, s) = r.read(buf.slice(len..)).await;
        buf = s.into_inner();
        match res {
            Ok(0) => return (Ok(buf.len() - start), buf),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
}

pub(super) async fn read_to_string<R>(r: &R, s: String) -> BufResult<usize, String>
where
    R: AsyncRead + ?Sized,
{
    let start = s.len();
    let (res, mut bytes) = r.read_to_end(s.into_bytes()).await;
    let check = std::str::from_utf8(&bytes[start..]).map(|_| ());
    let res = match (res, check) {
        (Ok(n), Ok(())) => Ok(n),
        (Err(e), Ok(())) => Err(e),
        (_, Err(bad)) => {
            bytes.truncate(start);
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("stream is not UTF-8: {bad}"),
            ))
        }
    };
    // SAFETY: `bytes[..start]` was a String, and what follows was checked
    // (or cut off) just above.
    (res, unsafe { String::from_utf8_unchecked(bytes) })
}
