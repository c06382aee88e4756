//! The properties the fuzzers check on each input: `tests/server_fuzz.rs`
//! (stable, bounded, in CI) and the `cargo fuzz` targets in `fuzz/`
//! (nightly, open-ended). The including crate declares the file server's
//! `http`, `path`, `range`, `target` and `conditional` modules at its root.

use crate::http::{self, Parsed};
use crate::path::{self, PathError};
use crate::range::{self, Want};
use crate::target;

/// A request head: a parsed request used no more bytes than there were,
/// nor more than `MAX_HEAD`; an error is 400, 414, 431 or 505; a strict
/// prefix of a complete head is not the same request.
pub fn head(inp: &[u8]) {
    match http::parse(inp) {
        Parsed::Partial => assert!(inp.len() < http::MAX_HEAD, "Partial past MAX_HEAD"),
        Parsed::Error(st) => assert!([400, 414, 431, 505].contains(&st), "status {st}"),
        Parsed::Request(req, used) => {
            assert!(used <= inp.len() && used <= http::MAX_HEAD, "used {used}");
            assert!(req.target.len() <= http::MAX_URI);
            assert!(req.minor <= 1);
            // The head ends where it says: one byte less is no request.
            assert!(
                !matches!(http::parse(&inp[..used - 1]), Parsed::Request(_, n) if n == used),
                "a prefix parsed as the whole head"
            );
            // What conn.rs does next.
            resolve_checked(&req.target);
            if let Want::Part { start, len } = range::want(req.range.as_deref(), 1000) {
                assert!(len > 0 && start + len <= 1000);
            }
        }
    }
}

/// A request target: what the resolver accepts stays beneath the root, and
/// plain segments are accepted unchanged.
pub fn path(inp: &[u8]) {
    let Ok(t) = std::str::from_utf8(inp) else {
        return;
    };
    resolve_checked(t);
    // Plain segments are served as they are.
    if let Some(raw) = t.strip_prefix('/') {
        let segs: Vec<&[u8]> = raw.as_bytes().split(|&b| b == b'/').collect();
        let body = &segs[..segs.len() - usize::from(raw.ends_with('/'))];
        if !body.is_empty() && body.iter().all(|s| plain_segment(s)) {
            let rel = path::resolve(t).unwrap_or_else(|e| panic!("{t:?} refused: {e:?}"));
            assert_eq!(rel.display.as_bytes(), body.join(&b'/').as_slice());
            assert_eq!(rel.dir, raw.ends_with('/'));
        }
    }
}

/// A `Range` header: a part is non-empty and inside the file, and a range
/// of plain numbers is decided as RFC 9110 says.
pub fn range(inp: &[u8]) {
    let sizes = [0u64, 1, 2, 99, 100, 101, 1000, u64::MAX];
    let Ok(spec) = std::str::from_utf8(inp) else {
        return;
    };
    for size in sizes {
        let w = range::want(Some(spec), size);
        if let Want::Part { start, len } = w {
            assert!(
                len > 0 && start.checked_add(len).is_some_and(|end| end <= size),
                "{w:?} of {size}"
            );
        }
        if let Some(m) = model(spec, size) {
            assert_eq!(w, m, "{spec:?} of {size}");
        }
    }
}

fn check_rel(rel: &path::RelPath, from: &str) {
    let bytes = rel.path.as_bytes();
    assert!(!bytes.starts_with(b"/"), "absolute {rel:?} from {from:?}");
    if bytes == b"." {
        return;
    }
    for seg in bytes.split(|&b| b == b'/') {
        assert!(
            !seg.is_empty() && seg != b"." && seg != b"..",
            "segment {seg:?} in {rel:?} from {from:?}"
        );
        assert!(!seg.contains(&b'\\'), "backslash in {rel:?} from {from:?}");
    }
}

fn resolve_checked(t: &str) {
    let Some(target) = target::parse(t) else {
        return;
    };
    assert!(target.path.starts_with('/'), "{target:?} from {t:?}");
    assert!(!target.query.is_some_and(|q| q.contains('#')), "{t:?}");
    match path::resolve(target.path) {
        Ok(rel) => check_rel(&rel, t),
        Err(PathError::Malformed | PathError::Refused) => {}
    }
}

fn plain_segment(s: &[u8]) -> bool {
    !s.is_empty()
        && s != b"."
        && s != b".."
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._-~".contains(b))
}

/// RFC 9110 §14.1.2 for one range of plain numbers; `None`: not a plain
/// one (the model has no opinion).
fn model(spec: &str, size: u64) -> Option<Want> {
    let spec = spec.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse::<u64>().ok())?
    };
    Some(match (a.is_empty(), b.is_empty()) {
        (true, false) => match num(b)? {
            0 => Want::Unsatisfiable,
            _ if size == 0 => Want::Unsatisfiable,
            n => Want::Part {
                start: size - n.min(size),
                len: n.min(size),
            },
        },
        (false, true) => match num(a)? {
            s if s >= size => Want::Unsatisfiable,
            s => Want::Part {
                start: s,
                len: size - s,
            },
        },
        (false, false) => {
            let (s, e) = (num(a)?, num(b)?);
            if s > e {
                Want::Full
            } else if s >= size {
                Want::Unsatisfiable
            } else {
                Want::Part {
                    start: s,
                    len: e.min(size - 1) - s + 1,
                }
            }
        }
        (true, true) => return None,
    })
}
