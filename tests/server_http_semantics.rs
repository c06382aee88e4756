//! HTTP semantics of the bundled file server (`examples/file_server`),
//! on both backends: a slash after a file, absolute-form targets and
//! `Host`, the redirect of a directory named without its slash. The pure
//! parts (target forms, paths) are also checked without a server.
//!
//! Like `tests/server_http.rs`, this file includes the example's modules
//! with `#[path]` and runs `server::serve` in-process (`server_util`).

#[path = "../examples/file_server/body.rs"]
mod body;
#[path = "../examples/file_server/conn.rs"]
mod conn;
#[path = "../examples/file_server/http.rs"]
mod http;
#[path = "../examples/file_server/mime.rs"]
mod mime;
#[path = "../examples/file_server/open.rs"]
mod open;
#[path = "../examples/file_server/ops.rs"]
mod ops;
#[path = "../examples/file_server/path.rs"]
mod path;
#[path = "../examples/file_server/range.rs"]
mod range;
#[path = "../examples/file_server/server.rs"]
mod server;
mod server_util;
#[path = "../examples/support/shutdown.rs"]
mod shutdown;
#[path = "../examples/file_server/target.rs"]
mod target;
mod util;

use ringloop::Backend;
use server_util::{get, request, Client, Opts, Response, Server, Tree, HELLO};
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
