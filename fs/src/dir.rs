//! [`read_dir`]: listing a directory.
//!
//! io_uring has no `getdents` opcode, so listing a directory runs on the
//! blocking pool on **both** backends (`spawn_blocking` with
//! `std::fs::read_dir`), and collects the entries there in one job: the loop
//! thread never blocks on the directory. This is the one file operation that
//! starts pool threads on io_uring; the no-pool proof leaves it out.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::with_path;
use crate::metadata::FileType;

/// One entry of a directory listing.
#[derive(Clone)]
pub struct DirEntry {
    path: PathBuf,
    file_type: FileType,
}

impl DirEntry {
    /// The full path: the listed directory joined with the file name.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The bare file name.
    pub fn file_name(&self) -> OsString {
        self.path
            .file_name()
            .map(|n| n.to_owned())
            .unwrap_or_default()
    }

    /// The entry's type, not following symlinks.
    pub fn file_type(&self) -> FileType {
        self.file_type
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirEntry")
            .field("path", &self.path)
            .field("file_type", &self.file_type)
            .finish()
    }
}

/// The entries of a directory (without `.` and `..`), in the order the
/// filesystem returned them. An iterator; the listing was read up front.
#[derive(Debug)]
pub struct ReadDir {
    entries: std::vec::IntoIter<DirEntry>,
}

impl Iterator for ReadDir {
    type Item = DirEntry;

    fn next(&mut self) -> Option<DirEntry> {
        self.entries.next()
    }
}

/// Lists the directory `path` on the blocking pool (see the module docs).
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_path_buf();
    let p = path.clone();
    let job = ringloop_runtime::spawn_blocking(move || -> io::Result<Vec<DirEntry>> {
        std::fs::read_dir(&p)?
            .map(|e| {
                let e = e?;
                Ok(DirEntry {
                    path: e.path(),
                    file_type: FileType::from_std(e.file_type()?),
                })
            })
            .collect()
    });
    let entries = job
        .await
        .map_err(io::Error::from)
        .and_then(|r| r)
        .map_err(|e| with_path(e, "read_dir", &path))?;
    Ok(ReadDir {
        entries: entries.into_iter(),
    })
}
