//! Thin, checked wrappers over the socket syscalls that never block: socket
//! creation, bind, listen, options, names. Everything that may wait is an
//! operation in [`ops`](crate::ops).

mod addr;

use std::io;
use std::mem::size_of;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

pub(crate) use addr::RawAddr;

use crate::error::cvt;

/// `socket(domain, ty | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)`. Non-blocking is
/// what the readiness path needs and changes nothing for io_uring, which
/// never blocks on the fd itself.
pub(crate) fn socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd =
        cvt(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `socketpair(AF_UNIX, ty | SOCK_NONBLOCK | SOCK_CLOEXEC)`.
pub(crate) fn socketpair(ty: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `fds` has room for the two fds the call writes.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) })?;
    // SAFETY: both fds were just created and are owned by no one else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets or clears `O_NONBLOCK` (a flag of the socket, shared by every fd
/// that refers to it).
pub(crate) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: plain syscalls with integer arguments.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
    }
    Ok(())
}

pub(crate) fn bind(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: `addr` points to `addr.len` valid bytes for the call.
    cvt(unsafe { libc::bind(fd, addr.as_ptr(), addr.len) }).map(drop)
}

pub(crate) fn listen(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::listen(fd, backlog) }).map(drop)
}

/// `shutdown(2)`, which never blocks (the `Shutdown` op is the async form
/// that io_uring can batch; a destructor cannot await it).
pub(crate) fn shutdown(fd: RawFd, how: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::shutdown(fd, how) }).map(drop)
}

/// A `connect(2)` that cannot wait (UDP, Unix datagram): done at once.
pub(crate) fn connect_now(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: `addr` points to `addr.len` valid bytes for the call.
    cvt(unsafe { libc::connect(fd, addr.as_ptr(), addr.len) }).map(drop)
}

pub(crate) fn setsockopt<T: Copy>(fd: RawFd, level: i32, name: i32, val: T) -> io::Result<()> {
    let ptr = (&val as *const T).cast();
    // SAFETY: `ptr` points to a `T` of the size passed.
    cvt(unsafe { libc::setsockopt(fd, level, name, ptr, size_of::<T>() as libc::socklen_t) })
        .map(drop)
}

/// Reads an option; `T` must be plain data valid for any bit pattern (the
/// kernel fills it).
pub(crate) fn getsockopt<T: Copy + Default>(fd: RawFd, level: i32, name: i32) -> io::Result<T> {
    let mut val = T::default();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` has room for `len` bytes; the kernel writes at most that.
    cvt(unsafe { libc::getsockopt(fd, level, name, (&mut val as *mut T).cast(), &mut len) })?;
    Ok(val)
}

/// `SO_ERROR`: the pending error of a socket, cleared by reading it.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let e: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
}

pub(crate) fn local_addr(fd: RawFd) -> io::Result<RawAddr> {
    let mut a = RawAddr::empty();
    // SAFETY: `a` has room for `a.len` bytes; the kernel updates `a.len`.
    cvt(unsafe { libc::getsockname(fd, a.as_mut_ptr(), &mut a.len) })?;
    Ok(a)
}

pub(crate) fn peer_addr(fd: RawFd) -> io::Result<RawAddr> {
    let mut a = RawAddr::empty();
    // SAFETY: as for `local_addr`.
    cvt(unsafe { libc::getpeername(fd, a.as_mut_ptr(), &mut a.len) })?;
    Ok(a)
}
