//! Helpers for `tests/server_http.rs`: a file server running in-process on
//! its own loop thread, a served tree, and a small blocking HTTP client.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use ringloop::{Backend, Builder, Handle};

use crate::deadline::WriteLimit;
use crate::server::{serve, Config, LoopStats};
use crate::{open, shutdown};

/// Bound on every blocking read or write of the test client.
pub const IO_LIMIT: Duration = Duration::from_secs(20);

/// A served tree under the temp dir: `<base>/root` is served, and
/// `<base>/secret.txt` (containing `SECRET`) lies just outside it.
pub struct Tree {
    pub base: PathBuf,
    pub root: PathBuf,
}

/// Content of `/hello.txt`.
pub const HELLO: &[u8] = b"hello, ringloop\n";
/// Size of `/data.bin`, large enough for the zero-copy path.
pub const DATA_LEN: usize = 300_000;

/// The byte at `i` of `/data.bin`.
pub fn data_byte(i: usize) -> u8 {
    (i % 251) as u8
}

impl Tree {
    pub fn new(tag: &str) -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let base =
            std::env::temp_dir().join(format!("ringloop-http-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("site")).unwrap();
        std::fs::write(base.join("secret.txt"), b"SECRET outside the root\n").unwrap();
        std::fs::write(root.join("index.html"), b"<h1>root index</h1>\n").unwrap();
        std::fs::write(root.join("site/index.html"), b"<p>site</p>\n").unwrap();
        std::fs::write(root.join("sub/a.txt"), b"in sub\n").unwrap();
        std::fs::write(root.join("hello.txt"), HELLO).unwrap();
        std::fs::write(root.join("style.css"), b"p{}\n").unwrap();
        std::fs::write(root.join("empty.txt"), b"").unwrap();
        let data: Vec<u8> = (0..DATA_LEN).map(data_byte).collect();
        std::fs::write(root.join("data.bin"), data).unwrap();
        let link =
            |target: &str, name: &str| std::os::unix::fs::symlink(target, root.join(name)).unwrap();
        link("../secret.txt", "leak_rel");
        link(base.join("secret.txt").to_str().unwrap(), "leak_abs");
        link("/etc", "etc_dir");
        link("hello.txt", "hello_link");
        link("sub", "sub_link");
        Tree { base, root }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Server settings a test may change.
#[derive(Clone, Copy)]
pub struct Opts {
    pub max_conns: usize,
    pub idle: Duration,
    pub header: Duration,
    pub write: WriteLimit,
    /// `--metrics`: `GET /metrics` answers the Prometheus text.
    pub metrics: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            max_conns: 10_000,
            idle: Duration::from_secs(10),
            header: Duration::from_secs(10),
            write: WriteLimit {
                window: Duration::from_secs(10),
                min_rate: 4096,
            },
            metrics: false,
        }
    }
}

/// A server on its own single-loop runtime; stopped and joined on drop.
pub struct Server {
    pub addr: SocketAddr,
    handle: Handle,
    thread: Option<JoinHandle<Result<LoopStats, String>>>,
}

impl Server {
    pub fn start(backend: Backend, root: &Path, opts: Opts) -> Server {
        let root = Arc::new(open::open_root(root).expect("open root (openat2 needed)"));
        let cfg = Arc::new(Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            root,
            max_conns_per_loop: opts.max_conns,
            idle_timeout: opts.idle,
            header_timeout: opts.header,
            write: opts.write,
            grace: Duration::from_secs(2),
            log: false,
            metrics: opts.metrics,
        });
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = Builder::new()
                .backend(backend)
                .build()
                .map_err(|e| format!("runtime on {backend}: {e}"))?;
            let h = rt.handles().remove(0);
            let tx2 = tx.clone();
            rt.block_on(serve(cfg, move |addr| drop(tx2.send(Ok((addr, h))))))
                .inspect_err(|e| drop(tx.send(Err(e.clone()))))
        });
        let (addr, handle) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not start in time")
            .expect("server failed to start");
        Server {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// Stops the server and returns what its loop reports.
    pub fn stop(mut self) -> LoopStats {
        self.stop_inner().expect("server loop failed")
    }

    fn stop_inner(&mut self) -> Result<LoopStats, String> {
        drop(self.handle.spawn(async { shutdown::trigger() }));
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "server thread panicked".to_string())?,
            None => Err("already stopped".into()),
        }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(IO_LIMIT)).unwrap();
        s.set_write_timeout(Some(IO_LIMIT)).unwrap();
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let r = self.stop_inner();
            if !std::thread::panicking() {
                r.expect("server loop failed");
            }
        }
    }
}

/// One parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads responses off one connection, keeping bytes that arrive early.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn new(stream: TcpStream) -> Client {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.stream.write_all(raw).expect("write request");
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16384];
        // A socket read with a timeout is not restarted after a signal
        // handler ran (EINTR); like `read_exact`, try again.
        let n = loop {
            match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one response; `head_only` for an answer to HEAD.
    pub fn response(&mut self, head_only: bool) -> Response {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.fill().expect("read response head");
            assert!(
                n > 0,
                "connection closed before a response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("ASCII head");
        self.buf.drain(..end);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "status line {status_line:?}"
        );
        let status = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = r.header("content-length").map_or(0, |v| v.parse().unwrap());
        if !head_only {
            while self.buf.len() < len {
                let n = self.fill().expect("read body");
                assert!(n > 0, "connection closed inside a body");
            }
            r.body = self.buf.drain(..len).collect();
        }
        r
    }

    /// Whether the server closed the connection (EOF or reset) with no
    /// further bytes, waiting at most `limit`.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        self.stream.set_read_timeout(Some(limit)).unwrap();
        let mut b = [0u8; 64];
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        }
    }
}

/// `GET path` with `Connection: close`, answered on a fresh connection.
pub fn get(server: &Server, path: &str) -> Response {
    request(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
    )
}

/// Sends a raw request on a fresh connection and reads one response.
pub fn request(server: &Server, raw: &str) -> Response {
    let mut c = Client::new(server.connect());
    c.send(raw.as_bytes());
    let head = raw.starts_with("HEAD ");
    c.response(head)
}

/// This process's resident set size in KiB (`VmRSS`).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Whether `curl` can be run.
pub fn have_curl() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
