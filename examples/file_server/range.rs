//! `Range: bytes=...` for one range (RFC 7233).
//!
//! `a-b`, `a-` and `-n` are served as 206; a range starting at or past the
//! end (or `-0`) is 416. Anything else — another unit, a malformed value,
//! several ranges — is ignored and the whole file is sent with 200, which
//! the RFC allows.

/// What to send of a file of a given length.
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    /// The whole file (200).
    Full,
    /// Bytes `start..start + len` (206).
    Part { start: u64, len: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decides what to send of a file of `size` bytes for a `Range` value.
pub fn want(range: Option<&str>, size: u64) -> Want {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Want::Full;
    };
    if spec.contains(',') {
        return Want::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Want::Full;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (a.trim().is_empty(), b.trim().is_empty()) {
        // -n: the last n bytes.
        (true, false) => match num(b) {
            None => Want::Full,
            Some(0) => Want::Unsatisfiable,
            Some(_) if size == 0 => Want::Unsatisfiable,
            Some(n) => {
                let len = n.min(size);
                Want::Part {
                    start: size - len,
                    len,
                }
            }
        },
        // a-: from a to the end.
        (false, true) => match num(a) {
            None => Want::Full,
            Some(s) if s >= size => Want::Unsatisfiable,
            Some(s) => Want::Part {
                start: s,
                len: size - s,
            },
        },
        // a-b: inclusive.
        (false, false) => match (num(a), num(b)) {
            (Some(s), Some(e)) if s <= e => {
                if s >= size {
                    Want::Unsatisfiable
                } else {
                    Want::Part {
                        start: s,
                        len: e.min(size - 1) - s + 1,
                    }
                }
            }
            _ => Want::Full,
        },
        (true, true) => Want::Full,
    }
}
