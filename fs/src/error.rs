//! Error context: which operation, on which path. The OS error stays the
//! source (its errno reachable with `ringloop::io::os_error`), and the
//! message is built only on the error path (the runtime's convention,
//! `ringloop::sys`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) use ringloop_runtime::sys::{context, cvt, cvt_len};

/// Wraps `e` as `op("path"): e`, keeping its kind and errno.
pub(crate) fn with_path(e: io::Error, op: &str, path: &Path) -> io::Error {
    context(e, format_args!("{op}({path:?})"))
}

/// Wraps `e` as `op("from", "to"): e`, keeping its kind and errno.
pub(crate) fn with_paths(e: io::Error, op: &str, from: &Path, to: &Path) -> io::Error {
    context(e, format_args!("{op}({from:?}, {to:?})"))
}

/// The path as a C string; an interior NUL byte is `InvalidInput`.
pub(crate) fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "path contains an interior NUL byte",
        )
    })
}
