//! Validators of a file and conditional requests (RFC 9110 §8.8, §13).
//!
//! **ETag** `"<inode>-<size>-<mtime in ns>"` (hex). It is **strong** once
//! the file's mtime is at least one second before now, and **weak** (`W/`)
//! before that. Strong, because If-Range (resumed downloads) and caches
//! that combine ranges need a strong one, and inode + size + an mtime with
//! nanoseconds change on every write, rename-over or truncation that lands
//! on a new timestamp. Weak within the first second, because the kernel
//! stamps a write with a coarse clock (a jiffy, unless the filesystem has
//! multigrain timestamps): two writes of the same size within one tick
//! keep size and mtime, so a tag computed between them could name two
//! different contents, which §8.8.1 allows only a weak validator. Once the
//! clock has moved past the mtime, the next write gets a new one. This is
//! the rule §8.8.2.2 gives for `Last-Modified` (strong if at least one
//! second before `Date`), applied to the tag. A weak tag still yields 304s
//! (If-None-Match compares weakly); it never satisfies If-Range. The
//! device number is not in the tag (`ringloop::fs::Metadata` does not
//! expose it): a tree that spans mounts could, in principle, give two files
//! the same inode, size and mtime.
//!
//! **Evaluation** follows §13.2.2, for GET and HEAD (the only methods
//! served), and only for a file that would otherwise be answered 200 or
//! 206 (§13.2.1: 404s ignore preconditions):
//!
//! 1. `If-Match` (strong comparison, `*` = any) false → 412; without it,
//!    `If-Unmodified-Since` false → 412;
//! 2. `If-None-Match` (weak comparison, `*` = any) matches → 304; without
//!    it, `If-Modified-Since` not older than the mtime → 304;
//! 3. `If-Range` decides whether `Range` is used at all: an entity tag must
//!    match the strong ETag, a date must equal a strong `Last-Modified`;
//!    otherwise the whole file is sent with 200.
//!
//! Dates compare at HTTP's one-second resolution (the mtime truncated). A
//! date that does not parse, or a single-valued field sent twice, makes the
//! field be ignored (If-Modified-Since, If-Unmodified-Since) or false
//! (If-Range), as §13.1 says.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The conditional header fields of a request. List fields sent on several
/// lines are joined with `, `; a single-valued field sent twice is kept as
/// the empty string, which never parses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_unmodified_since: Option<String>,
    pub if_range: Option<String>,
}

impl Conditions {
    /// Keeps the header `name: value` if it is a conditional one.
    pub fn take(&mut self, name: &str, value: &str) {
        let (slot, list) = if name.eq_ignore_ascii_case("if-match") {
            (&mut self.if_match, true)
        } else if name.eq_ignore_ascii_case("if-none-match") {
            (&mut self.if_none_match, true)
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            (&mut self.if_modified_since, false)
        } else if name.eq_ignore_ascii_case("if-unmodified-since") {
            (&mut self.if_unmodified_since, false)
        } else if name.eq_ignore_ascii_case("if-range") {
            (&mut self.if_range, false)
        } else {
            return;
        };
        let value = value.trim();
        *slot = match slot.take() {
            None => Some(value.to_owned()),
            Some(mut v) if list => {
                v.push_str(", ");
                v.push_str(value);
                Some(v)
            }
            Some(_) => Some(String::new()),
        };
    }
}

/// The validators of one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// The opaque part of the ETag (between the quotes).
    tag: String,
    /// Whether the ETag and `Last-Modified` are strong (see the module doc).
    strong: bool,
    /// The mtime truncated to whole seconds, as `Last-Modified` sends it.
    modified: SystemTime,
}

impl Validators {
    /// Validators for a file of inode `ino`, `size` bytes, modified at
    /// `mtime`, answered at `now`.
    pub fn new(ino: u64, size: u64, mtime: SystemTime, now: SystemTime) -> Validators {
        let ns: i128 = match mtime.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        let strong = mtime
            .checked_add(Duration::from_secs(1))
            .is_some_and(|t| t <= now);
        let secs = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Validators {
            tag: format!("{ino:x}-{size:x}-{ns:x}"),
            strong,
            modified: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    /// Appends the `ETag` and `Last-Modified` header lines.
    pub fn write_headers(&self, out: &mut Vec<u8>) {
        let weak = if self.strong { "" } else { "W/" };
        let _ = write!(
            out,
            "ETag: {weak}\"{}\"\r\nLast-Modified: {}\r\n",
            self.tag,
            crate::http::date(self.modified)
        );
    }
}

/// What to answer, once the file is known to exist.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Answer normally; `use_range` says whether the `Range` field counts.
    Proceed { use_range: bool },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// Evaluates `c` against the file's validators (§13.2.2, GET or HEAD).
pub fn evaluate(c: &Conditions, v: &Validators) -> Decision {
    if let Some(list) = &c.if_match {
        if !matches(list, v, true) {
            return Decision::PreconditionFailed;
        }
    } else if let Some(date) = c.if_unmodified_since.as_deref().and_then(date) {
        if v.modified > date {
            return Decision::PreconditionFailed;
        }
    }
    if let Some(list) = &c.if_none_match {
        if matches(list, v, false) {
            return Decision::NotModified;
        }
    } else if let Some(date) = c.if_modified_since.as_deref().and_then(date) {
        if v.modified <= date {
            return Decision::NotModified;
        }
    }
    let use_range = match c.if_range.as_deref() {
        None => true,
        Some(r) if r.starts_with('"') || r.starts_with("W/") => {
            let mut tags = EntityTags(r);
            let first = tags.next();
            matches!(first, Some(Some((false, t))) if v.strong && t == v.tag)
                && tags.next().is_none()
        }
        Some(r) => v.strong && date(r) == Some(v.modified),
    };
    Decision::Proceed { use_range }
}

fn date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

/// Whether the field value `list` (`*` or `#entity-tag`) matches `v`:
/// strongly (both strong and equal) or weakly (equal opaque parts). A list
/// that does not parse matches nothing from the malformed part on.
fn matches(list: &str, v: &Validators, strong: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    EntityTags(list)
        .map_while(|t| t)
        .any(|(weak, tag)| tag == v.tag && (!strong || (!weak && v.strong)))
}

/// The entity tags of a `#entity-tag` list, as `(weak, opaque)`; `None`
/// once the list is malformed (and nothing after that).
struct EntityTags<'a>(&'a str);

impl<'a> Iterator for EntityTags<'a> {
    type Item = Option<(bool, &'a str)>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.0.trim_start_matches([' ', '\t', ',']);
        if s.is_empty() {
            self.0 = s;
            return None;
        }
        let (weak, s) = match s.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let parsed = s.strip_prefix('"').and_then(|body| {
            let end = body.find('"')?;
            let rest = &body[end + 1..];
            let next_ok = rest.trim_start_matches([' ', '\t']);
            (next_ok.is_empty() || next_ok.starts_with(',')).then(|| (&body[..end], rest))
        });
        match parsed {
            Some((tag, rest)) => {
                self.0 = rest;
                Some(Some((weak, tag)))
            }
            None => {
                self.0 = "";
                Some(None)
            }
        }
    }
}
