//! Shared test helpers.
//!
//! [`each_backend!`] turns one body into one `#[test]` per backend. When
//! `RINGLOOP_BACKEND` selects one backend (parsed by the runtime's own
//! parser, in the package's build script), only that backend's tests are
//! generated: a run never reports a test it did not run as passed.
//!
//! A test that cannot run here calls [`skip`]: it says why on stderr and in
//! the file `RINGLOOP_SKIP_LOG` names (which `.ci/run` counts), and fails
//! instead when the environment requires the feature
//! (`RINGLOOP_REQUIRE_URING=1`, `RINGLOOP_REQUIRE_DIRECT=1`, ...).
#![allow(dead_code)]

pub mod ops;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ringloop::{Backend, Builder, Runtime};

/// Backends to run on in this process: both, or the one `RINGLOOP_BACKEND`
/// names (an unknown value is an error).
pub fn backends() -> Vec<Backend> {
    let v = std::env::var("RINGLOOP_BACKEND").unwrap_or_default();
    match v.parse::<Backend>() {
        Ok(Backend::Auto) => vec![Backend::IoUring, Backend::Epoll],
        Ok(b) => vec![b],
        Err(e) => panic!("RINGLOOP_BACKEND: {e}"),
    }
}

/// Whether this process should run `b` (see [`backends`]).
pub fn wants(b: Backend) -> bool {
    backends().contains(&b)
}

/// Records that the calling test cannot run here, and why; panics instead
/// when `require` names an environment variable set to `1` (CI requires the
/// features its machine has).
pub fn skip(require: &str, reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_string();
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{test}: {reason}, and {require}=1 requires it");
    }
    eprintln!("skipped: {test}: {reason}");
    if let Ok(path) = std::env::var("RINGLOOP_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{test}\t{reason}");
        }
    }
}

/// Why `b` cannot start on this machine, if it cannot (io_uring disabled by
/// `kernel.io_uring_disabled`, a seccomp profile, an old kernel).
pub fn unavailable(b: Backend) -> Option<String> {
    static URING: OnceLock<Option<String>> = OnceLock::new();
    match b {
        Backend::IoUring => URING
            .get_or_init(|| {
                // On a thread of its own: a ring's teardown may still post
                // task work to the thread that made it, which interrupts
                // that thread's blocking socket reads with EINTR.
                std::thread::spawn(|| {
                    Builder::new()
                        .backend(Backend::IoUring)
                        .build()
                        .err()
                        .map(|e| e.to_string())
                })
                .join()
                .expect("the io_uring probe thread")
            })
            .clone(),
        _ => None,
    }
}

/// Runs `body` on `b` unless `b` cannot start here ([`skip`] then says so;
/// `RINGLOOP_REQUIRE_URING=1` makes it a failure).
pub fn run_on(b: Backend, body: impl FnOnce(Backend)) {
    // Probe io_uring first whatever `b` is: the probe opens and closes a
    // ring, and no test body may count fds while another thread does that
    // (the first caller probes, the others wait for it).
    let uring = unavailable(Backend::IoUring);
    let why = if b == Backend::IoUring { uring } else { None };
    match why {
        Some(why) => skip(
            "RINGLOOP_REQUIRE_URING",
            &format!("{b} cannot start: {why}"),
        ),
        None => body(b),
    }
}

/// A single-loop runtime on `b`.
pub fn rt(b: Backend) -> Runtime {
    Builder::new()
        .backend(b)
        .build()
        .unwrap_or_else(|e| panic!("cannot build a {b} runtime: {e}"))
}

/// A single-loop runtime on `b` whose file operations on the pool path do
/// not try their cached form first (`Builder::cached_file_ops_first(false)`),
/// for tests of what happens to pool jobs (on epoll every file op is one).
pub fn rt_pool(b: Backend) -> Runtime {
    Builder::new()
        .backend(b)
        .cached_file_ops_first(false)
        .build()
        .unwrap_or_else(|e| panic!("cannot build a {b} runtime: {e}"))
}

/// Serialises the tests of one test binary that take it: for those that
/// count this process's fds or otherwise need the process to themselves.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Number of fds this process has open (the count is process-wide: tests
/// that compare it run one at a time, see [`serial`]).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Asserts that this process holds no more fds than `before`: a leak adds
/// one. Fewer is no leak of the test's own: an fd of the process that was
/// open at the first count (the test harness's, an earlier test's closing
/// late) may have gone since.
pub fn assert_no_fd_leak(before: usize, what: &str) {
    let now = open_fds();
    assert!(now <= before, "{what}: {now} fds open, {before} before");
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft
/// limit.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid out-pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    if r.rlim_cur < r.rlim_max {
        r.rlim_cur = r.rlim_max;
        // SAFETY: `r` is a valid rlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
    }
    r.rlim_cur
}

/// The example binary `name`, (re)built with this test's profile: `cargo
/// test` builds the examples before it runs tests, but a narrower `cargo
/// test --test` does not, and a stale binary would test old code. Cargo
/// has released its lock by the time tests run; an up-to-date build is a
/// no-op. One build at a time in this process.
pub fn example(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<this test> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let _g = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("cargo build of the example");
    assert!(st.success(), "cannot build example {name}");
    profile_dir.join("examples").join(name)
}

/// Upper bound for any wait in a test; generous for valgrind and busy CI.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Defines `mod name { #[test] fn uring(); #[test] fn epoll(); }`, each
/// running `body(backend)` through [`run_on`]; with `RINGLOOP_BACKEND` set
/// to one backend, the other's test is not generated.
#[macro_export]
macro_rules! each_backend {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[cfg(not(ringloop_test_backend = "epoll"))]
            #[test]
            fn uring() {
                $crate::util::run_on(ringloop::Backend::IoUring, $body);
            }
            #[cfg(not(ringloop_test_backend = "uring"))]
            #[test]
            fn epoll() {
                $crate::util::run_on(ringloop::Backend::Epoll, $body);
            }
        }
    };
}
