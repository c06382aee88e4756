//! The request target (RFC 9112 §3.2) → the path and query to serve.
//!
//! - **origin-form** `/a/b?q`: the path up to `?` (or a stray `#`), the query
//!   after it.
//! - **absolute-form** `http://host:8080/a/b?q` (§3.2.2: a server MUST
//!   accept it, although clients send it only to proxies): the scheme is
//!   `http` or `https` in any case, anything else is 400; the authority must
//!   be a valid `host[:port]` with no userinfo (RFC 9110 §4.2.4 treats
//!   userinfo as an error) and a non-empty host (§4.2.1); an empty path is
//!   `/` (§4.2.3). The authority, not `Host`, then names the host: §3.2.2
//!   says an origin server MUST ignore the received `Host` and use the
//!   target's, so a `Host` that differs from it is no error. `Host` is
//!   still required and checked as §3.2 says (400 when an HTTP/1.1 request
//!   has none, has two, or has an invalid one: `http.rs`). This server
//!   serves one tree whatever the host, so the authority only has to be
//!   valid.
//! - **authority-form** (`CONNECT h:443`) and **asterisk-form**
//!   (`OPTIONS *`) belong to methods this server answers with 405 before it
//!   looks at the target; as a GET or HEAD target they are 400.

/// A target split into the parts the server uses.
#[derive(Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The authority of an absolute-form target (`host[:port]`).
    pub authority: Option<&'a str>,
    /// The absolute path as sent (still percent-encoded), `/` at least.
    pub path: &'a str,
    /// What follows `?`, if there was one (never holds a `#` fragment).
    pub query: Option<&'a str>,
}

/// Splits `target`; `None` for a target that is 400.
pub fn parse(target: &str) -> Option<Target<'_>> {
    if target.starts_with('/') {
        let (path, query) = path_and_query(target);
        return Some(Target {
            authority: None,
            path,
            query,
        });
    }
    let (scheme, rest) = target.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.is_empty() || !valid_authority(authority) || host_of(authority).is_empty() {
        return None;
    }
    let (path, query) = match rest.as_bytes().first() {
        Some(b'/') => path_and_query(rest),
        // `http://h?q` and `http://h`: the path is empty, which means `/`.
        _ => ("/", path_and_query(rest).1),
    };
    Some(Target {
        authority: Some(authority),
        path,
        query,
    })
}

/// `/p?q#f` → (`/p`, `Some("q")`); a fragment (which clients do not send)
/// is dropped.
fn path_and_query(s: &str) -> (&str, Option<&str>) {
    let s = s.split_once('#').map_or(s, |(before, _)| before);
    match s.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (s, None),
    }
}

/// The host part of a valid authority (without the port).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.find(']').map_or(authority, |i| &authority[..=i]);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// `uri-host [":" port]` (RFC 9110 §4.2.1 with RFC 3986's `host`): an IPv6
/// literal in brackets (no IPvFuture, no zone) or a reg-name (unreserved, sub-delims and
/// percent-encoded bytes, which covers IPv4 addresses), then digits after a
/// colon. Userinfo (`@`) is not allowed. An empty host passes here: an
/// empty `Host` field is valid (RFC 9112 §3.2), an empty authority in an
/// absolute-form target is not ([`parse`] checks that).
pub fn valid_authority(s: &str) -> bool {
    let (host, port) = if let Some(lit) = s.strip_prefix('[') {
        let Some((inner, after)) = lit.split_once(']') else {
            return false;
        };
        let ok = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ok {
            return false;
        }
        match after.strip_prefix(':') {
            Some(port) => ("", port),
            None if after.is_empty() => ("", ""),
            None => return false,
        }
    } else {
        s.rsplit_once(':').unwrap_or((s, ""))
    };
    port.bytes().all(|b| b.is_ascii_digit()) && reg_name(host)
}

fn reg_name(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
                continue;
            }
            c if c.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}
