//! `examples/peers` (ringloop side by side with tokio and the io_uring
//! floor), run with tiny sizes as a user runs it: on each backend, the
//! peers of that backend (the floor with io_uring) and tokio serve echo,
//! spawn and yield and hold idle connections in child processes, and the
//! one table it prints has a figure in every cell of theirs. Figures are
//! not judged (no timing threshold); a server that fails, or a figure
//! missing, fails the test.
mod util;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use ringloop::Backend;

/// The table's rows (one run, so each cell is that run's figure).
const ROWS: &[&str] = &[
    "spawn + join, ns",
    "yield ping-pong, ns per switch",
    "echo 1 conn: server CPU per request, µs",
    "echo 1 conn: p50 latency, µs",
    "echo 1 conn: p99 latency, µs",
    "echo 1 conn: requests/s",
    "echo 4 conns: server CPU per request, µs",
    "echo 4 conns: requests/s",
    "RSS per idle connection at 50, bytes",
];

fn peers_of(b: Backend) -> &'static [&'static str] {
    match b {
        Backend::IoUring => &["floor", "uring", "uring-owned", "uring-multishot", "tokio"],
        _ => &["epoll", "epoll-owned", "tokio"],
    }
}

each_backend!(prints_one_table_with_every_figure, |b: Backend| {
    let peers = peers_of(b).join(",");
    let mut child = Command::new(util::example("peers"))
        .args(["--runs", "1", "--duration", "100ms", "--warmup", "50ms"])
        .args(["--conns", "1,4", "--idle", "50", "--tasks", "1000"])
        .args(["--peers", &peers])
        // The load generator on this backend too (the servers get theirs
        // from --peers).
        .env(ringloop::BACKEND_ENV, b.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start peers");
    let pid = child.id() as libc::pid_t;
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let e = std::thread::spawn(move || {
            let mut v = String::new();
            let _ = err.read_to_string(&mut v);
            v
        });
        let mut o = String::new();
        let _ = out.read_to_string(&mut o);
        let _ = tx.send((child.wait(), o, e.join().unwrap_or_default()));
    });
    let (status, out, err) = rx.recv_timeout(util::LIMIT).unwrap_or_else(|e| {
        // SAFETY: kill(2) takes plain integers; the child is not reaped
        // until its waiter thread sends.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("peers did not finish within {:?} ({e})", util::LIMIT)
    });
    assert!(status.unwrap().success(), "peers failed: {err}\n{out}");

    let header: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("| |"))
        .unwrap_or_else(|| panic!("no table: {out}"))
        .split('|')
        .map(str::trim)
        .collect();
    let titles: Vec<&str> = match b {
        Backend::IoUring => vec![
            "floor",
            "ringloop uring",
            "uring owned",
            "uring multishot",
            "tokio",
        ],
        _ => vec!["ringloop epoll", "epoll owned", "tokio"],
    };
    for t in &titles {
        assert!(header.contains(t), "no column {t}: {header:?}");
    }
    for row in ROWS {
        let cells: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with(&format!("| {row} |")))
            .unwrap_or_else(|| panic!("no row {row:?}: {out}"))
            .split('|')
            .map(str::trim)
            .collect();
        for t in &titles {
            let i = header.iter().position(|h| h == t).unwrap();
            // The floor has no tasks, and the owned-buffer and multishot
            // servers are the same runtimes as the pooled ones.
            let no_tasks = ["floor", "uring owned", "epoll owned", "uring multishot"].contains(t);
            if no_tasks && !row.starts_with("echo") && !row.starts_with("RSS") {
                assert_eq!(cells[i], "—", "{row}: {t}");
                continue;
            }
            let v: f64 = cells[i]
                .replace(',', "")
                .parse()
                .unwrap_or_else(|_| panic!("{row}: {t} has no figure: {:?}", cells[i]));
            if !row.starts_with("RSS") {
                assert!(v > 0.0, "{row}: {t}: {v}");
            }
        }
    }
    assert!(out.contains("servers pinned to core 0"), "{out}");
});
