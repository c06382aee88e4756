//! HTTP/1.1 request heads (parsed with `httparse`) and response heads.
//!
//! Limits on a request head, each answered and followed by a close:
//! malformed → 400; more than [`MAX_HEAD`] bytes or [`MAX_HEADERS`] headers
//! → 431; a target longer than [`MAX_URI`] → 414; a version other than
//! 1.0 or 1.1 → 505; a 1.1 request without exactly one `Host`, or any
//! request with an invalid `Host` value → 400 (RFC 9112 §3.2).
//! A request that announces a body (`Content-Length` > 0 or any
//! `Transfer-Encoding`) is answered, then the connection is closed: a
//! static server has no use for bodies and will not skip them.
//!
//! Dates are written and read with `httpdate` (IMF-fixdate out; the three
//! forms RFC 9110 §5.6.7 requires a recipient to accept in), media types
//! come from `mime_guess`.

use std::fmt::{self, Display};
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::conditional::Conditions;
use crate::target;

/// Most bytes in a request head (request line, headers, blank line).
pub const MAX_HEAD: usize = 8 * 1024;
/// Most header fields in a request head.
pub const MAX_HEADERS: usize = 64;
/// Longest request target.
pub const MAX_URI: usize = 2 * 1024;

/// What a request asks for, owned (the input buffer moves on).
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The connection stays open after the response.
    pub keep_alive: bool,
    /// The `Range` header, when exactly one was sent.
    pub range: Option<String>,
    /// If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since,
    /// If-Range.
    pub conditions: Conditions,
}

/// The result of looking at the buffered input.
// Returned and matched at once, never stored: boxing would only add an
// allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Parsed {
    /// No complete head yet (and no limit exceeded).
    Partial,
    /// A complete head of `.1` bytes.
    Request(Request, usize),
    /// An error status to answer before closing.
    Error(u16),
}

fn too_large(buf: &[u8]) -> u16 {
    let line = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line > MAX_URI + 16 {
        414
    } else {
        431
    }
}

fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses the first request head in `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Parsed::Error(too_large(buf))
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Ok(httparse::Status::Complete(n)) => n,
        Err(httparse::Error::Version) => return Parsed::Error(505),
        Err(httparse::Error::TooManyHeaders) => return Parsed::Error(431),
        Err(_) => return Parsed::Error(400),
    };
    if n > MAX_HEAD {
        return Parsed::Error(too_large(buf));
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Parsed::Error(400);
    };
    if target.len() > MAX_URI {
        return Parsed::Error(414);
    }
    let (mut close, mut keep, mut body, mut hosts) = (false, false, false, 0);
    let mut range = None;
    let mut ranges = 0;
    let mut conditions = Conditions::default();
    for h in req.headers.iter() {
        let name = h.name;
        let text = || std::str::from_utf8(h.value).ok();
        if name.eq_ignore_ascii_case("connection") {
            close |= has_token(h.value, "close");
            keep |= has_token(h.value, "keep-alive");
        } else if name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                Some(0) => {}
                Some(_) => body = true,
                None => return Parsed::Error(400),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            body = true;
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if !text().is_some_and(|v| target::valid_authority(v.trim())) {
                return Parsed::Error(400);
            }
        } else if name.eq_ignore_ascii_case("range") {
            ranges += 1;
            range = text().map(str::to_owned);
        } else if let Some(v) = text() {
            conditions.take(name, v);
        }
    }
    if minor == 1 && hosts != 1 {
        return Parsed::Error(400);
    }
    let keep_alive = !body && !close && (minor == 1 || keep);
    Parsed::Request(
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            minor,
            keep_alive,
            range: if ranges == 1 { range } else { None },
            conditions,
        },
        n,
    )
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Starts a response head: status line, `Date`, `Server`.
pub fn start(out: &mut Vec<u8>, status: u16) {
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nServer: ringloop\r\nDate: ",
        reason(status)
    );
    let _ = write!(out, "{}\r\n", date(SystemTime::now()));
}

/// Appends one header line.
pub fn header(out: &mut Vec<u8>, name: &str, value: impl Display) {
    let _ = write!(out, "{name}: {value}\r\n");
}

/// Ends a head: `Content-Length`, `Connection` when needed, blank line.
pub fn end(out: &mut Vec<u8>, len: u64, keep_alive: bool, minor: u8) {
    header(out, "Content-Length", len);
    end_without_length(out, keep_alive, minor);
}

/// Ends a head that has no body and no `Content-Length` (304).
pub fn end_without_length(out: &mut Vec<u8>, keep_alive: bool, minor: u8) {
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if minor == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A whole error response with a short text body (none for HEAD).
pub fn error(out: &mut Vec<u8>, status: u16, keep_alive: bool, minor: u8, head_only: bool) -> u64 {
    let body = format!("{status} {}\n", reason(status));
    start(out, status);
    header(out, "Content-Type", "text/plain; charset=utf-8");
    if status == 405 {
        header(out, "Allow", "GET, HEAD");
    }
    end(out, body.len() as u64, keep_alive, minor);
    if head_only {
        return 0;
    }
    out.extend_from_slice(body.as_bytes());
    body.len() as u64
}

/// A 301 to `location` with a short text body (none for HEAD).
pub fn moved(
    out: &mut Vec<u8>,
    location: impl Display,
    keep_alive: bool,
    minor: u8,
    head_only: bool,
) -> u64 {
    let body = "301 Moved Permanently\n";
    start(out, 301);
    header(out, "Location", location);
    header(out, "Content-Type", "text/plain; charset=utf-8");
    end(out, body.len() as u64, keep_alive, minor);
    if head_only {
        return 0;
    }
    out.extend_from_slice(body.as_bytes());
    body.len() as u64
}

/// `t` as an HTTP date (IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
/// `httpdate` panics on times before 1970 or after 9999 (a file's mtime can
/// be either): those are clamped to the nearest one it can write.
pub fn date(t: SystemTime) -> httpdate::HttpDate {
    /// 9999-12-31 23:59:59 UTC.
    const LAST: u64 = 253_402_300_799;
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    httpdate::HttpDate::from(UNIX_EPOCH + Duration::from_secs(secs.min(LAST)))
}

/// The `Content-Type` of a file called `name`, by its extension
/// (`mime_guess`); `charset=utf-8` is added to text types, and an unknown
/// extension is `application/octet-stream`.
pub fn content_type(name: &str) -> ContentType {
    let mime = mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream");
    ContentType(mime)
}

/// A media type as a header value (see [`content_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType(pub &'static str);

impl Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.starts_with("text/") || self.0 == "application/javascript";
        if text {
            write!(f, "{}; charset=utf-8", self.0)
        } else {
            f.write_str(self.0)
        }
    }
}
