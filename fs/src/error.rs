//! Error context: which operation, on which path.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Wraps `e` as `op("path"): e`, keeping its kind.
pub(crate) fn with_path(e: io::Error, op: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{op}({path:?}): {e}"))
}

/// Wraps `e` as `op("from", "to"): e`, keeping its kind.
pub(crate) fn with_paths(e: io::Error, op: &str, from: &Path, to: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{op}({from:?}, {to:?}): {e}"))
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

/// Converts a `-1`-on-error syscall return into the pool job's result.
pub(crate) fn cvt(r: libc::c_long) -> io::Result<u32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        // Byte counts of one call fit in u32: the ops clamp lengths to it.
        Ok(r as u32)
    }
}
