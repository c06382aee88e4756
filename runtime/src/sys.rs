//! The one syscall and error convention of the ringloop crates.
//!
//! A bare `Connection refused (os error 111)` does not say which socket or
//! which call; a message that replaces the error loses its errno, which a
//! server needs to tell `EMFILE` from `ECONNABORTED`. So every error a
//! ringloop crate returns for a syscall is an [`io::Error`] with the same
//! [`io::ErrorKind`] as the OS error, whose message names the call, and
//! whose [`source`](std::error::Error::source) is the original OS error
//! ([`context`]); [`os_error`] finds the errno in either shape. Every libc
//! call goes through [`cvt`] or [`cvt_len`]; context is built only on the
//! error path.

use std::error::Error;
use std::fmt;
use std::io;

/// The context wrapper; reached through `io::Error::get_ref`.
#[derive(Debug)]
struct Context {
    what: String,
    source: io::Error,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Wraps `e` with `what` (e.g. `"connect to 127.0.0.1:80"`), keeping its
/// kind and, as its source, the original error.
pub fn context(e: io::Error, what: impl fmt::Display) -> io::Error {
    let kind = e.kind();
    io::Error::new(
        kind,
        Context {
            what: what.to_string(),
            source: e,
        },
    )
}

/// The OS error code (`errno`) of an error returned by a ringloop crate:
/// the error's own, or that of the OS error it wraps with context.
///
/// # Examples
///
/// ```
/// use ringloop::sys::{context, os_error};
///
/// let e = context(std::io::Error::from_raw_os_error(libc::EMFILE), "accept");
/// assert_eq!(e.raw_os_error(), None);
/// assert_eq!(os_error(&e), Some(libc::EMFILE));
/// ```
pub fn os_error(e: &io::Error) -> Option<i32> {
    if let Some(code) = e.raw_os_error() {
        return Some(code);
    }
    let mut cur: Option<&(dyn Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(err) = cur {
        if let Some(code) = err
            .downcast_ref::<io::Error>()
            .and_then(|e| e.raw_os_error())
        {
            return Some(code);
        }
        cur = err.source();
    }
    None
}

/// Turns a libc return value into a result (`-1` → `errno`).
pub fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// As [`cvt`] for `ssize_t` returns, as the `u32` a CQE would carry.
pub fn cvt_len(r: libc::ssize_t) -> io::Result<u32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(u32::try_from(r).unwrap_or(u32::MAX))
    }
}
