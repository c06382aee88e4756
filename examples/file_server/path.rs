//! Request target → a path relative to the served root.
//!
//! Two walls keep every request inside `--root`:
//!
//! 1. **Here, lexically.** The absolute path of the target (`target.rs`
//!    has split off the query and any scheme and authority). Each raw segment is percent-decoded exactly once; a segment that is
//!    empty (`//etc/passwd`), `.` or `..` (also as `%2e%2e`), that decodes to
//!    a `/` (`a%2fb`) or a `\`, or that holds a NUL (raw or `%00`) is
//!    refused. The result never starts with `/`.
//! 2. **In the kernel.** The path is opened with `openat2(root_fd, path,
//!    RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` (see `open.rs`): a symlink
//!    that leads out of the root (or is absolute) fails with `EXDEV`, even
//!    when it is created after this check ran.
//!
//! Every refusal is answered 404, like a missing file, so a client cannot
//! probe what exists outside the root.

use std::ffi::CString;

/// Why a target cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// Malformed percent-encoding, or not an absolute path: 400.
    Malformed,
    /// Refused for safety: 404.
    Refused,
}

/// A target resolved to a root-relative path.
#[derive(Debug, PartialEq, Eq)]
pub struct RelPath {
    /// Relative path to open (`.` for the root itself).
    pub path: CString,
    /// The decoded segments joined with `/` (for index.html, logs, MIME).
    pub display: String,
    /// The path ended with `/` (or was `/`): it names a directory, so a
    /// regular file there is 404, while a directory named without it is
    /// redirected to the name with it.
    pub dir: bool,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one segment, once.
fn decode(seg: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < seg.len() {
        if seg[i] == b'%' {
            let hi = seg.get(i + 1).copied().and_then(hex);
            let lo = seg.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(PathError::Malformed),
            }
            i += 3;
        } else {
            out.push(seg[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Resolves the absolute path of a request target (`/dir/file.txt`, no
/// query).
pub fn resolve(target_path: &str) -> Result<RelPath, PathError> {
    let Some(raw) = target_path.as_bytes().strip_prefix(b"/") else {
        return Err(PathError::Malformed);
    };
    let mut rel: Vec<u8> = Vec::with_capacity(raw.len());
    let mut dir = false;
    let segs: Vec<&[u8]> = raw.split(|&b| b == b'/').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        if seg.is_empty() {
            // "/" alone, or a trailing slash: a directory. "//x" or "a//b": no.
            if last {
                dir = true;
                continue;
            }
            return Err(PathError::Refused);
        }
        let d = decode(seg)?;
        let bad = d == b"." || d == b".." || d.iter().any(|&b| b == b'/' || b == b'\\' || b == 0);
        if bad {
            return Err(PathError::Refused);
        }
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(&d);
    }
    let display = String::from_utf8_lossy(&rel).into_owned();
    if rel.is_empty() {
        rel.push(b'.');
    }
    let path = CString::new(rel).map_err(|_| PathError::Refused)?;
    Ok(RelPath { path, display, dir })
}

/// The path of `index.html` inside the directory `dir`.
pub fn index_of(dir: &RelPath) -> RelPath {
    let (mut bytes, display) = if dir.display.is_empty() {
        (Vec::new(), "index.html".to_string())
    } else {
        let mut b = dir.path.as_bytes().to_vec();
        b.push(b'/');
        (b, format!("{}/index.html", dir.display))
    };
    bytes.extend_from_slice(b"index.html");
    // No NUL can be in `bytes`: it came from a CString plus a literal.
    let path = CString::new(bytes).unwrap_or_else(|_| c"index.html".to_owned());
    RelPath {
        path,
        display,
        dir: false,
    }
}
