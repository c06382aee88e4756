//! In-memory streams: `RefCell<Cursor<T>>`, `RefCell<&[u8]>` (reads) and
//! `RefCell<Vec<u8>>` (writes). Each call copies at once and completes
//! without waiting; the cell is borrowed only inside the call, never across
//! an await, so a busy cell (a `borrow()` the caller holds) is an error, not
//! a panic.

use std::cell::{RefCell, RefMut};
use std::io::{self, Cursor, Read, Write};

use super::{AsyncRead, AsyncWrite};
use crate::buf::{BufResult, IoBuf, IoBufMut};

fn cell<T>(c: &RefCell<T>) -> io::Result<RefMut<'_, T>> {
    c.try_borrow_mut()
        .map_err(|_| io::Error::other("in-memory stream: its RefCell is already borrowed"))
}

/// Copies from `src` into the capacity of `buf`, from its first byte.
pub(super) fn fill<B: IoBufMut>(src: &mut impl Read, buf: &mut B) -> io::Result<usize> {
    let total = buf.bytes_total();
    let ptr = buf.stable_mut_ptr();
    // The bytes past the initialised length may be uninitialised: zero them
    // before lending them to `Read` as `&mut [u8]`, then restore nothing
    // (they are initialised from now on, which is allowed).
    let init = buf.bytes_init().min(total);
    // SAFETY: `ptr` is valid for writes of `total` bytes (IoBufMut); the
    // bytes `init..total` are written before any is read.
    unsafe { std::ptr::write_bytes(ptr.add(init), 0, total - init) };
    // SAFETY: all `total` bytes are initialised now, and `buf` is borrowed
    // mutably for the slice's life.
    let dst = unsafe { std::slice::from_raw_parts_mut(ptr, total) };
    let n = src.read(dst)?;
    // SAFETY: the first `n <= total` bytes were written by `read` (all of
    // `total` are initialised anyway).
    unsafe { buf.set_init(n) };
    Ok(n)
}

/// The initialised bytes of `buf`.
pub(super) fn bytes<B: IoBuf>(buf: &B) -> &[u8] {
    // SAFETY: the first `bytes_init` bytes at `stable_ptr` are initialised
    // and live as long as `buf` (IoBuf contract).
    unsafe { std::slice::from_raw_parts(buf.stable_ptr(), buf.bytes_init()) }
}

fn read_from<R: Read, B: IoBufMut>(c: &RefCell<R>, mut buf: B) -> BufResult<usize, B> {
    let r = cell(c).and_then(|mut src| fill(&mut *src, &mut buf));
    (r, buf)
}

fn readv_from<R: Read, B: IoBufMut>(c: &RefCell<R>, mut bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
    let r = cell(c).and_then(|mut src| {
        let mut total = 0;
        for b in &mut bufs {
            let n = fill(&mut *src, b)?;
            total += n;
            if n < b.bytes_total() {
                break;
            }
        }
        Ok(total)
    });
    (r, bufs)
}

fn write_to<W: Write, B: IoBuf>(c: &RefCell<W>, buf: B) -> BufResult<usize, B> {
    let r = cell(c).and_then(|mut dst| dst.write(bytes(&buf)));
    (r, buf)
}

fn writev_to<W: Write, B: IoBuf>(c: &RefCell<W>, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
    let r = cell(c).and_then(|mut dst| {
        let mut total = 0;
        for b in &bufs {
            let src = bytes(b);
            let n = dst.write(src)?;
            total += n;
            if n < src.len() {
                break;
            }
        }
        Ok(total)
    });
    (r, bufs)
}

macro_rules! mem_read {
    ($([$($g:tt)*] $t:ty),*) => {$(
        impl<$($g)*> AsyncRead for RefCell<$t> {
            async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
                read_from(self, buf)
            }
            async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
                readv_from(self, bufs)
            }
        }
    )*};
}

macro_rules! mem_write {
    ($([$($g:tt)*] $t:ty),*) => {$(
        impl<$($g)*> AsyncWrite for RefCell<$t> where $t: Write {
            async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
                write_to(self, buf)
            }
            async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
                writev_to(self, bufs)
            }
        }
    )*};
}

mem_read!([T: AsRef<[u8]>] Cursor<T>, ['a] &'a [u8]);
mem_write!([T] Cursor<T>, [] Vec<u8>);
