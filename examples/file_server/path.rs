//! Request target → a path relative to the served root.
//!
//! Two walls keep every request inside `--root`:
//!
//! 1. **Here, lexically.** Only origin-form targets (`/a/b?q`) are taken.
//!    Each raw segment is percent-decoded exactly once; a segment that is
//!    empty (`//etc/passwd`), `.` or `..` (also as `%2e%2e`), that decodes to
//!    a `/` (`a%2fb`) or a `\`, or that holds a NUL (raw or `%00`) is
//!    refused. The result never starts with `/`.
//! 2. **In the kernel.** The path is opened with `openat2(root_fd, path,
//!    RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` (see `ops.rs`): a symlink
//!    that leads out of the root (or is absolute) fails with `EXDEV`, even
//!    when it is created after this check ran.
//!
//! Every refusal is answered 404, like a missing file, so a client cannot
//! probe what exists outside the root.

use std::ffi::CString;

/// Why a target cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// Malformed percent-encoding or a target that is not origin-form: 400.
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

/// Resolves a request target (`/dir/file.txt?x=1`).
pub fn resolve(target: &str) -> Result<RelPath, PathError> {
    let raw = target.as_bytes();
    if raw.first() != Some(&b'/') {
        // Absolute-form (`http://h/x`), authority-form, `*`.
        return Err(PathError::Malformed);
    }
    let end = raw
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(raw.len());
    let raw = &raw[1..end];
    let mut rel: Vec<u8> = Vec::with_capacity(raw.len());
    let segs: Vec<&[u8]> = raw.split(|&b| b == b'/').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        if seg.is_empty() {
            // "/" alone, or a trailing slash: fine. "//x" or "a//b": no.
            if last {
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
    Ok(RelPath { path, display })
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
    RelPath { path, display }
}
