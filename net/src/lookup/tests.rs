//! The pool path with a resolver that blocks until the test lets it go,
//! on both backends (the integration tests in `tests/net_lookup.rs`
//! cover the system resolver).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ringloop_runtime::{time, Backend, Builder};

use super::to_addrs::sealed::Sealed;
use super::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs `body` on each backend `RINGLOOP_BACKEND` selects (both when
/// unset), skipping io_uring where it cannot start, as the workspace's
/// `tests/util` does (which a unit test cannot use): the skip is printed
/// and appended to `RINGLOOP_SKIP_LOG`, and is a failure under
/// `RINGLOOP_REQUIRE_URING=1`.
fn each_backend(body: impl Fn(Backend)) {
    let v = std::env::var(ringloop_runtime::BACKEND_ENV).unwrap_or_default();
    let want = v.parse::<Backend>().expect("RINGLOOP_BACKEND");
    for b in [Backend::IoUring, Backend::Epoll] {
        if want != Backend::Auto && want != b {
            continue;
        }
        if let Err(e) = Builder::new().backend(b).build() {
            assert!(
                b == Backend::IoUring
                    && std::env::var("RINGLOOP_REQUIRE_URING").as_deref() != Ok("1"),
                "{b} cannot start: {e}"
            );
            let test = thread::current().name().unwrap_or("<unnamed>").to_string();
            eprintln!("skipped: {test}::{b}: cannot start: {e}");
            if let Ok(path) = std::env::var("RINGLOOP_SKIP_LOG") {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(f, "{test}::{b}\t{b} cannot start: {e}");
                }
            }
            continue;
        }
        body(b);
    }
}

#[test]
fn literals_need_no_pool() {
    each_backend(|b| {
        let rt = Builder::new().backend(b).build().unwrap();
        rt.block_on(async {
            let never = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
                panic!("a literal reached the resolver")
            };
            let t = "[::1]:7".target();
            let r = resolve_with(t, "test", never).await.unwrap();
            assert_eq!(r.iter().collect::<Vec<_>>(), ["[::1]:7".parse().unwrap()]);
            let m = ringloop_runtime::Handle::current().metrics();
            assert_eq!(m.blocking.threads_started, 0);
        });
    });
}

/// A lookup held on the pool does not hold up a timer on its loop: the
/// timer fires while the resolver is still blocked, and only then is the
/// resolver let go. Were the resolver called on the loop thread, the
/// timer could not fire before it returned, and it returns an error
/// when no one lets it go within `LIMIT`.
#[test]
fn a_blocked_lookup_does_not_stall_a_timer() {
    each_backend(|b| {
        let rt = Builder::new().backend(b).build().unwrap();
        rt.block_on(async {
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = mpsc::channel();
            let returned = Arc::new(AtomicBool::new(false));
            let ret = returned.clone();
            let resolver = move |host: &str, port: u16| {
                assert_eq!(host, "held.example");
                started_tx.send(thread::current().id()).unwrap();
                let held = go_rx.recv_timeout(LIMIT);
                ret.store(true, Ordering::SeqCst);
                held.map_err(|_| io::Error::other("never let go"))?;
                Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
            };
            let t = ("held.example", 80).target();
            let lookup = ringloop_runtime::spawn(resolve_with(t, "test", resolver));
            // Wait (bounded) until the resolver runs and blocks.
            let t0 = Instant::now();
            let on = loop {
                if let Ok(id) = started_rx.try_recv() {
                    break id;
                }
                assert!(t0.elapsed() < LIMIT, "the resolver never started");
                ringloop_runtime::yield_now().await;
            };
            assert_ne!(on, thread::current().id(), "resolved on the loop thread");
            time::sleep(Duration::from_millis(1)).await;
            assert!(
                !returned.load(Ordering::SeqCst),
                "the timer fired only after the lookup"
            );
            go_tx.send(()).unwrap();
            let r = time::timeout(LIMIT, lookup)
                .await
                .expect("the lookup never finished")
                .unwrap()
                .unwrap();
            assert_eq!(
                r.iter().collect::<Vec<_>>(),
                [SocketAddr::from(([127, 0, 0, 1], 80))]
            );
            assert_eq!(
                r.shown(r.iter().next().unwrap()).to_string(),
                "held.example:80 (127.0.0.1:80)"
            );
        });
    });
}

#[test]
fn a_failed_lookup_names_the_host_and_keeps_the_errno() {
    each_backend(|b| {
        let rt = Builder::new().backend(b).build().unwrap();
        rt.block_on(async {
            let fails = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
                Err(io::Error::from_raw_os_error(libc::EAGAIN))
            };
            let t = ("down.example", 53).target();
            let e = resolve_with(t, "test", fails).await.err().unwrap();
            assert!(e.to_string().contains("down.example:53"), "{e}");
            assert_eq!(crate::os_error(&e), Some(libc::EAGAIN));
        });
    });
}

#[test]
fn parsing() {
    let one = |s: &str| match s.target() {
        Target::One(a) => Some(a),
        _ => None,
    };
    assert_eq!(
        one("127.0.0.1:80"),
        Some(SocketAddr::from(([127, 0, 0, 1], 80)))
    );
    assert_eq!(one("[::1]:0"), Some("[::1]:0".parse().unwrap()));
    assert_eq!(one("::1:9"), Some("[::1]:9".parse().unwrap()));
    assert!(matches!("localhost:80".target(), Target::Host(h, 80) if h == "localhost"));
    assert!(matches!("localhost".target(), Target::Invalid(m) if m.contains("host:port")));
    assert!(matches!("localhost:99999".target(), Target::Invalid(m) if m.contains("99999")));
    assert!(matches!(":80".target(), Target::Invalid(_)));
    assert!(matches!(("10.0.0.1", 5).target(), Target::One(_)));
    assert!(matches!(
        (String::from("example"), 5).target(),
        Target::Host(..)
    ));
    let two = [
        SocketAddr::from(([127, 0, 0, 1], 1)),
        "[::1]:2".parse().unwrap(),
    ];
    assert!(matches!(two[..].target(), Target::Many(v) if v.len() == 2));
    assert!(matches!((&&two[..1]).target(), Target::One(_)));
    let e = literal(&"localhost:80".target(), "tcp bind", "bind_host")
        .err()
        .unwrap();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains("localhost:80") && e.to_string().contains("bind_host"),
        "{e}"
    );
}
