//! The built server binaries stop gracefully on real signals: SIGINT and
//! SIGTERM, with 1, 2 and 4 loop threads, also when the parent left SIGINT
//! ignored (a background job, `nohup`). Each run keeps a request in flight
//! across the signal and checks that it is finished during the grace
//! period, that the process exits 0, and that it prints its figures.
//! Both backends.
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};

use ringloop::Backend;

const THREADS: [usize; 3] = [1, 2, 4];
const SIGNALS: [(i32, &str); 2] = [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")];
/// Long enough for a slow CI machine; the server exits as soon as the
/// in-flight request is done, not at the end of it.
const GRACE: &str = "30s";

/// Lines of one of the child's pipes, read on a thread.
fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (bounded) for a line containing `needle`; returns it and every
/// line seen before it.
fn wait_for(rx: &Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    loop {
        match rx.recv_timeout(util::LIMIT) {
            Ok(l) if l.contains(needle) => return l,
            Ok(l) => seen.push(l),
            Err(e) => panic!("no line with {needle:?} ({e}); seen: {seen:#?}"),
        }
    }
}

struct Server {
    /// Taken by [`Server::finish`]; killed on drop if a test failed first.
    child: Option<Child>,
    out: Receiver<String>,
    err: Receiver<String>,
    addr: SocketAddr,
}

/// Starts `bin` with `args`; `ignore_int` starts it with SIGINT ignored, as
/// a shell does for a background job. `ready` is the announcement to wait
/// for, the address following `prefix` in it.
fn start(bin: PathBuf, args: &[&str], ignore_int: bool, ready: &str, prefix: &str) -> Server {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if ignore_int {
        // SAFETY: runs in the forked child before exec; `signal(2)` is
        // async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("start the server");
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let line = wait_for(&out, ready, &mut Vec::new());
    let addr = line
        .split(prefix)
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Server {
        child: Some(child),
        out,
        err,
        addr,
    }
}

impl Server {
    fn signal(&self, sig: i32) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        // SAFETY: plain syscall on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    /// Waits (bounded) for the exit; returns the code and stdout.
    fn finish(mut self) -> (Option<i32>, Vec<String>) {
        let (tx, rx) = mpsc::channel();
        let pid = self.child.as_ref().expect("running").id();
        let mut child = self.child.take().expect("running");
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let Ok(status) = rx.recv_timeout(util::LIMIT) else {
            // SAFETY: plain syscall; the child has not been reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("server did not exit after the signal");
        };
        let status = status.unwrap();
        let mut out = Vec::new();
        while let Ok(l) = self.out.recv_timeout(util::LIMIT) {
            out.push(l);
        }
        (status.code(), out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(util::LIMIT)).unwrap();
    s.set_write_timeout(Some(util::LIMIT)).unwrap();
    s
}

/// Every combination of threads, signal and inherited SIGINT disposition.
fn matrix() -> Vec<(usize, (i32, &'static str), bool)> {
    let mut v = Vec::new();
    for t in THREADS {
        for s in SIGNALS {
            for ignored in [false, true] {
                v.push((t, s, ignored));
            }
        }
    }
    v
}

each_backend!(echo_stops_gracefully_on_signals, |b: Backend| {
    let bin = util::example("echo");
    for (threads, (sig, name), ignored) in matrix() {
        let case = format!("echo --threads {threads} {name} (SIGINT ignored: {ignored})");
        let threads = threads.to_string();
        let args = [
            "--addr",
            "127.0.0.1:0",
            "--backend",
            &b.to_string(),
            "--threads",
            &threads,
            "--grace",
            GRACE,
        ];
        let srv = start(bin.clone(), &args, ignored, "listening on", "listening on ");
        let mut c = connect(srv.addr);
        let mut buf = [0u8; 4];
        c.write_all(b"ping").unwrap();
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping", "{case}");
        srv.signal(sig);
        wait_for(&srv.err, "stopping", &mut Vec::new());
        // The open connection is still served during the grace period.
        c.write_all(b"pong").unwrap();
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong", "{case}");
        drop(c);
        let (code, out) = srv.finish();
        assert_eq!(code, Some(0), "{case}: exit status; stdout {out:#?}");
        // The exit summary: a table, one figure a row, with its unit.
        let row = |name: &str| {
            out.iter()
                .find(|l| l.trim_start().starts_with(name))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        assert_eq!(
            row("connections accepted").as_deref(),
            Some("connections accepted 1 connections"),
            "{case}: stdout {out:#?}"
        );
        assert_eq!(
            row("bytes echoed").as_deref(),
            Some("bytes echoed 8 bytes"),
            "{case}: stdout {out:#?}"
        );
        assert!(
            out.iter().any(|l| l.trim_start().starts_with("legend: ")),
            "{case}: the legend; stdout {out:#?}"
        );
        assert!(
            out.iter()
                .any(|l| l.starts_with("ringloop: ") && l.contains(" on "))
                && out.iter().any(|l| l.contains("loop lag")),
            "{case}: the runtime's figures; stdout {out:#?}"
        );
    }
});

/// A served tree with one body large enough to stay in flight while the
/// client does not read.
struct Root(PathBuf);

const BIG: usize = 8 << 20;

impl Root {
    fn new(tag: &str) -> Root {
        let dir = std::env::temp_dir().join(format!("ringloop-sig-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let body: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("big.bin"), body).unwrap();
        Root(dir)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

each_backend!(
    file_server_finishes_in_flight_downloads_on_signals,
    |b: Backend| {
        let bin = util::example("file_server");
        let root = Root::new(&b.to_string());
        for (threads, (sig, name), ignored) in matrix() {
            let case =
                format!("file_server --threads {threads} {name} (SIGINT ignored: {ignored})");
            let threads = threads.to_string();
            let args = [
                "--root",
                root.0.to_str().unwrap(),
                "--addr",
                "127.0.0.1:0",
                "--backend",
                &b.to_string(),
                "--threads",
                &threads,
                "--grace",
                GRACE,
            ];
            let srv = start(bin.clone(), &args, ignored, "serving", "http://");
            let mut c = connect(srv.addr);
            c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n")
                .unwrap();
            // Read the head and a little of the body: the download is under way.
            let mut got = vec![0u8; 64 * 1024];
            c.read_exact(&mut got).unwrap();
            srv.signal(sig);
            wait_for(&srv.err, "stopping", &mut Vec::new());
            // The rest arrives during the grace period; then the server closes
            // the (now idle) keep-alive connection.
            c.read_to_end(&mut got).unwrap();
            let head_end = got
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("a response head")
                + 4;
            let head = String::from_utf8_lossy(&got[..head_end]).to_string();
            assert!(head.starts_with("HTTP/1.1 200"), "{case}: {head}");
            let body = &got[head_end..];
            assert_eq!(body.len(), BIG, "{case}: the whole body");
            assert!(
                body.iter().enumerate().all(|(i, &v)| v == (i % 251) as u8),
                "{case}: body content"
            );
            let (code, out) = srv.finish();
            assert_eq!(code, Some(0), "{case}: exit status; stdout {out:#?}");
            assert!(
                out.iter().any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == ["connections", "accepted", "1", "connections"]),
                "{case}: summary table; stdout {out:#?}"
            );
            assert!(
                out.iter().any(|l| l.contains("loop lag")),
                "{case}: the runtime's figures; stdout {out:#?}"
            );
        }
    }
);

// `--metrics` with two loops: a scrape labels each loop's figures; `--stats`
// prints its legend and lines.
each_backend!(file_server_metrics_label_each_loop, |b: Backend| {
    let bin = util::example("file_server");
    let root = Root::new(&format!("metrics-{b}"));
    let args = [
        "--root",
        root.0.to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--backend",
        &b.to_string(),
        "--threads",
        "2",
        "--metrics",
        "--stats",
        "1ms",
        "--grace",
        GRACE,
    ];
    let srv = start(bin, &args, false, "serving", "http://");
    let mut c = connect(srv.addr);
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for l in ["0", "1"] {
        let series = format!("ringloop_loop_iterations_total{{loop=\"{l}\"}} ");
        assert!(text.contains(&series), "no {series} in {text}");
    }
    drop(c);
    let line = wait_for(&srv.out, "file_server: t=", &mut Vec::new());
    for want in ["req/s", "lag p99", "ELU", "sys/op", "conns", "pool"] {
        assert!(line.contains(want), "{want} not in {line}");
    }
    let legend = wait_for(&srv.err, "stats every", &mut Vec::new());
    assert!(legend.contains("ELU = "), "{legend}");
    srv.signal(libc::SIGTERM);
    let (code, out) = srv.finish();
    assert_eq!(code, Some(0), "stdout {out:#?}");
    println!("{line}");
});
