//! Free functions on paths, as in `std::fs`: each is one SQE on io_uring
//! (`OPENAT`+`STATX`+`READ`+`CLOSE` for [`read`]; `UNLINKAT`, `MKDIRAT`,
//! `RENAMEAT`, `LINKAT`, `SYMLINKAT`, `STATX` for the rest) and a pool job
//! per syscall on epoll.
//!
//! Paths are relative to the process's current directory (`AT_FDCWD`). A
//! dropped future may still have taken effect (a file removed, a directory
//! created): the syscall cannot be recalled once the kernel started it.

use std::io;
use std::path::Path;

use ringloop_runtime::buf::IoBuf;
use ringloop_runtime::driver::Op;

use crate::error::{cstring, with_path, with_paths};
use crate::metadata::Metadata;
use crate::ops::{Link, Mkdir, Rename, Statx, Symlink, Unlink};
use crate::File;

/// Reads the whole file into a `Vec`.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    let file = File::open(path).await?;
    let len = file.metadata().await.map_or(0, |m| m.len());
    // The size is a hint: the file may grow or shrink meanwhile.
    let mut buf: Vec<u8> = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity().max(8192));
        }
        let start = buf.len();
        let (r, s) = file.read_at(IoBuf::slice(buf, start..), start as u64).await;
        buf = s.into_inner();
        match r {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.close().await?;
    Ok(buf)
}

/// Reads the whole file as UTF-8; `InvalidData` if it is not.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref();
    let bytes = read(path).await?;
    String::from_utf8(bytes).map_err(|e| {
        let e = io::Error::new(io::ErrorKind::InvalidData, e.utf8_error());
        with_path(e, "read_to_string", path)
    })
}

/// Creates or truncates the file and writes `contents` to it.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let file = File::create(path).await?;
    let (r, _) = file.write_all_at(contents.as_ref().to_vec(), 0).await;
    r?;
    file.close().await
}

/// Metadata of `path`, following symlinks (`statx`).
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), true, "metadata").await
}

/// Metadata of `path` itself, not following a final symlink.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), false, "symlink_metadata").await
}

async fn stat(path: &Path, follow: bool, op: &str) -> io::Result<Metadata> {
    async { Op::new(Statx::path(cstring(path)?, follow)).await }
        .await
        .map(Metadata::new)
        .map_err(|e| with_path(e, op, path))
}

/// Removes a file (or a symlink).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    async { Op::new(Unlink::new(cstring(path)?, false)).await }
        .await
        .map_err(|e| with_path(e, "remove_file", path))
}

/// Removes an empty directory.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    async { Op::new(Unlink::new(cstring(path)?, true)).await }
        .await
        .map_err(|e| with_path(e, "remove_dir", path))
}

/// Creates a directory (mode `0o777` before the umask); its parent must exist.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    mkdir(path)
        .await
        .map_err(|e| with_path(e, "create_dir", path))
}

async fn mkdir(path: &Path) -> io::Result<()> {
    Op::new(Mkdir::new(cstring(path)?, 0o777)).await
}

/// Creates a directory and all missing parents; `Ok` if it already exists
/// as a directory.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let wrap = |e| with_path(e, "create_dir_all", path);
    // Walk up to the first ancestor that exists (or can be made), then down.
    let mut missing = Vec::new();
    let mut cur = path;
    loop {
        if cur.as_os_str().is_empty() {
            break;
        }
        match mkdir(cur).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if stat(cur, true, "metadata").await.map_err(wrap)?.is_dir() {
                    break;
                }
                return Err(wrap(e));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match cur.parent() {
                Some(parent) => {
                    missing.push(cur);
                    cur = parent;
                }
                None => return Err(wrap(e)),
            },
            Err(e) => return Err(wrap(e)),
        }
    }
    for dir in missing.into_iter().rev() {
        match mkdir(dir).await {
            Ok(()) => {}
            // Created concurrently by someone else: fine if it is a directory.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !stat(dir, true, "metadata").await.map_err(wrap)?.is_dir() {
                    return Err(wrap(e));
                }
            }
            Err(e) => return Err(wrap(e)),
        }
    }
    Ok(())
}

/// Renames `from` to `to`, replacing `to` if it exists.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    async { Op::new(Rename::new(cstring(from)?, cstring(to)?)).await }
        .await
        .map_err(|e| with_paths(e, "rename", from, to))
}

/// Creates the hard link `link` to the existing file `original`.
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    async { Op::new(Link::new(cstring(original)?, cstring(link)?)).await }
        .await
        .map_err(|e| with_paths(e, "hard_link", original, link))
}

/// Creates the symbolic link `link` pointing to `target` (which need not
/// exist).
pub async fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (target, link) = (target.as_ref(), link.as_ref());
    async { Op::new(Symlink::new(cstring(target)?, cstring(link)?)).await }
        .await
        .map_err(|e| with_paths(e, "symlink", target, link))
}
