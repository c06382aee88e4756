//! Helpers for the tests that run the bundled servers as built binaries
//! (`util::example`) and watch them from outside: start one and learn its
//! address, read its RSS, fd count and CPU time from `/proc`, wait until
//! it has nothing left to do, and see from a client socket whether the
//! server closed or reset the connection.
//!
//! `RINGLOOP_EXAMPLE_DIR` makes [`Proc::start`] take the binaries from that
//! directory instead (to measure another build of the same programs: the
//! before/after figures of a change).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::util;

/// A server process; killed on drop.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    /// Lines the server printed after its announcement.
    pub out: Receiver<String>,
}

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

/// The binary of example `name` (see the module docs).
pub fn binary(name: &str) -> PathBuf {
    match std::env::var_os("RINGLOOP_EXAMPLE_DIR") {
        Some(dir) => PathBuf::from(dir).join(name),
        None => util::example(name),
    }
}

impl Proc {
    /// Starts `name` with `args` (which must include `--addr 127.0.0.1:0`)
    /// and waits (bounded) for its announcement: the line containing
    /// `prefix`, the address following it.
    pub fn start(name: &str, args: &[&str], prefix: &str) -> Proc {
        let mut child = Command::new(binary(name))
            .args(args)
            .env_remove("RINGLOOP_BACKEND")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let out = lines(child.stdout.take().unwrap());
        let line = loop {
            match out.recv_timeout(util::LIMIT) {
                Ok(l) if l.contains(prefix) => break l,
                Ok(_) => {}
                Err(e) => {
                    let _ = child.kill();
                    panic!("{name} did not announce itself ({e})");
                }
            }
        };
        let addr = line
            .split(prefix)
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Proc { child, addr, out }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/PID/status`).
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    /// Open fds.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// CPU time used so far (user + system, all threads), in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // After the `(comm)` field: state is field 3, utime 14, stime 15.
        let rest = &s[s.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    /// Waits (bounded by [`util::LIMIT`]) until the server has stopped
    /// working: its CPU time unchanged over 5 polls 100 ms apart, and
    /// `also` true.
    pub fn settle(&self, mut also: impl FnMut() -> bool) {
        let end = Instant::now() + util::LIMIT;
        let (mut last, mut same) = (self.cpu_ticks(), 0);
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.cpu_ticks();
            same = if now == last { same + 1 } else { 0 };
            last = now;
            if same >= 5 && also() {
                return;
            }
            assert!(Instant::now() < end, "the server never settled");
        }
    }

    /// Waits (bounded) until the server has `want` fds open or fewer.
    pub fn wait_fds_at_most(&self, want: usize) {
        let end = Instant::now() + util::LIMIT;
        loop {
            let n = self.fds();
            if n <= want {
                return;
            }
            assert!(
                Instant::now() < end,
                "the server keeps {n} fds open (want {want} at most)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TCP state of a client socket (`TCP_INFO`'s `tcpi_state`).
pub fn tcp_state(s: &TcpStream) -> u8 {
    // SAFETY: tcp_info is plain data; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid out-pointers of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info.tcpi_state
}

/// Whether the server has closed (FIN: `CLOSE_WAIT`) or reset (`CLOSE`)
/// the connection, whatever is still unread in the client's queue.
pub fn peer_gone(s: &TcpStream) -> bool {
    const TCP_CLOSE: u8 = 7;
    const TCP_CLOSE_WAIT: u8 = 8;
    matches!(tcp_state(s), TCP_CLOSE | TCP_CLOSE_WAIT)
}

/// Bytes waiting in a client socket's receive queue (`FIONREAD`).
pub fn unread(s: &TcpStream) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(r, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

/// Makes the close of `s` a reset (no `TIME_WAIT` left behind, so a test
/// can open hundreds of thousands of connections from one address).
pub fn reset_on_close(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `l` is a valid linger struct of the size given.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// A served directory under the temp dir, removed on drop.
pub struct Dir(pub PathBuf);

impl Dir {
    /// Makes it with `files`: (name, size), the bytes `i % 251`.
    pub fn new(tag: &str, files: &[(&str, usize)]) -> Dir {
        let dir = std::env::temp_dir().join(format!("ringloop-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, size) in files {
            let body: Vec<u8> = (0..*size).map(|i| (i % 251) as u8).collect();
            std::fs::write(dir.join(name), body).unwrap();
        }
        Dir(dir)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
