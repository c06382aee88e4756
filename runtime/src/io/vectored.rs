//! The default vectored methods of the I/O traits, over any stream.
//!
//! A partial transfer ends inside one buffer of the list; the rest of that
//! buffer goes out (or in) through a [`Slice`](crate::buf::Slice) of it, so
//! no byte is copied and every buffer comes back in its place.

use std::io;

use super::{eof, write_zero, AsyncRead, AsyncWrite};
use crate::buf::{BufResult, IoBuf, IoBufMut};

/// `readv` as one `read` into the first buffer with room.
pub(super) async fn readv_first<R, B>(r: &R, mut bufs: Vec<B>) -> BufResult<usize, Vec<B>>
where
    R: AsyncRead + ?Sized,
    B: IoBufMut,
{
    let Some(i) = bufs.iter().position(|b| b.bytes_total() > 0) else {
        return (Ok(0), bufs);
    };
    let b = bufs.remove(i);
    let (res, b) = r.read(b).await;
    bufs.insert(i, b);
    (res, bufs)
}

/// `writev` as one `write` of the first buffer with bytes.
pub(super) async fn writev_first<W, B>(w: &W, mut bufs: Vec<B>) -> BufResult<usize, Vec<B>>
where
    W: AsyncWrite + ?Sized,
    B: IoBuf,
{
    let Some(i) = bufs.iter().position(|b| b.bytes_init() > 0) else {
        return (Ok(0), bufs);
    };
    let b = bufs.remove(i);
    let (res, b) = w.write(b).await;
    bufs.insert(i, b);
    (res, bufs)
}

/// Hands `done` and `rest` back as one list, in order.
fn rejoin<B>(mut done: Vec<B>, rest: Vec<B>) -> Vec<B> {
    done.extend(rest);
    done
}

pub(super) async fn write_vectored_all<W, B>(w: &W, bufs: Vec<B>) -> BufResult<(), Vec<B>>
where
    W: AsyncWrite + ?Sized,
    B: IoBuf,
{
    let total: usize = bufs.iter().map(IoBuf::bytes_init).sum();
    let mut written = 0;
    let mut done = Vec::with_capacity(bufs.len());
    let mut rest = bufs;
    while written < total {
        let (res, back) = w.writev(rest).await;
        rest = back;
        let mut n = match res {
            Ok(0) => return (Err(write_zero(written, total)), rejoin(done, rest)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (Err(e), rejoin(done, rest)),
        };
        written += n;
        let full = rest
            .iter()
            .take_while(|b| {
                let fits = b.bytes_init() <= n;
                if fits {
                    n -= b.bytes_init();
                }
                fits
            })
            .count();
        done.extend(rest.drain(..full));
        if n > 0 && !rest.is_empty() {
            // The write ended inside `rest[0]`: send the remainder of it.
            let b = rest.remove(0);
            let left = b.bytes_init() - n;
            let (res, s) = w.write_all(b.slice(n..)).await;
            done.push(s.into_inner());
            if let Err(e) = res {
                return (Err(e), rejoin(done, rest));
            }
            written += left;
        }
    }
    (Ok(()), rejoin(done, rest))
}

pub(super) async fn read_vectored_exact<R, B>(r: &R, bufs: Vec<B>) -> BufResult<(), Vec<B>>
where
    R: AsyncRead + ?Sized,
    B: IoBufMut,
{
    let total: usize = bufs.iter().map(IoBuf::bytes_total).sum();
    let mut filled = 0;
    let mut done = Vec::with_capacity(bufs.len());
    let mut rest = bufs;
    while filled < total {
        let (res, back) = r.readv(rest).await;
        rest = back;
        let mut n = match res {
            Ok(0) => return (Err(eof(filled, total)), rejoin(done, rest)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (Err(e), rejoin(done, rest)),
        };
        filled += n;
        let full = rest
            .iter()
            .take_while(|b| {
                let fits = b.bytes_total() <= n;
                if fits {
                    n -= b.bytes_total();
                }
                fits
            })
            .count();
        done.extend(rest.drain(..full));
        if n > 0 && !rest.is_empty() {
            // The read ended inside `rest[0]`: fill the remainder of it.
            let b = rest.remove(0);
            let left = b.bytes_total() - n;
            let (res, s) = r.read_exact(b.slice(n..)).await;
            done.push(s.into_inner());
            if let Err(e) = res {
                return (Err(e), rejoin(done, rest));
            }
            filled += left;
        }
    }
    (Ok(()), rejoin(done, rest))
}
