//! HTTP semantics of the bundled file server (`examples/file_server`),
//! on both backends: a slash after a file, absolute-form targets and
//! `Host`, the redirect of a directory named without its slash, validators
//! (`ETag`, `Last-Modified`) and conditional requests (304, 412, If-Range),
//! media types. The pure parts (target forms, entity-tag lists, dates) are
//! also checked without a server.
//!
//! Like `tests/server_http.rs`, this file includes the example's modules
//! with `#[path]` and runs `server::serve` in-process (`server_util`).

#[path = "../examples/file_server/body.rs"]
mod body;
#[path = "../examples/file_server/conditional.rs"]
mod conditional;
#[path = "../examples/file_server/conn.rs"]
mod conn;
#[path = "../examples/support/deadline.rs"]
mod deadline;
#[path = "../examples/file_server/http.rs"]
mod http;
#[path = "../examples/file_server/open.rs"]
mod open;
#[path = "../examples/file_server/path.rs"]
mod path;
#[path = "../examples/file_server/range.rs"]
mod range;
#[path = "../examples/file_server/server.rs"]
mod server;
mod server_util;
#[path = "../examples/support/shutdown.rs"]
mod shutdown;
#[path = "../examples/support/stats.rs"]
mod stats;
#[path = "../examples/file_server/target.rs"]
mod target;
mod util;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conditional::{Conditions, Decision, Validators};
use ringloop::Backend;
use server_util::{data_byte, get, request, Client, Opts, Response, Server, Tree, HELLO};
use target::Target;

fn start(b: Backend, tag: &str) -> (Tree, Server) {
    let tree = Tree::new(tag);
    let server = Server::start(b, &tree.root, Opts::default());
    (tree, server)
}

/// `method path` with extra header lines, on a fresh connection.
fn req(s: &Server, method: &str, path: &str, headers: &[&str]) -> Response {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for h in headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    request(s, &raw)
}

/// 2020-01-01T00:00:00.5Z: long past (so the ETag is strong), with a
/// fraction that `Last-Modified` drops.
fn past() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_577_836_800_500)
}

const PAST_DATE: &str = "Wed, 01 Jan 2020 00:00:00 GMT";

fn set_mtime(path: &Path, t: SystemTime) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

each_backend!(a_slash_after_a_file_is_404, |b| {
    let (_t, s) = start(b, "slash");
    for p in [
        "/hello.txt/",
        "/sub/a.txt/",
        "/hello_link/",
        "/hello.txt/?x=1",
    ] {
        assert_eq!(get(&s, p).status, 404, "{p}");
        assert_eq!(req(&s, "HEAD", p, &[]).status, 404, "HEAD {p}");
    }
    assert_eq!(get(&s, "/hello.txt").body, HELLO);
    assert_eq!(get(&s, "/sub/a.txt").body, b"in sub\n");
});

each_backend!(absolute_form_targets, |b| {
    let (_t, s) = start(b, "absolute");
    let served = [
        "http://t/hello.txt",
        "HTTP://T:8080/hello.txt",
        "https://t/hello.txt",
        "http://127.0.0.1:1/hello.txt?x=1",
        "http://[::1]:80/hello.txt",
        "http://t/%68ello.txt",
    ];
    for target in served {
        let r = get(&s, target);
        assert_eq!((r.status, &r.body[..]), (200, HELLO), "{target}");
    }
    // The target's authority names the host (RFC 9112 §3.2.2): a Host
    // that differs is no error.
    let r = request(
        &s,
        "GET http://elsewhere.example/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!((r.status, &r.body[..]), (200, HELLO));
    // An empty path is `/`.
    for target in ["http://t", "http://t?q=1"] {
        let r = get(&s, target);
        assert_eq!(
            (r.status, &r.body[..]),
            (200, &b"<h1>root index</h1>\n"[..]),
            "{target}"
        );
    }
    // The path rules still hold, and a directory still redirects.
    assert_eq!(get(&s, "http://t/../secret.txt").status, 404);
    assert_eq!(get(&s, "http://t//etc/passwd").status, 404);
    let r = get(&s, "http://t/sub?a=b");
    assert_eq!((r.status, r.header("location")), (301, Some("/sub/?a=b")));
    // Other schemes, no host, userinfo, a bad port, other forms: 400.
    let refused = [
        "ftp://t/hello.txt",
        "file:///etc/passwd",
        "httpx://t/hello.txt",
        "http:///hello.txt",
        "http://:80/hello.txt",
        "http://user@t/hello.txt",
        "http://t:8o/hello.txt",
        "http://[::1/hello.txt",
        "http:/t/hello.txt",
        "t:80",
        "*",
        "hello.txt",
    ];
    for target in refused {
        assert_eq!(get(&s, target).status, 400, "{target}");
    }
    // Host is still required on HTTP/1.1, even with an authority in the
    // target (§3.2), and must be valid; HTTP/1.0 needs none.
    let r = request(&s, "GET http://t/hello.txt HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 400, "no Host");
    for host in ["a b", "t/x", "u@t", "t:http"] {
        let raw = format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(request(&s, &raw).status, 400, "Host: {host}");
    }
    let r = request(&s, "GET /hello.txt HTTP/1.1\r\nHost: \r\n\r\n");
    assert_eq!(r.status, 200, "an empty Host is valid");
    let r = request(&s, "GET http://t/hello.txt HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, &r.body[..]), (200, HELLO));
});

each_backend!(a_directory_without_its_slash_is_redirected, |b| {
    let (_t, s) = start(b, "redirect");
    let cases = [
        ("/site", "/site/"),
        ("/sub", "/sub/"),
        ("/sub_link", "/sub_link/"),
        ("/site?x=1&y", "/site/?x=1&y"),
        ("/%73ite", "/%73ite/"),
        ("/site#frag", "/site/"),
    ];
    for (from, to) in cases {
        let r = get(&s, from);
        assert_eq!((r.status, r.header("location")), (301, Some(to)), "{from}");
        assert_eq!(r.body, b"301 Moved Permanently\n");
    }
    // The index is served at the name with the slash (or not there).
    assert_eq!(get(&s, "/site/").body, b"<p>site</p>\n");
    assert_eq!(get(&s, "/sub/").status, 404);
    assert_eq!(get(&s, "/").body, b"<h1>root index</h1>\n");
    // HEAD: the same head and no body; the connection stays usable.
    let mut c = Client::new(s.connect());
    c.send(b"HEAD /site HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response(true);
    assert_eq!((r.status, r.header("location")), (301, Some("/site/")));
    c.send(b"GET /site HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response(false);
    assert_eq!((r.status, r.header("connection")), (301, None));
    c.send(b"GET /site/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response(false).body, b"<p>site</p>\n");
});

each_backend!(validators_on_file_responses, |b| {
    let (t, s) = start(b, "validators");
    set_mtime(&t.root.join("hello.txt"), past());
    let r = get(&s, "/hello.txt");
    assert_eq!(r.header("last-modified"), Some(PAST_DATE));
    let etag = r.header("etag").expect("ETag").to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong tag: {etag}"
    );
    // The same file answers the same tag, on GET, HEAD and ranges.
    assert_eq!(get(&s, "/hello.txt").header("etag"), Some(&*etag));
    let r = req(&s, "HEAD", "/hello.txt", &[]);
    assert_eq!(r.header("etag"), Some(&*etag));
    assert_eq!(r.header("last-modified"), Some(PAST_DATE));
    let r = req(&s, "GET", "/hello.txt", &["Range: bytes=0-4"]);
    assert_eq!((r.status, r.header("etag")), (206, Some(&*etag)));
    // A file modified within the last second (here: in the future) has a
    // weak tag.
    let future = SystemTime::now() + Duration::from_secs(3600);
    set_mtime(&t.root.join("style.css"), future);
    let weak = get(&s, "/style.css");
    let wtag = weak.header("etag").expect("ETag");
    assert!(wtag.starts_with("W/\""), "a weak tag: {wtag}");
    // Another content, size or time: another tag.
    std::fs::write(t.root.join("hello.txt"), b"changed\n").unwrap();
    set_mtime(&t.root.join("hello.txt"), past());
    let r = get(&s, "/hello.txt");
    assert_ne!(r.header("etag"), Some(&*etag));
    set_mtime(&t.root.join("hello.txt"), past() + Duration::from_nanos(1));
    let r2 = get(&s, "/hello.txt");
    assert_ne!(r2.header("etag"), r.header("etag"), "a nanosecond apart");
    // Index files and large files carry them too.
    assert!(get(&s, "/").header("etag").is_some());
    let r = get(&s, "/data.bin");
    assert!(r.header("etag").is_some() && r.header("last-modified").is_some());
});

/// The head of a 304: no body, no Content-Length, the validators kept.
fn assert_not_modified(r: &Response, etag: &str, what: &str) {
    assert_eq!(r.status, 304, "{what}");
    assert_eq!(r.header("etag"), Some(etag), "{what}");
    assert_eq!(r.header("last-modified"), Some(PAST_DATE), "{what}");
    assert_eq!(r.header("content-length"), None, "{what}");
    assert!(r.body.is_empty(), "{what}");
}

each_backend!(not_modified_and_precondition_failed, |b| {
    let (t, s) = start(b, "conditional");
    set_mtime(&t.root.join("hello.txt"), past());
    let etag = get(&s, "/hello.txt").header("etag").unwrap().to_string();
    let weak_form = format!("W/{etag}");
    let list = format!("\"nope\", {etag}");
    let inm = |v: &str| format!("If-None-Match: {v}");
    let ims = |v: &str| format!("If-Modified-Since: {v}");
    let ok = |r: Response, what: &str| {
        assert_eq!((r.status, &r.body[..]), (200, HELLO), "{what}");
    };
    // If-None-Match: weak comparison against the list, or `*`.
    for v in [etag.as_str(), &weak_form, &list, "*"] {
        let r = req(&s, "GET", "/hello.txt", &[&inm(v)]);
        assert_not_modified(&r, &etag, v);
        let r = req(&s, "HEAD", "/hello.txt", &[&inm(v)]);
        assert_not_modified(&r, &etag, &format!("HEAD {v}"));
    }
    for v in ["\"nope\"", "W/\"nope\"", "garbage", "\"\""] {
        ok(req(&s, "GET", "/hello.txt", &[&inm(v)]), v);
    }
    // If-Modified-Since: not older than the mtime (at one-second
    // resolution) → 304; older, or not a date → 200. All three date forms.
    for v in [
        PAST_DATE,
        "Wed, 01 Jan 2020 00:00:01 GMT",
        "Wednesday, 01-Jan-20 00:00:00 GMT",
        "Wed Jan  1 00:00:00 2020",
        "Sun, 01 Jan 2040 00:00:00 GMT",
    ] {
        let r = req(&s, "GET", "/hello.txt", &[&ims(v)]);
        assert_not_modified(&r, &etag, v);
    }
    for v in ["Tue, 31 Dec 2019 23:59:59 GMT", "yesterday", ""] {
        ok(req(&s, "GET", "/hello.txt", &[&ims(v)]), v);
    }
    let two = [ims(PAST_DATE), ims(PAST_DATE)];
    let r = req(&s, "GET", "/hello.txt", &[&two[0], &two[1]]);
    ok(r, "If-Modified-Since twice is ignored");
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    let r = req(
        &s,
        "GET",
        "/hello.txt",
        &[&inm("\"nope\""), &ims("Sun, 01 Jan 2040 00:00:00 GMT")],
    );
    ok(r, "If-None-Match false, If-Modified-Since ignored");
    let r = req(
        &s,
        "GET",
        "/hello.txt",
        &[&inm(&etag), &ims("Tue, 31 Dec 2019 00:00:00 GMT")],
    );
    assert_not_modified(&r, &etag, "If-None-Match true wins");
    // If-Match (strong) and If-Unmodified-Since: 412 when false.
    let im = |v: &str| format!("If-Match: {v}");
    for v in [etag.as_str(), "*", &list] {
        ok(req(&s, "GET", "/hello.txt", &[&im(v)]), v);
    }
    for v in ["\"nope\"", weak_form.as_str()] {
        let r = req(&s, "GET", "/hello.txt", &[&im(v)]);
        assert_eq!(r.status, 412, "If-Match: {v}");
        assert_eq!(r.body, b"412 Precondition Failed\n");
    }
    let ius = |v: &str| format!("If-Unmodified-Since: {v}");
    ok(
        req(&s, "GET", "/hello.txt", &[&ius(PAST_DATE)]),
        "IUS equal",
    );
    let r = req(
        &s,
        "GET",
        "/hello.txt",
        &[&ius("Tue, 31 Dec 2019 23:59:59 GMT")],
    );
    assert_eq!(r.status, 412, "modified since");
    ok(
        req(&s, "GET", "/hello.txt", &[&ius("not a date")]),
        "IUS ignored",
    );
    // If-Match is evaluated before If-None-Match.
    let r = req(&s, "GET", "/hello.txt", &[&im("\"nope\""), &inm(&etag)]);
    assert_eq!(r.status, 412);
    // A missing file ignores preconditions (§13.2.1).
    assert_eq!(req(&s, "GET", "/nope.txt", &[&inm("*")]).status, 404);
    // A weak tag still gives a 304 (weak comparison), never a strong match.
    let future = SystemTime::now() + Duration::from_secs(3600);
    set_mtime(&t.root.join("style.css"), future);
    let wtag = get(&s, "/style.css").header("etag").unwrap().to_string();
    let r = req(&s, "GET", "/style.css", &[&inm(&wtag)]);
    assert_eq!((r.status, r.header("etag")), (304, Some(&*wtag)));
    assert_eq!(req(&s, "GET", "/style.css", &[&im(&wtag)]).status, 412);
    // On a keep-alive connection a 304 leaves nothing behind it.
    let mut c = Client::new(s.connect());
    let raw = format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n");
    c.send(raw.as_bytes());
    let r = c.response(false);
    assert_eq!((r.status, r.header("connection")), (304, None));
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response(false).body, HELLO);
    assert!(c.closed_within(util::LIMIT));
});

each_backend!(ranges_with_validators_and_if_range, |b| {
    let (t, s) = start(b, "if-range");
    set_mtime(&t.root.join("hello.txt"), past());
    set_mtime(&t.root.join("data.bin"), past());
    let etag = get(&s, "/hello.txt").header("etag").unwrap().to_string();
    let range = "Range: bytes=0-4";
    let ir = |v: &str| format!("If-Range: {v}");
    let part = |r: Response, what: &str| {
        assert_eq!((r.status, &r.body[..]), (206, &b"hello"[..]), "{what}");
        assert_eq!(r.header("content-range"), Some("bytes 0-4/16"), "{what}");
    };
    let whole = |r: Response, what: &str| {
        assert_eq!((r.status, &r.body[..]), (200, HELLO), "{what}");
        assert_eq!(r.header("content-range"), None, "{what}");
    };
    part(req(&s, "GET", "/hello.txt", &[range]), "no If-Range");
    part(req(&s, "GET", "/hello.txt", &[range, &ir(&etag)]), "tag");
    part(
        req(&s, "GET", "/hello.txt", &[range, &ir(PAST_DATE)]),
        "date",
    );
    let weak_form = format!("W/{etag}");
    for v in [
        "\"nope\"",
        weak_form.as_str(),
        "Tue, 31 Dec 2019 23:59:59 GMT",
        "Wed, 01 Jan 2020 00:00:01 GMT",
        "garbage",
    ] {
        whole(req(&s, "GET", "/hello.txt", &[range, &ir(v)]), v);
    }
    // If-Range without Range changes nothing.
    whole(req(&s, "GET", "/hello.txt", &[&ir("\"nope\"")]), "no Range");
    // Preconditions come before the range: 304 and 412 win over 206/416.
    let r = req(
        &s,
        "GET",
        "/hello.txt",
        &[range, &format!("If-None-Match: {etag}")],
    );
    assert_eq!((r.status, r.header("content-range")), (304, None));
    let r = req(
        &s,
        "GET",
        "/hello.txt",
        &["Range: bytes=99-", "If-Match: \"x\""],
    );
    assert_eq!(r.status, 412);
    // An unsatisfiable range whose If-Range fails is the whole file.
    whole(
        req(&s, "GET", "/hello.txt", &["Range: bytes=99-", &ir("\"x\"")]),
        "416 avoided",
    );
    // A weak tag (a file modified within the last second) never satisfies
    // If-Range, not even by its own date.
    let future = SystemTime::now() + Duration::from_secs(3600);
    set_mtime(&t.root.join("style.css"), future);
    let r = get(&s, "/style.css");
    let (wtag, wdate) = (
        r.header("etag").unwrap().to_string(),
        r.header("last-modified").unwrap().to_string(),
    );
    for v in [wtag.as_str(), wdate.as_str()] {
        let r = req(&s, "GET", "/style.css", &["Range: bytes=0-0", &ir(v)]);
        assert_eq!((r.status, &r.body[..]), (200, &b"p{}\n"[..]), "{v}");
    }
    // The zero-copy path keeps all of it.
    let dtag = get(&s, "/data.bin").header("etag").unwrap().to_string();
    let r = req(
        &s,
        "GET",
        "/data.bin",
        &["Range: bytes=100000-199999", &ir(&dtag)],
    );
    assert_eq!((r.status, r.body.len()), (206, 100_000));
    assert_eq!(r.header("etag"), Some(&*dtag));
    assert!(r
        .body
        .iter()
        .enumerate()
        .all(|(i, &v)| v == data_byte(100_000 + i)));
});

each_backend!(media_types_from_mime_guess, |b| {
    let (t, s) = start(b, "mime");
    let files = [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("hello.txt", "text/plain; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "application/javascript; charset=utf-8"),
        ("UPPER.TXT", "text/plain; charset=utf-8"),
        ("data.json", "application/json"),
        ("pic.png", "image/png"),
        ("logo.svg", "image/svg+xml"),
        ("a.wasm", "application/wasm"),
        ("data.bin", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        ("archive.tar.gz", "application/gzip"),
    ];
    for (name, _) in files {
        if !t.root.join(name).exists() {
            std::fs::write(t.root.join(name), b"x").unwrap();
        }
    }
    for (name, want) in files {
        let r = get(&s, &format!("/{name}"));
        assert_eq!(r.header("content-type"), Some(want), "{name}");
    }
    // A directory's index is typed by the index's name.
    assert_eq!(
        get(&s, "/site/").header("content-type"),
        Some("text/html; charset=utf-8")
    );
});

#[test]
fn target_forms() {
    let t = |path, query, authority| {
        Some(Target {
            authority,
            path,
            query,
        })
    };
    assert_eq!(target::parse("/a/b?x=1"), t("/a/b", Some("x=1"), None));
    assert_eq!(target::parse("/a#f?no"), t("/a", None, None));
    assert_eq!(target::parse("/?"), t("/", Some(""), None));
    assert_eq!(
        target::parse("http://h:1/a?q#f"),
        t("/a", Some("q"), Some("h:1"))
    );
    assert_eq!(target::parse("HtTpS://h"), t("/", None, Some("h")));
    assert_eq!(target::parse("http://h?q"), t("/", Some("q"), Some("h")));
    assert_eq!(
        target::parse("http://[fe80::1]:8080/"),
        t("/", None, Some("[fe80::1]:8080"))
    );
    assert_eq!(
        target::parse("http://a.b-c_d~e%41!$&'()*+,;=/x"),
        t("/x", None, Some("a.b-c_d~e%41!$&'()*+,;="))
    );
    for bad in [
        "",
        "*",
        "a/b",
        "ftp://h/",
        "http//h/",
        "http://",
        "http:///",
        "http://:1/",
        "http://u@h/",
        "http://h:x/",
        "http://h%4/",
        "http://[]/",
        "http://[::1]x/",
        "http://[g::1]/",
        "http://h h/",
    ] {
        assert_eq!(target::parse(bad), None, "{bad:?}");
    }
    assert!(target::valid_authority(""));
    assert!(target::valid_authority("h:"));
    assert!(!target::valid_authority("h/"));
}

#[test]
fn paths_know_their_trailing_slash() {
    assert!(path::resolve("/").unwrap().dir);
    assert!(path::resolve("/a/").unwrap().dir);
    assert!(!path::resolve("/a").unwrap().dir);
    assert!(!path::index_of(&path::resolve("/a/").unwrap()).dir);
    assert_eq!(
        path::resolve("a").unwrap_err(),
        path::PathError::Malformed,
        "not an absolute path"
    );
}

#[test]
fn conditions_and_validators_without_a_server() {
    let now = past() + Duration::from_secs(100);
    let v = Validators::new(0x1f, 16, past(), now);
    let mut head = Vec::new();
    v.write_headers(&mut head);
    let head = String::from_utf8(head).unwrap();
    assert_eq!(
        head,
        format!(
            "ETag: \"1f-10-{:x}\"\r\nLast-Modified: {PAST_DATE}\r\n",
            1_577_836_800_500_000_000u128
        )
    );
    // Within a second of the mtime: weak.
    let fresh = Validators::new(1, 1, now, now + Duration::from_millis(999));
    let mut h = Vec::new();
    fresh.write_headers(&mut h);
    assert!(h.starts_with(b"ETag: W/\""));
    let aged = Validators::new(1, 1, now, now + Duration::from_secs(1));
    let mut h = Vec::new();
    aged.write_headers(&mut h);
    assert!(h.starts_with(b"ETag: \""));
    // The far past and the far future neither panic nor collide.
    let old = UNIX_EPOCH - Duration::from_secs(86_400);
    let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
    let mut h = Vec::new();
    Validators::new(1, 1, old, now).write_headers(&mut h);
    Validators::new(1, 1, far, now).write_headers(&mut h);
    let h = String::from_utf8(h).unwrap();
    assert!(
        h.contains("Last-Modified: Thu, 01 Jan 1970 00:00:00 GMT"),
        "{h}"
    );
    assert!(
        h.contains("Last-Modified: Fri, 31 Dec 9999 23:59:59 GMT"),
        "{h}"
    );
    assert_eq!(http::date(old).to_string(), "Thu, 01 Jan 1970 00:00:00 GMT");

    let tag = &format!("\"1f-10-{:x}\"", 1_577_836_800_500_000_000u128);
    let eval = |c: Conditions| conditional::evaluate(&c, &v);
    let proceed = Decision::Proceed { use_range: true };
    let cond = |f: fn(&mut Conditions, String), value: &str| {
        let mut c = Conditions::default();
        f(&mut c, value.to_string());
        c
    };
    let inm: fn(&mut Conditions, String) = |c, v| c.if_none_match = Some(v);
    let im: fn(&mut Conditions, String) = |c, v| c.if_match = Some(v);
    let ir: fn(&mut Conditions, String) = |c, v| c.if_range = Some(v);
    assert_eq!(eval(Conditions::default()), proceed);
    assert_eq!(eval(cond(inm, tag)), Decision::NotModified);
    // Entity-tag lists: commas inside a tag, odd spacing, junk after.
    let list = format!("\"a,b\" ,\t,W/\"x\",{tag}");
    assert_eq!(eval(cond(inm, &list)), Decision::NotModified);
    let junk = format!("\"a\" junk, {tag}");
    assert_eq!(eval(cond(inm, &junk)), proceed, "malformed from there on");
    assert_eq!(eval(cond(inm, "\"unterminated")), proceed);
    assert_eq!(
        eval(cond(im, &format!("W/{tag}"))),
        Decision::PreconditionFailed
    );
    assert_eq!(eval(cond(im, tag)), proceed);
    let no_range = Decision::Proceed { use_range: false };
    assert_eq!(eval(cond(ir, &format!("{tag}, {tag}"))), no_range, "a list");
    assert_eq!(eval(cond(ir, tag)), proceed);
    assert_eq!(eval(cond(ir, PAST_DATE)), proceed);
    // Repeated fields: lists are joined, single values spoilt.
    let mut c = Conditions::default();
    c.take("If-None-Match", "\"a\"");
    c.take("if-none-match", tag);
    c.take("If-Modified-Since", PAST_DATE);
    c.take("IF-MODIFIED-SINCE", PAST_DATE);
    c.take("X-Other", "1");
    assert_eq!(c.if_none_match, Some(format!("\"a\", {tag}")));
    assert_eq!(c.if_modified_since.as_deref(), Some(""));
    assert_eq!(eval(c), Decision::NotModified);
}

#[test]
fn content_types() {
    let ct = |n: &str| http::content_type(n).to_string();
    assert_eq!(ct("a.HTML"), "text/html; charset=utf-8");
    assert_eq!(ct("dir.d/file"), "application/octet-stream");
    assert_eq!(ct(""), "application/octet-stream");
    assert_eq!(ct("x.jpeg"), "image/jpeg");
}
