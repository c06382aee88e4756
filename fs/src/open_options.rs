//! [`OpenOptions`]: how to open a file, as in std, plus `custom_flags` (for
//! `O_DIRECT`, `O_NOATIME`, ...). Opening is one `OPENAT` SQE on io_uring,
//! `openat` on the pool elsewhere.

use std::io;
use std::path::Path;

use ringloop_runtime::driver::Op;

use crate::error::{cstring, with_path};
use crate::ops::Open;
use crate::File;

/// Options for opening a file; see [`std::fs::OpenOptions`].
///
/// # Examples
///
/// ```
/// use ringloop::fs::OpenOptions;
///
/// ringloop::block_on(async {
///     let path = std::env::temp_dir().join(format!("ringloop-oo-doc-{}", std::process::id()));
///     let f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600)
///         .open(&path).await.unwrap();
///     f.close().await.unwrap();
///     ringloop::fs::remove_file(&path).await.unwrap();
/// });
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off; mode `0o666` (before the umask).
    pub fn new() -> Self {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }

    /// Open for appending (implies write). Positioned writes (`write_at`)
    /// still append on Linux, as `pwrite(2)` documents for `O_APPEND`.
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }

    /// Truncate an existing file to 0 bytes (needs write).
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }

    /// Create the file if it does not exist (needs write or append).
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }

    /// Permission bits for a new file (before the umask).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags, such as `libc::O_DIRECT`. The access mode bits
    /// (`O_ACCMODE`) are ignored: use `read`/`write`.
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// Opens `path` with these options.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let r = async {
            let flags = self.flags()?;
            let c = cstring(path)?;
            Op::new(Open::new(c, flags, self.mode as libc::mode_t)).await
        }
        .await;
        match r {
            Ok(fd) => Ok(File::from_owned(fd, path)),
            Err(e) => Err(with_path(e, "open", path)),
        }
    }

    fn flags(&self) -> io::Result<i32> {
        let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_string());
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => {
                return Err(invalid("no access mode: set read, write or append"))
            }
        };
        let writable = self.write || self.append;
        if (self.truncate || self.create || self.create_new) && !writable {
            return Err(invalid("create and truncate need write or append access"));
        }
        if self.truncate && self.append && !self.create_new {
            return Err(invalid("truncate and append are exclusive"));
        }
        let creation = if self.create_new {
            libc::O_CREAT | libc::O_EXCL
        } else {
            (if self.create { libc::O_CREAT } else { 0 })
                | (if self.truncate { libc::O_TRUNC } else { 0 })
        };
        Ok(access | creation | (self.custom_flags & !libc::O_ACCMODE))
    }
}
