//! The bundled HTTP/1.1 file server (`examples/file_server`), driven over
//! loopback with raw requests and `curl`, on both backends.
//!
//! The server runs in-process: this file includes the example's modules
//! with `#[path]`, and `server_util::Server` starts `server::serve` on its
//! own loop thread (port 0) and stops it through the loop's `Handle`.

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

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ringloop::Backend;
use server_util::{data_byte, get, request, Client, Opts, Server, Tree, DATA_LEN, HELLO};

fn start(b: Backend, tag: &str) -> (Tree, Server) {
    let tree = Tree::new(tag);
    let server = Server::start(b, &tree.root, Opts::default());
    (tree, server)
}

each_backend!(get_files_and_index, |b| {
    let (_t, s) = start(b, "get");
    let r = get(&s, "/hello.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, HELLO);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some(&*HELLO.len().to_string()));
    let lm = r.header("last-modified").expect("Last-Modified");
    assert!(
        lm.len() == 29 && lm.ends_with(" GMT") && lm.as_bytes()[3] == b',',
        "{lm:?}"
    );
    assert_eq!(
        get(&s, "/style.css").header("content-type"),
        Some("text/css; charset=utf-8")
    );
    let r = get(&s, "/");
    assert_eq!(
        (r.status, &r.body[..]),
        (200, &b"<h1>root index</h1>\n"[..])
    );
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(get(&s, "/site/").body, b"<p>site</p>\n");
    let r = get(&s, "/site");
    assert_eq!((r.status, r.header("location")), (301, Some("/site/")));
    assert_eq!(
        get(&s, "/sub/").status,
        404,
        "a directory without index.html"
    );
    assert_eq!(get(&s, "/nope.txt").status, 404);
    assert_eq!(get(&s, "/hello.txt?x=1#f").body, HELLO);
    assert_eq!(get(&s, "/sub%2Fa.txt").status, 404);
    assert_eq!(get(&s, "/%68ello.txt").body, HELLO, "percent-decoded once");
    let r = get(&s, "/empty.txt");
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = get(&s, "/data.bin");
    assert_eq!(r.body.len(), DATA_LEN);
    assert!(r.body.iter().enumerate().all(|(i, &v)| v == data_byte(i)));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
});

each_backend!(head_has_headers_but_no_body, |b| {
    let (_t, s) = start(b, "head");
    let mut c = Client::new(s.connect());
    c.send(b"HEAD /data.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(&*DATA_LEN.to_string()));
    assert!(r.header("last-modified").is_some());
    // No body bytes follow: the next answer on the connection starts clean.
    c.send(b"HEAD /missing HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response(true).status, 404);
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response(false).body, HELLO);
});

each_backend!(keep_alive_and_pipelining, |b| {
    let (_t, s) = start(b, "pipe");
    let mut c = Client::new(s.connect());
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response(false).body, HELLO);
    c.send(b"GET /sub/a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response(false).body, b"in sub\n");
    // Three requests in one write, one of them with a large body.
    c.send(
        b"GET /sub/a.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /data.bin HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(c.response(false).body, b"in sub\n");
    assert_eq!(c.response(false).body.len(), DATA_LEN);
    let last = c.response(false);
    assert_eq!(
        (last.body.as_slice(), last.header("connection")),
        (HELLO, Some("close"))
    );
    assert!(c.closed_within(Duration::from_secs(5)));
    // HTTP/1.0 closes unless asked to keep alive.
    let mut c = Client::new(s.connect());
    c.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.response(false).header("connection"), Some("keep-alive"));
    c.send(b"GET /hello.txt HTTP/1.0\r\n\r\n");
    assert_eq!(c.response(false).body, HELLO);
    assert!(c.closed_within(Duration::from_secs(5)));
});

each_backend!(error_statuses, |b| {
    let (_t, s) = start(b, "status");
    assert_eq!(request(&s, "GARBAGE\r\n\r\n").status, 400);
    assert_eq!(request(&s, "GET / HTTP/1.1\r\n\r\n").status, 400, "no Host");
    assert_eq!(
        request(&s, "GET ftp://t/ HTTP/1.1\r\nHost: t\r\n\r\n").status,
        400
    );
    assert_eq!(
        request(&s, "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n").status,
        400
    );
    let r = request(
        &s,
        "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(
        request(&s, "DELETE / HTTP/1.1\r\nHost: t\r\n\r\n").status,
        405
    );
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(3000));
    assert_eq!(request(&s, &long).status, 414);
    let huge = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    assert_eq!(request(&s, &huge).status, 414);
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    assert_eq!(request(&s, &big_head).status, 431);
    let many: String = (0..70).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(
        request(&s, &format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n")).status,
        431
    );
    assert_eq!(request(&s, "GET / HTTP/2.0\r\nHost: t\r\n\r\n").status, 505);
    assert_eq!(request(&s, "GET / HTTP/1.2\r\nHost: t\r\n\r\n").status, 505);
    // The server is still well after all that.
    assert_eq!(get(&s, "/hello.txt").body, HELLO);
});

each_backend!(nothing_outside_the_root, |b| {
    let (_t, s) = start(b, "traversal");
    let refused = [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/a%2fb",
        "/%2fetc/passwd",
        "//etc/passwd",
        "/\\..\\secret.txt",
        "/..\\secret.txt",
        "/hello.txt%00.html",
        "/%00",
        "/./hello.txt",
        "/leak_rel",
        "/leak_abs",
        "/etc_dir/passwd",
        "/etc_dir/hostname",
        "/../../../../../../etc/passwd",
    ];
    for p in refused {
        let raw = format!("GET {p} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let r = request(&s, &raw);
        assert_eq!(r.status, 404, "{p}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("SECRET") && !body.contains("root:"),
            "{p}: {body}"
        );
    }
    // A raw NUL byte in the target is a malformed request.
    let r = request(&s, "GET /hello.txt\0x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(r.status == 400 || r.status == 404, "{}", r.status);
    // Symlinks that stay inside the root are served.
    assert_eq!(get(&s, "/hello_link").body, HELLO);
    assert_eq!(get(&s, "/sub_link/a.txt").body, b"in sub\n");
});

each_backend!(byte_ranges, |b| {
    let (_t, s) = start(b, "range");
    let range = |path: &str, spec: &str| {
        request(
            &s,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: t\r\nRange: {spec}\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    let r = range("/hello.txt", "bytes=0-4");
    assert_eq!((r.status, &r.body[..]), (206, &b"hello"[..]));
    assert_eq!(r.header("content-range"), Some("bytes 0-4/16"));
    let r = range("/hello.txt", "bytes=7-");
    assert_eq!((r.status, &r.body[..]), (206, &b"ringloop\n"[..]));
    let r = range("/hello.txt", "bytes=-5");
    assert_eq!((r.status, &r.body[..]), (206, &b"loop\n"[..]));
    assert_eq!(r.header("content-range"), Some("bytes 11-15/16"));
    let r = range("/hello.txt", "bytes=-100");
    assert_eq!((r.status, &r.body[..]), (206, HELLO));
    let r = range("/hello.txt", "bytes=10-1000");
    assert_eq!(r.header("content-range"), Some("bytes 10-15/16"));
    for bad in ["bytes=16-", "bytes=100-200", "bytes=-0"] {
        let r = range("/hello.txt", bad);
        assert_eq!(
            (r.status, r.header("content-range")),
            (416, Some("bytes */16")),
            "{bad}"
        );
    }
    // Multi-range, other units and nonsense get the whole file.
    for whole in ["bytes=0-1,3-4", "items=0-1", "bytes=5-2", "bytes=x-y"] {
        let r = range("/hello.txt", whole);
        assert_eq!((r.status, &r.body[..]), (200, HELLO), "{whole}");
    }
    // Ranges of a large file take the zero-copy path.
    let (a, e) = (100_000usize, 250_000usize);
    let r = range("/data.bin", &format!("bytes={a}-{e}"));
    assert_eq!(r.status, 206);
    assert_eq!(r.body.len(), e - a + 1);
    assert!(r
        .body
        .iter()
        .enumerate()
        .all(|(i, &v)| v == data_byte(a + i)));
    let r = range("/data.bin", "bytes=-70000");
    assert_eq!(r.body.len(), 70_000);
    assert!(r
        .body
        .iter()
        .enumerate()
        .all(|(i, &v)| v == data_byte(DATA_LEN - 70_000 + i)));
    let r = range("/empty.txt", "bytes=0-");
    assert_eq!(r.status, 416);
});

each_backend!(over_max_conns_is_503, |b| {
    let tree = Tree::new("busy");
    let s = Server::start(
        b,
        &tree.root,
        Opts {
            max_conns: 2,
            ..Opts::default()
        },
    );
    let mut held = Vec::new();
    for _ in 0..2 {
        // An answered request proves the connection was accepted and counted.
        let mut c = Client::new(s.connect());
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response(false).status, 200);
        held.push(c);
    }
    let r = get(&s, "/hello.txt");
    assert_eq!((r.status, r.header("connection")), (503, Some("close")));
    drop(held);
    // Once they are gone, the limit frees up (the server counts the closes
    // as it sees them: retry for a bounded time).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(&s, "/hello.txt");
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still 503 after the connections closed"
        );
    }
    let stats = s.stop();
    assert!(stats.rejected_503 >= 1);
});

each_backend!(a_thousand_concurrent_connections, |b| {
    let limit = util::raise_nofile();
    let n = if limit >= 2_300 {
        1_000
    } else {
        ((limit as usize).saturating_sub(200) / 2).max(10)
    };
    if n < 1_000 {
        eprintln!("RLIMIT_NOFILE hard limit is {limit}: using {n} connections");
    }
    let (_t, s) = start(b, "many");
    let mut clients: Vec<Client> = (0..n).map(|_| Client::new(s.connect())).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let path = if i % 2 == 0 {
            "/hello.txt"
        } else {
            "/sub/a.txt"
        };
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let r = c.response(false);
        assert_eq!(r.status, 200, "connection {i}");
        assert_eq!(r.body, if i % 2 == 0 { HELLO } else { b"in sub\n" });
    }
    drop(clients);
    let stats = s.stop();
    assert_eq!(stats.accepted as usize, n);
});

each_backend!(large_sparse_file_streams_in_flat_memory, |b| {
    const SIZE: u64 = 1 << 30;
    let (t, s) = start(b, "sparse");
    let f = std::fs::File::create(t.root.join("sparse.bin")).unwrap();
    f.set_len(SIZE).unwrap();
    drop(f);
    let before = server_util::rss_kib();
    let mut c = s.connect();
    c.write_all(b"GET /sparse.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut body = 0u64;
    let mut peak = before;
    let mut reads = 0u64;
    loop {
        let n = c.read(&mut buf).expect("read body");
        if n == 0 {
            break;
        }
        if head.len() < 4 || !head.ends_with(b"\r\n\r\n") {
            // Still in the head: split it off.
            let mut i = 0;
            while i < n && !head.ends_with(b"\r\n\r\n") {
                head.push(buf[i]);
                i += 1;
            }
            body += (n - i) as u64;
            assert!(buf[i..n].iter().all(|&v| v == 0));
        } else {
            body += n as u64;
        }
        reads += 1;
        if reads % 512 == 0 {
            peak = peak.max(server_util::rss_kib());
        }
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains(&format!("Content-Length: {SIZE}")), "{head}");
    assert_eq!(body, SIZE);
    let after = server_util::rss_kib().max(peak);
    assert!(
        after < before + 100 * 1024,
        "RSS grew from {before} KiB to {after} KiB while serving 1 GiB"
    );
});

each_backend!(slow_and_idle_clients_are_closed, |b| {
    let tree = Tree::new("slow");
    let idle = Duration::from_millis(300);
    let s = Server::start(
        b,
        &tree.root,
        Opts {
            idle,
            header: idle,
            ..Opts::default()
        },
    );
    // A partial head, then silence.
    let t0 = Instant::now();
    let mut c = Client::new(s.connect());
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n");
    assert!(
        c.closed_within(Duration::from_secs(10)),
        "stalled head kept open"
    );
    assert!(
        t0.elapsed() < idle + Duration::from_secs(3),
        "closed after {:?}",
        t0.elapsed()
    );
    // An idle keep-alive connection.
    let t0 = Instant::now();
    let mut c = Client::new(s.connect());
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response(false).body, HELLO);
    assert!(
        c.closed_within(Duration::from_secs(10)),
        "idle connection kept open"
    );
    assert!(t0.elapsed() < idle + Duration::from_secs(3));
    // A head trickling in a byte every 50 ms never completes: the head
    // deadline closes it although every single read succeeds in time.
    let t0 = Instant::now();
    let mut c = Client::new(s.connect());
    let trickle = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for &byte in trickle.iter() {
        if c.stream.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        // The deliberate stall doubles as the wait for the server's close.
        c.stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut one = [0u8; 1];
        match c.stream.read(&mut one) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => panic!("unexpected bytes for an unfinished head"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(
        closed,
        "a trickling head held the connection for {:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < idle + Duration::from_secs(3));
});

each_backend!(curl_client, |b| {
    if !server_util::have_curl() {
        util::skip("RINGLOOP_REQUIRE_CURL", "curl is not installed");
        return;
    }
    let (t, s) = start(b, "curl");
    let url = |p: &str| format!("http://{}{p}", s.addr);
    let curl = |args: &[&str]| {
        let o = std::process::Command::new("curl")
            .args(["-s", "--max-time", "20"])
            .args(args)
            .output()
            .expect("run curl");
        assert!(
            o.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    assert_eq!(curl(&[&url("/hello.txt")]), HELLO);
    let data = curl(&[&url("/data.bin")]);
    assert_eq!(data, std::fs::read(t.root.join("data.bin")).unwrap());
    assert_eq!(curl(&["-r", "0-4", &url("/hello.txt")]), b"hello");
    let code = |args: &[&str]| {
        let mut a = vec!["-o", "/dev/null", "-w", "%{http_code}"];
        a.extend_from_slice(args);
        String::from_utf8(curl(&a)).unwrap()
    };
    assert_eq!(code(&["--path-as-is", &url("/../secret.txt")]), "404");
    assert_eq!(code(&[&url("/leak_rel")]), "404");
    assert_eq!(code(&["-X", "PUT", &url("/hello.txt")]), "405");
    let head = String::from_utf8(curl(&["-I", &url("/hello.txt")])).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 16"),
        "{head}"
    );
    // Keep-alive: several URLs on one curl connection.
    let both = curl(&[&url("/hello.txt"), &url("/sub/a.txt")]);
    assert_eq!(both, [HELLO, b"in sub\n"].concat());
});

/// Checks a Prometheus text exposition: every sample line is `name value`
/// or `name{labels} value` with a number, and its metric has a `# TYPE`.
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            typed.insert(it.next().unwrap().to_string());
            let kind = it.next().unwrap();
            assert!(["counter", "gauge", "summary"].contains(&kind), "{line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("{line:?}"));
        let name = series.split('{').next().unwrap();
        let base = name.strip_suffix("_count").filter(|b| typed.contains(*b));
        assert!(
            typed.contains(name) || base.is_some(),
            "{name} has no # TYPE"
        );
        samples.push((series.to_string(), v));
    }
    samples
}

each_backend!(metrics_endpoint_serves_prometheus_text, |b| {
    let tree = Tree::new("metrics");
    let opts = Opts {
        metrics: true,
        ..Opts::default()
    };
    let s = Server::start(b, &tree.root, opts);
    assert_eq!(get(&s, "/hello.txt").status, 200);
    let r = get(&s, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(r.body.clone()).unwrap();
    let samples = parse_exposition(&text);
    let value = |series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .1
    };
    assert!(value("ringloop_loop_iterations_total{loop=\"0\"}") >= 1.0);
    assert!(value("ringloop_ops_completed_total{loop=\"0\"}") >= 1.0);
    let elu = value("ringloop_utilization_ratio{loop=\"0\"}");
    assert!((0.0..=1.0).contains(&elu), "{elu}");
    assert!(value("ringloop_loop_lag_seconds{loop=\"0\",quantile=\"0.99\"}") >= 0.0);
    assert_eq!(value("ringloop_blocking_jobs_rejected_total"), 0.0);
    // The server's own figures: the GET before this one was answered.
    assert!(value("file_server_requests_total") >= 1.0, "{text}");
    assert!(value("file_server_connections") >= 1.0, "{text}");
    // HEAD: the head alone.
    let h = request(
        &s,
        "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    println!("{text}");
});

each_backend!(metrics_endpoint_is_off_by_default, |b| {
    let (_t, s) = start(b, "nometrics");
    assert_eq!(get(&s, "/metrics").status, 404);
});
