//! The server side: what runs in the child process (`peers --serve PEER
//! --job echo|tasks`), pinned to core 0.
//!
//! The parent talks to it over its stdin and stdout, one line each way:
//! the child first prints `port N` (echo) or `tasks SPAWN_NS YIELD_NS`
//! (tasks); then, for echo, a control thread answers `cpu` with `cpu US`
//! (getrusage of the whole process, µs) and `sys` with `sys N` (the
//! runtime's own syscall counter, ringloop only; `sys -` otherwise). When
//! its stdin closes, the child exits.

use std::io::{BufRead, Write};

use ringloop::Backend;

use crate::peer::Peer;
use crate::rl::Recv;
use crate::{floor, rl, sys, tk};

/// Runs `job` for `peer` and exits.
pub fn run(peer: Peer, job: &str, tasks: usize) -> ! {
    if let Err(e) = sys::pin_to(0) {
        eprintln!("peers: {e} (the server runs unpinned)");
    }
    sys::raise_nofile();
    let r = match (job, peer) {
        ("tasks", Peer::Tokio) => tk::tasks(tasks),
        ("tasks", Peer::Uring) => rl::tasks(Backend::IoUring, tasks),
        ("tasks", Peer::Epoll) => rl::tasks(Backend::Epoll, tasks),
        ("tasks", _) => Err(std::io::Error::other(format!("{peer} has no tasks"))),
        // A server returns only when it fails.
        (_, Peer::Floor) => Err(floor::serve()),
        (_, Peer::Uring) => Err(rl::echo(Backend::IoUring, Recv::Pooled)),
        (_, Peer::Epoll) => Err(rl::echo(Backend::Epoll, Recv::Pooled)),
        (_, Peer::UringOwned) => Err(rl::echo(Backend::IoUring, Recv::Owned)),
        (_, Peer::EpollOwned) => Err(rl::echo(Backend::Epoll, Recv::Owned)),
        (_, Peer::UringMultishot) => Err(rl::echo(Backend::IoUring, Recv::Multishot)),
        (_, Peer::Tokio) => Err(tk::echo()),
    };
    match r {
        Ok((spawn_ns, yield_ns)) => {
            println!("tasks {spawn_ns:.1} {yield_ns:.1}");
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("peers: {peer} {job}: {e}");
            std::process::exit(1)
        }
    }
}

/// Tells the parent the server listens on `port` and starts the control
/// thread; `syscalls` reads the runtime's own syscall counter.
pub fn announce(port: u16, syscalls: Option<Box<dyn Fn() -> u64 + Send>>) {
    println!("port {port}");
    let _ = std::io::stdout().flush();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
            let reply = match line.trim() {
                "cpu" => format!("cpu {}", sys::cpu_us()),
                "sys" => match &syscalls {
                    Some(f) => format!("sys {}", f()),
                    None => "sys -".to_string(),
                },
                other => format!("error unknown command {other:?}"),
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{reply}");
            let _ = out.flush();
        }
    });
}
