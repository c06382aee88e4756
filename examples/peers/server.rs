//! The parent's handle on one server child: start it (this binary again,
//! with the hidden `--serve`), ask it for its CPU time and syscall count,
//! stop it.

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::peer::Peer;

pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The first line it printed: `port N` or `tasks A B`.
    pub hello: String,
}

impl Server {
    /// Starts `peer` doing `job` (`echo` or `tasks`) and reads its first line.
    pub fn start(peer: Peer, job: &str, tasks: usize) -> io::Result<Server> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve", peer.name(), "--job", job])
            .args(["--tasks", &tasks.max(1).to_string()])
            .env_remove(ringloop::BACKEND_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut s = Server {
            child,
            stdin,
            stdout,
            hello: String::new(),
        };
        s.hello = s
            .line()
            .map_err(|e| io::Error::new(e.kind(), format!("{peer} {job}: {e}")))?;
        Ok(s)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port of an echo server.
    pub fn port(&self) -> io::Result<u16> {
        self.hello
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| io::Error::other(format!("expected a port, got {:?}", self.hello)))
    }

    fn line(&mut self) -> io::Result<String> {
        let mut l = String::new();
        if self.stdout.read_line(&mut l)? == 0 {
            return Err(io::Error::other("the server exited"));
        }
        Ok(l.trim().to_string())
    }

    fn ask(&mut self, what: &str) -> io::Result<String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("stopped"))?;
        writeln!(stdin, "{what}")?;
        stdin.flush()?;
        let l = self.line()?;
        l.strip_prefix(what)
            .map(|v| v.trim().to_string())
            .ok_or_else(|| io::Error::other(format!("asked {what}, got {l:?}")))
    }

    /// Its CPU time (user + system, all threads) so far, in µs.
    pub fn cpu_us(&mut self) -> io::Result<u64> {
        self.ask("cpu")?.parse().map_err(io::Error::other)
    }

    /// Its runtime's own syscall count so far (ringloop's metrics), if it
    /// keeps one.
    pub fn syscalls(&mut self) -> io::Result<Option<u64>> {
        Ok(self.ask("sys")?.parse().ok())
    }

    /// Closes its stdin (it exits), killing it if it has not within 5 s.
    pub fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
