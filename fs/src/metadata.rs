//! [`Metadata`] and [`FileType`]: what `statx(2)` reports.
//!
//! Built from the `statx` struct the kernel filled (a `STATX` SQE on
//! io_uring, `statx` on the pool elsewhere). Fields the filesystem did not
//! report (`stx_mask` lacks them, e.g. the birth time on some filesystems)
//! are errors from their accessor, never invented values.

use std::fmt;
use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

/// The type of a file: regular file, directory, symlink, or other.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileType {
    /// The `S_IFMT` bits of the mode.
    fmt: u32,
}

impl FileType {
    pub(crate) fn from_mode(mode: u32) -> Self {
        FileType {
            fmt: mode & libc::S_IFMT,
        }
    }

    pub(crate) fn from_std(t: std::fs::FileType) -> Self {
        use std::os::unix::fs::FileTypeExt;
        let fmt = if t.is_file() {
            libc::S_IFREG
        } else if t.is_dir() {
            libc::S_IFDIR
        } else if t.is_symlink() {
            libc::S_IFLNK
        } else if t.is_fifo() {
            libc::S_IFIFO
        } else if t.is_socket() {
            libc::S_IFSOCK
        } else if t.is_block_device() {
            libc::S_IFBLK
        } else {
            libc::S_IFCHR
        };
        FileType { fmt }
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.fmt == libc::S_IFREG
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.fmt == libc::S_IFDIR
    }

    /// A symbolic link (only seen by `symlink_metadata` and `read_dir`).
    pub fn is_symlink(&self) -> bool {
        self.fmt == libc::S_IFLNK
    }
}

impl fmt::Debug for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.fmt {
            libc::S_IFREG => "file",
            libc::S_IFDIR => "dir",
            libc::S_IFLNK => "symlink",
            libc::S_IFIFO => "fifo",
            libc::S_IFSOCK => "socket",
            libc::S_IFBLK => "block device",
            libc::S_IFCHR => "char device",
            _ => "unknown",
        };
        f.write_str(name)
    }
}

/// Metadata of a file, from `statx(2)`.
#[derive(Clone)]
pub struct Metadata {
    stx: libc::statx,
}

impl Metadata {
    pub(crate) fn new(stx: libc::statx) -> Self {
        Metadata { stx }
    }

    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.stx.stx_size
    }

    /// Whether the size is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file type.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(u32::from(self.stx.stx_mode))
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    /// The permission bits, as std's [`Permissions`].
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode() & 0o7777)
    }

    /// The full `st_mode` (type and permission bits).
    pub fn mode(&self) -> u32 {
        u32::from(self.stx.stx_mode)
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.stx.stx_ino
    }

    /// The number of hard links.
    pub fn nlink(&self) -> u64 {
        u64::from(self.stx.stx_nlink)
    }

    /// The owner's user id.
    pub fn uid(&self) -> u32 {
        self.stx.stx_uid
    }

    /// The owner's group id.
    pub fn gid(&self) -> u32 {
        self.stx.stx_gid
    }

    /// The preferred I/O block size.
    pub fn blksize(&self) -> u64 {
        u64::from(self.stx.stx_blksize)
    }

    /// Allocated 512-byte blocks.
    pub fn blocks(&self) -> u64 {
        self.stx.stx_blocks
    }

    /// Last modification time.
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_MTIME, self.stx.stx_mtime, "modification time")
    }

    /// Last access time.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_ATIME, self.stx.stx_atime, "access time")
    }

    /// Creation (birth) time, where the filesystem records it.
    pub fn created(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_BTIME, self.stx.stx_btime, "creation time")
    }

    fn time(&self, bit: u32, ts: libc::statx_timestamp, what: &str) -> io::Result<SystemTime> {
        if self.stx.stx_mask & bit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{what} is not available on this filesystem"),
            ));
        }
        let nanos = Duration::from_nanos(u64::from(ts.tv_nsec));
        let t = if ts.tv_sec >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(ts.tv_sec as u64) + nanos)
        } else {
            SystemTime::UNIX_EPOCH
                .checked_sub(Duration::from_secs(ts.tv_sec.unsigned_abs()))
                .and_then(|t| t.checked_add(nanos))
        };
        t.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{what} out of range")))
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("file_type", &self.file_type())
            .field("len", &self.len())
            .field("mode", &format_args!("{:o}", self.mode()))
            .field("modified", &self.modified().ok())
            .finish_non_exhaustive()
    }
}
