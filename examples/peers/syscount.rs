//! Counting a server's syscalls over the measured interval only, from
//! outside: `perf stat` on the `raw_syscalls:sys_enter` tracepoint (counted
//! in the kernel, the server runs at its own speed; perf's control fifos
//! enable and disable the count exactly at the interval's ends), or
//! `strace -c -f` attached for the interval (every syscall by name, but
//! ptrace slows the server several times over, and a slower server finds
//! data waiting more often: its counts are lower than at full speed for a
//! readiness loop).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How syscalls are counted (`--syscalls`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Counter {
    Perf,
    Strace,
}

impl Counter {
    pub fn name(self) -> &'static str {
        match self {
            Counter::Perf => "perf",
            Counter::Strace => "strace",
        }
    }
}

/// A counter attached to a server and counting.
pub struct Attached {
    kind: Counter,
    tool: Child,
    out: PathBuf,
    /// perf's control and ack fifos (their paths, and our ends).
    control: Option<(PathBuf, File, PathBuf, File)>,
}

fn tmp(pid: u32, what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("peers-{pid}-{what}"))
}

/// A fifo at `path`, opened read-write (which never blocks on Linux, and
/// keeps it open whichever end the tool opens first).
fn fifo(path: &Path) -> io::Result<File> {
    let _ = std::fs::remove_file(path);
    let c =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: `c` is a valid NUL-terminated path for the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
}

/// Waits (at most 10 s) until `f` has something to read, then reads a line.
fn read_ack(f: &mut File) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd: f.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd for the call.
    let n = unsafe { libc::poll(&mut p, 1, 10_000) };
    if n != 1 {
        return Err(io::Error::other("perf did not acknowledge"));
    }
    let mut b = [0u8; 16];
    let _ = f.read(&mut b)?;
    Ok(())
}

/// Attaches `kind` to process `pid`; returns once it counts.
pub fn attach(kind: Counter, pid: u32) -> io::Result<Attached> {
    let out = tmp(pid, kind.name());
    let pid_s = pid.to_string();
    match kind {
        Counter::Perf => {
            let (ctl_p, ack_p) = (tmp(pid, "ctl"), tmp(pid, "ack"));
            let (mut ctl, mut ack) = (fifo(&ctl_p)?, fifo(&ack_p)?);
            let control = format!("fifo:{},{}", ctl_p.display(), ack_p.display());
            let tool = Command::new("perf")
                .args([
                    "stat",
                    "-e",
                    "raw_syscalls:sys_enter",
                    "-x",
                    ",",
                    "-D",
                    "-1",
                ])
                .args(["--control", &control, "-o"])
                .arg(&out)
                .args(["-p", &pid_s])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("perf: {e}")))?;
            ctl.write_all(b"enable\n")?;
            read_ack(&mut ack)?;
            Ok(Attached {
                kind,
                tool,
                out,
                control: Some((ctl_p, ctl, ack_p, ack)),
            })
        }
        Counter::Strace => {
            let mut tool = Command::new("strace")
                .args(["-c", "-f", "-U", "calls,name", "-o"])
                .arg(&out)
                .args(["-p", &pid_s])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("strace: {e}")))?;
            let mut err = BufReader::new(tool.stderr.take().expect("piped stderr"));
            let mut line = String::new();
            // "strace: Process N attached with M threads" once all are.
            while !line.contains("attached") {
                line.clear();
                if err.read_line(&mut line)? == 0 {
                    let _ = tool.wait();
                    return Err(io::Error::other("strace could not attach"));
                }
            }
            std::thread::spawn(move || io::copy(&mut err, &mut io::sink()));
            Ok(Attached {
                kind,
                tool,
                out,
                control: None,
            })
        }
    }
}

impl Attached {
    /// Stops counting (perf: once it acknowledges; strace: it detaches on
    /// SIGINT); [`collect`](Self::collect) then reads the count. Anything
    /// the server does after this call is not counted.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some((_, ctl, _, ack)) = self.control.as_mut() {
            ctl.write_all(b"disable\n")?;
            read_ack(ack)?;
        }
        // SAFETY: kill(2) takes plain integers; the tool is our child, not
        // yet reaped. SIGINT makes it detach and write its summary.
        unsafe { libc::kill(self.tool.id() as libc::pid_t, libc::SIGINT) };
        Ok(())
    }

    /// Waits for the stopped tool to exit; the syscalls it counted.
    pub fn collect(mut self) -> io::Result<u64> {
        self.tool.wait()?;
        if let Some((c, _, a, _)) = self.control.take() {
            let _ = std::fs::remove_file(c);
            let _ = std::fs::remove_file(a);
        }
        let text = std::fs::read_to_string(&self.out)?;
        let _ = std::fs::remove_file(&self.out);
        let total = match self.kind {
            // `6523,,raw_syscalls:sys_enter,...`
            Counter::Perf => text
                .lines()
                .find(|l| l.contains("raw_syscalls:sys_enter"))
                .and_then(|l| l.split(',').next()?.trim().parse::<u64>().ok()),
            // `     4121 total`
            Counter::Strace => text.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                let calls = f.next()?.parse::<u64>().ok()?;
                (f.next()? == "total").then_some(calls)
            }),
        };
        total.ok_or_else(|| {
            io::Error::other(format!("no count in {}'s output: {text}", self.kind.name()))
        })
    }
}
