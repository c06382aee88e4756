//! `iovec` arrays over owned buffers, for vectored operations (`readv`,
//! `writev`, `sendmsg`): one builder and one limit for every crate.

use super::{IoBuf, IoBufMut};

/// Most buffers one vectored call takes (`IOV_MAX` on Linux); a longer list
/// is cut here, and the byte count the call returns tells the caller how
/// far it got.
pub const IOV_MAX: usize = 1024;

/// The iovecs of a write: each buffer's initialised bytes, at most
/// [`IOV_MAX`] buffers.
pub fn write_iovecs<B: IoBuf>(bufs: &[B]) -> Vec<libc::iovec> {
    bufs.iter()
        .take(IOV_MAX)
        .map(|b| libc::iovec {
            iov_base: b.stable_ptr() as *mut libc::c_void,
            iov_len: b.bytes_init(),
        })
        .collect()
}

/// The iovecs of a read: each buffer's whole capacity, at most [`IOV_MAX`]
/// buffers.
pub fn read_iovecs<B: IoBufMut>(bufs: &mut [B]) -> Vec<libc::iovec> {
    bufs.iter_mut()
        .take(IOV_MAX)
        .map(|b| libc::iovec {
            iov_base: b.stable_mut_ptr().cast(),
            iov_len: b.bytes_total(),
        })
        .collect()
}
