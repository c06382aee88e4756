//! The built `hyper_server` example: serves curl over HTTP/1.1 and HTTP/2
//! (prior knowledge) with two loops, then exits 0 on SIGTERM, printing its
//! figures, on both backends.
mod util;

use ringloop::Backend;

/// Body of `GET /` (`examples/hyper_server/service.rs`).
const HELLO: &[u8] = b"hello, world\n";

fn have_curl() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The example binary, (re)built with this test's profile (`cargo test`
/// builds examples before it runs tests, a narrower `cargo test --test`
/// does not; an up-to-date build is a no-op).
fn example_binary(name: &str) -> std::path::PathBuf {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<this test> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let _g = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().expect("cargo build").success(), "build {name}");
    profile_dir.join("examples").join(name)
}

each_backend!(
    example_binary_serves_curl_and_stops_on_sigterm,
    |b: Backend| {
        use std::io::BufRead;
        if !have_curl() {
            util::skip("RINGLOOP_REQUIRE_CURL", "curl is not installed");
            return;
        }
        let bin = example_binary("hyper_server");
        let mut child = std::process::Command::new(bin)
            .args(["--addr", "127.0.0.1:0", "--threads", "2", "--grace", "30s"])
            .args(["--backend", &b.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start hyper_server");
        // Its stdout, line by line, on a thread (reads are bounded below).
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx.recv_timeout(util::LIMIT).expect("the announcement");
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        let curl = |extra: &[&str]| {
            let o = std::process::Command::new("curl")
                .args(["-sS", "--fail", "--max-time", "30"])
                .args(extra)
                .arg(format!("http://{addr}/"))
                .output()
                .expect("run curl");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            o.stdout
        };
        assert_eq!(curl(&[]), HELLO);
        assert_eq!(curl(&["--http2-prior-knowledge"]), HELLO);
        // SAFETY: plain syscall on our own, unreaped child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let summary = loop {
            match rx.recv_timeout(util::LIMIT) {
                Ok(l) if l.contains(" connections (") => break l,
                Ok(_) => {}
                Err(e) => {
                    let _ = child.kill();
                    panic!("no summary after SIGTERM: {e}");
                }
            }
        };
        assert!(
            summary.contains("2 connections (1 HTTP/1, 1 HTTP/2)")
                && summary.contains("0 connection errors"),
            "{summary}"
        );
        // Bounded wait for the exit: the wait runs on a thread.
        let pid = child.id() as i32;
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || drop(done_tx.send(child.wait())));
        let Ok(status) = done_rx.recv_timeout(util::LIMIT) else {
            // SAFETY: plain syscall; the child has not been reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("hyper_server did not exit after SIGTERM");
        };
        assert_eq!(status.unwrap().code(), Some(0), "exit status after SIGTERM");
    }
);
