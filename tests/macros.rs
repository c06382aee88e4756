//! `#[ringloop::test]` and `#[ringloop::main]` used as a user's crate uses
//! them, through the facade alone: one test per backend, each body on its
//! own backend; `backend`, `threads` and output types; `#[should_panic]`
//! and `#[ignore]` carried over; `main` returning the body's output, and
//! the bundled `examples/hello_main` run as a program (also its exit code
//! 1 when the runtime cannot start).
mod util;

use std::cell::RefCell;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::ThreadId;
use std::time::Duration;

use ringloop::Backend;

thread_local! {
    /// Backends the `records_its_backend` body ran on, on this thread.
    static SEEN: RefCell<Vec<Backend>> = const { RefCell::new(Vec::new()) };
}

/// The backend libtest's thread name says the running test is for, when
/// libtest runs it (`<path>::uring` or `<path>::epoll`).
fn backend_of_this_test() -> Option<Backend> {
    let t = std::thread::current();
    let name = t.name()?;
    if name.ends_with("::uring") {
        Some(Backend::IoUring)
    } else if name.ends_with("::epoll") {
        Some(Backend::Epoll)
    } else {
        None
    }
}

/// Whether the generated test for `b` runs its body in this process.
fn runs_here(b: Backend) -> bool {
    let env = std::env::var(ringloop::BACKEND_ENV).unwrap_or_default();
    let selected = match env.parse::<Backend>().expect("RINGLOOP_BACKEND") {
        Backend::Auto => true,
        one => one == b,
    };
    selected && (b != Backend::IoUring || ringloop::__private::uring_unavailable().is_none())
}

#[ringloop::test]
async fn records_its_backend() {
    let b = ringloop::current_backend().expect("the body runs on a loop");
    if let Some(expected) = backend_of_this_test() {
        assert_eq!(b, expected, "the test named for {expected} ran on {b}");
    }
    // A task of the body runs on the same loop.
    let inner = ringloop::spawn(async { ringloop::current_backend() });
    assert_eq!(inner.await.unwrap(), Some(b));
    SEEN.with(|s| s.borrow_mut().push(b));
}

#[test]
fn one_test_per_backend_each_on_its_backend() {
    // Both functions exist whatever RINGLOOP_BACKEND says.
    let tests: [(Backend, fn()); 2] = [
        (Backend::IoUring, records_its_backend::uring),
        (Backend::Epoll, records_its_backend::epoll),
    ];
    for (b, test) in tests {
        if !runs_here(b) {
            continue; // it would only log its skip again
        }
        SEEN.with(|s| s.borrow_mut().clear());
        test();
        assert_eq!(SEEN.with(|s| s.take()), vec![b]);
    }
}

#[ringloop::test(backend = "epoll")]
async fn backend_epoll_only() {
    assert_eq!(ringloop::current_backend(), Some(Backend::Epoll));
}

#[ringloop::test(backend = "IO_URING")]
async fn backend_uring_in_another_spelling() {
    assert_eq!(ringloop::current_backend(), Some(Backend::IoUring));
}

#[ringloop::test]
async fn may_return_a_result() -> std::io::Result<()> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let data = ringloop::fs::read(manifest).await?;
    assert!(data.starts_with(b"[workspace]"));
    Ok(())
}

// An `Err` output fails the test: `run_test` panics after the body (the
// skips panic too, with the expected text, so that they pass).
#[ringloop::test]
#[should_panic(expected = "reports a failure")]
async fn an_err_output_fails_the_test() -> Result<(), String> {
    Err("planted".to_string())
}

#[ringloop::test]
#[should_panic(expected = "planted panic")]
async fn should_panic_is_carried_over() {
    ringloop::time::sleep(Duration::from_millis(1)).await;
    panic!("planted panic on {:?}", ringloop::current_backend());
}

#[ringloop::test]
#[ignore = "listed by the_tests_each_option_generates"]
async fn ignored() {
    ringloop::yield_now().await;
}

/// The tests of this binary whose names start with `prefix`, as libtest
/// lists them (only the `#[ignore]`d ones with `ignored`).
fn listed(prefix: &str, ignored: bool) -> Vec<String> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("--list");
    if ignored {
        cmd.arg("--ignored");
    }
    let out = cmd.output().expect("list this binary's tests");
    assert!(out.status.success());
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .filter(|n| n.starts_with(prefix))
        .map(String::from)
        .collect();
    names.sort_unstable();
    names
}

#[test]
fn the_tests_each_option_generates() {
    // Both backends, whatever RINGLOOP_BACKEND says (the other one skips).
    assert_eq!(
        listed("records_its_backend::", false),
        ["records_its_backend::epoll", "records_its_backend::uring"]
    );
    // `backend = ...`: that one alone.
    assert_eq!(
        listed("backend_epoll_only::", false),
        ["backend_epoll_only::epoll"]
    );
    assert_eq!(
        listed("backend_uring_in_another_spelling::", false),
        ["backend_uring_in_another_spelling::uring"]
    );
    // `#[ignore]` goes on both.
    assert_eq!(
        listed("ignored::", true),
        ["ignored::epoll", "ignored::uring"]
    );
}

/// Names of this process's threads that are ringloop worker loops (the
/// kernel keeps 15 bytes of a thread's name).
fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == "ringloop-worker")
        .count()
}

#[ringloop::test(threads = 2)]
async fn threads_two_runs_the_body_on_loop_0() {
    // Only this test and `main_threads_three` make worker loops, and the
    // other one's runtime exists only while its caller holds the lock.
    let workers = {
        let _g = util::serial();
        worker_threads()
    };
    assert_eq!(workers, 1, "threads = 2: loop 0 here, one worker");
    assert!(
        backend_of_this_test().is_some(),
        "the body runs on the test's thread"
    );
    let b = ringloop::current_backend().unwrap();
    assert_eq!(ringloop::spawn(async { 3 }).await.unwrap(), 3);
    assert_eq!(ringloop::current_backend(), Some(b));
}

#[ringloop::main(backend = "epoll")]
async fn main_on_epoll() -> (Option<Backend>, ThreadId) {
    let t = ringloop::spawn(async { std::thread::current().id() });
    (ringloop::current_backend(), t.await.unwrap())
}

#[test]
fn main_runs_the_body_here_and_returns_its_output() {
    let (b, thread) = main_on_epoll();
    assert_eq!(b, Some(Backend::Epoll));
    assert_eq!(thread, std::thread::current().id());
    // A second call builds a second runtime.
    assert_eq!(main_on_epoll().0, Some(Backend::Epoll));
}

#[ringloop::main(threads = 3)]
async fn main_threads_three() -> (usize, Option<Backend>) {
    (worker_threads(), ringloop::current_backend())
}

#[test]
fn main_threads_starts_the_worker_loops() {
    let _g = util::serial();
    let (workers, b) = main_threads_three();
    // The other test's runtime may exist meanwhile (its body waits for the
    // lock), with its one worker.
    assert!(
        (2..=3).contains(&workers),
        "threads = 3: loop 0 here, two workers"
    );
    assert!(matches!(b, Some(Backend::IoUring | Backend::Epoll)));
}

#[ringloop::main]
async fn main_with_question_mark() -> Result<usize, std::num::ParseIntError> {
    let n: usize = "41".parse()?;
    if n > 100 {
        return Ok(0);
    }
    Ok(n + 1)
}

#[test]
fn main_keeps_question_mark_and_return() {
    assert_eq!(main_with_question_mark(), Ok(42));
}

/// The facade under another path, as a crate that re-exports it sees it.
mod reexported {
    pub use ringloop as rl;
}

#[ringloop::test(crate = "crate::reexported::rl", backend = "epoll")]
async fn crate_option_names_the_facade() {
    assert_eq!(ringloop::current_backend(), Some(Backend::Epoll));
}

#[ringloop::main(crate = "crate::reexported::rl", backend = "epoll")]
async fn main_through_a_reexport() -> Option<Backend> {
    ringloop::current_backend()
}

#[test]
fn main_with_the_crate_option() {
    assert_eq!(main_through_a_reexport(), Some(Backend::Epoll));
}

/// Runs `exe` with `RINGLOOP_BACKEND=backend` to its end, killing it after
/// [`util::LIMIT`].
fn run_with_backend(exe: &PathBuf, backend: &str) -> Output {
    let mut child = Command::new(exe)
        .env(ringloop::BACKEND_ENV, backend)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        // Each pipe read on its own thread: a child that fills one pipe
        // while the other is read cannot block.
        let err = std::thread::spawn(move || {
            let mut err = Vec::new();
            let _ = stderr.read_to_end(&mut err);
            err
        });
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let err = err.join().unwrap_or_default();
        let status = child.wait();
        let _ = tx.send(status.map(|status| Output {
            status,
            stdout: out,
            stderr: err,
        }));
    });
    match rx.recv_timeout(util::LIMIT) {
        Ok(out) => out.expect("wait for the example"),
        Err(e) => {
            // SAFETY: kill(2) takes plain integers and touches no memory of
            // ours. The pid is still this child's: its waiter thread has
            // not sent, so it has not reaped it (a reap between the
            // timeout and this call is the one, harmless, exception).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the example did not finish within {:?} ({e})", util::LIMIT);
        }
    }
}

#[test]
fn hello_main_runs_on_each_backend_and_exits_1_when_it_cannot_start() {
    let exe = util::example("hello_main");
    for b in [Backend::IoUring, Backend::Epoll] {
        if b == Backend::IoUring {
            if let Some(why) = ringloop::__private::uring_unavailable() {
                util::skip(
                    "RINGLOOP_REQUIRE_URING",
                    &format!("uring cannot start: {why}"),
                );
                continue;
            }
        }
        let out = run_with_backend(&exe, &b.to_string());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{b}: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("hello from ringloop on {b}: answer 42")),
            "{stdout}"
        );
    }
    let out = run_with_backend(&exe, "bogus");
    assert_eq!(out.status.code(), Some(1), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot start the ringloop runtime: RINGLOOP_BACKEND:"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown backend \"bogus\""), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
}
