//! [`SocketAddr`]: the address of a Unix socket — a filesystem path, an
//! abstract name (Linux: a name in a namespace of its own, gone when the
//! last socket closes, nothing to clean up), or unnamed.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::sys::RawAddr;

const PATH_OFFSET: usize = offset_of!(libc::sockaddr_un, sun_path);
const PATH_MAX: usize = size_of::<libc::sockaddr_un>() - PATH_OFFSET;

/// The address of a Unix socket.
#[derive(Clone, Copy)]
pub struct SocketAddr {
    pub(crate) raw: RawAddr,
}

impl SocketAddr {
    /// The address of the socket file at `path`. An error if the path has a
    /// NUL byte or does not fit `sun_path` (107 bytes).
    pub fn from_pathname(path: impl AsRef<Path>) -> io::Result<SocketAddr> {
        let bytes = path.as_ref().as_os_str().as_bytes();
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unix socket path contains a NUL byte",
            ));
        }
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty unix socket path",
            ));
        }
        SocketAddr::with_path(bytes, bytes.len() + 1)
    }

    /// The abstract address `name` (Linux): no file, nothing to unlink.
    pub fn from_abstract_name(name: impl AsRef<[u8]>) -> io::Result<SocketAddr> {
        let name = name.as_ref();
        let mut path = Vec::with_capacity(name.len() + 1);
        path.push(0);
        path.extend_from_slice(name);
        SocketAddr::with_path(&path, path.len())
    }

    fn with_path(bytes: &[u8], used: usize) -> io::Result<SocketAddr> {
        if used > PATH_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unix socket address of {used} bytes exceeds {PATH_MAX}"),
            ));
        }
        let mut raw = RawAddr::empty();
        let base = raw.as_mut_ptr().cast::<u8>();
        // SAFETY: sockaddr_storage holds a sockaddr_un: the family field is
        // at offset 0 and `bytes` fits `sun_path` (checked above); the rest
        // of the storage is zero, which terminates a path.
        unsafe {
            (*raw.as_mut_ptr()).sa_family = libc::AF_UNIX as libc::sa_family_t;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(PATH_OFFSET), bytes.len());
        }
        raw.len = (PATH_OFFSET + used) as libc::socklen_t;
        Ok(SocketAddr { raw })
    }

    /// The bytes of `sun_path` that the length covers.
    fn path_bytes(&self) -> &[u8] {
        let len = (self.raw.len as usize).clamp(PATH_OFFSET, PATH_OFFSET + PATH_MAX) - PATH_OFFSET;
        // SAFETY: `sun_path` lies inside the storage, and `len <= PATH_MAX`.
        unsafe { std::slice::from_raw_parts(self.raw.as_ptr().cast::<u8>().add(PATH_OFFSET), len) }
    }

    /// Whether the socket has no name (an unbound or `pair()` socket).
    pub fn is_unnamed(&self) -> bool {
        self.path_bytes().is_empty()
    }

    /// The filesystem path, for a pathname address.
    pub fn as_pathname(&self) -> Option<&Path> {
        let b = self.path_bytes();
        if b.first().is_none_or(|&c| c == 0) {
            return None;
        }
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        Some(Path::new(OsStr::from_bytes(&b[..end])))
    }

    /// The name, for an abstract address.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match self.path_bytes() {
            [0, name @ ..] => Some(name),
            _ => None,
        }
    }
}

impl fmt::Debug for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.as_pathname() {
            write!(f, "{}", p.display())
        } else if let Some(n) = self.as_abstract_name() {
            write!(f, "@{}", String::from_utf8_lossy(n))
        } else {
            f.write_str("(unnamed)")
        }
    }
}
