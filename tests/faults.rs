//! Fault injection into the io_uring driver (feature `fault-injection`:
//! `cargo test --features fault-injection --test faults`; `.ci/run` runs it,
//! and once more under valgrind).
//!
//! Each fault of `ringloop::faults::Faults` is injected into a runtime that
//! then runs the same workload as an unbroken one: a TCP echo, UDP
//! datagrams, pooled receives, file writes and reads, a burst of NOPs and
//! cancelled reads. Every case asserts
//!
//! - **no lost completion**: every step finishes (each is bounded in time)
//!   with the bytes an unbroken runtime gets, on io_uring and on epoll;
//! - **the right fallback**: the backend or the path each op family takes
//!   (ring, readiness, pool) is the one the fault leaves;
//! - **no leak**: after the runtime is dropped, the process holds the fds
//!   it held before (valgrind checks the memory in CI).
//!
//! The tests take `util::serial()`: they count this process's fds.
#![cfg(feature = "fault-injection")]

mod util;

use std::io;
use std::time::Duration;

use io_uring::opcode;
use ringloop::driver::{ops::Nop, Op};
use ringloop::faults::Faults;
use ringloop::fs::{self, OpenOptions};
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{TcpListener, TcpStream, UdpSocket};
use ringloop::time::timeout;
use ringloop::{Backend, Builder, Runtime};

const STEP: Duration = Duration::from_secs(20);

/// What the workload saw; equal across runtimes that work.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    echoed: Vec<u8>,
    datagrams: usize,
    pooled: usize,
    file: Vec<u8>,
    nops: usize,
    /// Results that were `ECANCELED` and retried (only with
    /// `cancel_live_every`; not compared).
    cancelled: usize,
}

fn cancelled(e: &io::Error) -> bool {
    ringloop::sys::os_error(e) == Some(libc::ECANCELED)
}

/// Retries `f` while its result is `ECANCELED` (an op the fault cancelled
/// before the kernel did it: doing it again is correct).
macro_rules! again {
    ($count:expr, $f:expr) => {{
        let mut tries = 0;
        loop {
            match $f {
                Err(e) if cancelled(&e) && tries < 1000 => {
                    tries += 1;
                    $count += 1;
                }
                r => break r,
            }
        }
    }};
}

async fn step<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no completion within {STEP:?}"))
}

async fn workload(tag: &str) -> Outcome {
    let mut n_cancelled = 0usize;
    // TCP: accept, connect, 64 round trips of growing messages.
    let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let server = ringloop::spawn(async move {
        let mut c = 0usize;
        let (s, _) = again!(c, l.accept().await).expect("accept");
        let mut buf = Vec::with_capacity(4096);
        loop {
            let (r, b) = s.read(buf).await;
            buf = b;
            let n = match r {
                Ok(0) => return c,
                Ok(n) => n,
                Err(e) if cancelled(&e) => {
                    c += 1;
                    continue;
                }
                Err(e) => panic!("server read: {e}"),
            };
            let mut off = 0;
            while off < n {
                let (r, b) = s.write(buf[off..n].to_vec()).await;
                drop(b);
                match r {
                    Ok(k) => off += k,
                    Err(e) if cancelled(&e) => c += 1,
                    Err(e) => panic!("server write: {e}"),
                }
            }
            buf.clear();
        }
    });
    let c = step("connect", async {
        again!(n_cancelled, TcpStream::connect(addr).await)
    })
    .await
    .expect("connect");
    let mut echoed = Vec::new();
    for i in 0..64u32 {
        let msg: Vec<u8> = (0..(i * 37 % 3000 + 1)).map(|k| (k ^ i) as u8).collect();
        let mut off = 0;
        while off < msg.len() {
            let (r, _) = step("client write", c.write(msg[off..].to_vec())).await;
            match r {
                Ok(k) => off += k,
                Err(e) if cancelled(&e) => n_cancelled += 1,
                Err(e) => panic!("client write: {e}"),
            }
        }
        let mut got = 0;
        while got < msg.len() {
            let (r, b) = step("client read", c.read(Vec::with_capacity(4096))).await;
            match r {
                Ok(0) => panic!("the echo closed early"),
                Ok(k) => {
                    got += k;
                    echoed.extend_from_slice(&b[..k]);
                }
                Err(e) if cancelled(&e) => n_cancelled += 1,
                Err(e) => panic!("client read: {e}"),
            }
        }
    }
    // Pooled receives on the same connection.
    let (r, _) = step("write for pooled", c.write_all(vec![9u8; 2000])).await;
    r.unwrap();
    let mut pooled = 0;
    while pooled < 2000 {
        match step("recv_pooled", c.recv_pooled()).await {
            Ok(Some(b)) => pooled += b.len(),
            Ok(None) => panic!("EOF in pooled receive"),
            Err(e) if cancelled(&e) => n_cancelled += 1,
            Err(e) => panic!("recv_pooled: {e}"),
        }
    }
    step("shutdown", async {
        again!(
            n_cancelled,
            TcpStream::shutdown(&c, std::net::Shutdown::Write).await
        )
    })
    .await
    .unwrap();
    n_cancelled += step("server", server).await.unwrap();

    // UDP: 50 datagrams.
    let a = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
    let b = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
    let to = b.local_addr().unwrap();
    let mut datagrams = 0;
    for i in 0..50u8 {
        let r = step("send_to", async {
            again!(n_cancelled, a.send_to(vec![i; 100], to).await.0)
        })
        .await;
        assert_eq!(r.unwrap(), 100);
        let r = step("recv_from", async {
            again!(n_cancelled, b.recv_from(Vec::with_capacity(512)).await.0)
        })
        .await;
        assert_eq!(r.unwrap().0, 100);
        datagrams += 1;
    }

    // Files: create, write, sync, read back, remove.
    let p = std::env::temp_dir().join(format!(
        "ringloop-faults-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let f = step("create", async {
        again!(n_cancelled, {
            let mut o = OpenOptions::new();
            o.read(true).write(true).create(true).truncate(true);
            o.open(&p).await
        })
    })
    .await
    .unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|k| (k % 251) as u8).collect();
    let mut off = 0;
    while off < data.len() {
        let (r, _) = step("write_at", f.write_at(data[off..].to_vec(), off as u64)).await;
        match r {
            Ok(k) => off += k,
            Err(e) if cancelled(&e) => n_cancelled += 1,
            Err(e) => panic!("write_at: {e}"),
        }
    }
    step("sync_all", async {
        again!(n_cancelled, f.sync_all().await)
    })
    .await
    .unwrap();
    let len = step("metadata", async {
        again!(n_cancelled, f.metadata().await)
    })
    .await
    .unwrap()
    .len();
    assert_eq!(len, data.len() as u64);
    let mut file = Vec::new();
    while file.len() < data.len() {
        let (r, b) = step(
            "read_at",
            f.read_at(Vec::with_capacity(32_768), file.len() as u64),
        )
        .await;
        match r {
            Ok(0) => panic!("short file"),
            Ok(k) => file.extend_from_slice(&b[..k]),
            Err(e) if cancelled(&e) => n_cancelled += 1,
            Err(e) => panic!("read_at: {e}"),
        }
    }
    drop(f);
    step("remove", async {
        again!(n_cancelled, fs::remove_file(&p).await)
    })
    .await
    .unwrap();

    // 2,000 NOPs in flight at once (more than any small ring's CQ).
    let nops = step("nops", async {
        let mut tasks = Vec::new();
        for _ in 0..2000 {
            tasks.push(ringloop::spawn(async {
                let mut c = 0usize;
                again!(c, Op::new(Nop).await).map(|_| c)
            }));
        }
        let mut done = 0;
        for t in tasks {
            n_cancelled += t.await.unwrap().expect("nop");
            done += 1;
        }
        done
    })
    .await;

    // Reads dropped while waiting: their cancels must finish, and the
    // socket must close for real (its port is free again afterwards).
    let u = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
    let port = u.local_addr().unwrap();
    for _ in 0..100 {
        match timeout(Duration::from_micros(200), u.recv_from(vec![0u8; 64])).await {
            Err(_) => {} // dropped while waiting
            Ok((Err(e), _)) if cancelled(&e) => n_cancelled += 1,
            Ok((r, _)) => panic!("no datagram was sent, yet: {r:?}"),
        }
    }
    drop(u);
    step("orphans drained", async {
        while ringloop::Handle::current().metrics().ops_in_flight > 0 {
            ringloop::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    // The socket's close is a fire-and-forget CLOSE on io_uring: it reaches
    // the kernel with the loop's next turn.
    step("the dropped socket's close", async {
        while let Err(e) = std::net::UdpSocket::bind(port) {
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
            ringloop::yield_now().await;
        }
    })
    .await;

    Outcome {
        echoed,
        datagrams,
        pooled,
        file,
        nops,
        cancelled: n_cancelled,
    }
}

fn expected() -> Outcome {
    let mut echoed = Vec::new();
    for i in 0..64u32 {
        echoed.extend((0..(i * 37 % 3000 + 1)).map(|k| (k ^ i) as u8));
    }
    Outcome {
        echoed,
        datagrams: 50,
        pooled: 2000,
        file: (0..100_000u32).map(|k| (k % 251) as u8).collect(),
        nops: 2000,
        cancelled: 0,
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs the workload on a runtime built by `b`, checks its outcome and that
/// no fd is left; returns the runtime's metrics and its description.
fn run_case(name: &str, b: &mut Builder) -> (ringloop::metrics::MetricsSnapshot, Runtime) {
    let rt = b
        .build()
        .unwrap_or_else(|e| panic!("{name}: the runtime did not build: {e}"));
    let mut got = rt.block_on(workload(name));
    let want = expected();
    let c = got.cancelled;
    got.cancelled = 0;
    assert!(
        got == want,
        "{name}: the workload's results differ ({c} cancelled)"
    );
    let m = rt.metrics();
    assert_eq!(m.ops_in_flight, 0, "{name}: ops left in flight");
    leave_ops_in_flight(&rt);
    (m, rt)
}

/// Leaves receives waiting in the runtime, so that dropping it has to
/// cancel them and drain their completions through the faults.
fn leave_ops_in_flight(rt: &Runtime) {
    rt.block_on(async {
        for _ in 0..8 {
            let u = UdpSocket::bind(([127, 0, 0, 1], 0)).unwrap();
            ringloop::spawn(async move {
                let _ = u.recv_from(vec![0u8; 64]).await;
                unreachable!("no datagram is ever sent");
            });
        }
        // Let each task start its receive.
        for _ in 0..4 {
            ringloop::yield_now().await;
        }
    });
}

fn plan(f: impl FnOnce(&mut Faults)) -> Faults {
    let mut p = Faults::new();
    f(&mut p);
    p
}

/// How many ops of `code` were started and completed.
fn started_of(m: &ringloop::metrics::MetricsSnapshot, code: u8) -> (u64, u64) {
    m.ops_by_opcode
        .iter()
        .find(|o| o.code == code)
        .map(|o| (o.started, o.completed))
        .unwrap_or((0, 0))
}

fn uring_ok() -> bool {
    if let Some(why) = util::unavailable(Backend::IoUring) {
        util::skip(
            "RINGLOOP_REQUIRE_URING",
            &format!("io_uring cannot start: {why}"),
        );
        return false;
    }
    true
}

#[test]
fn the_workload_is_the_same_on_both_backends_unbroken() {
    let _g = util::serial();
    for b in util::backends() {
        if b == Backend::IoUring && !uring_ok() {
            continue;
        }
        let before = open_fds();
        let (_, rt) = run_case(&format!("{b} unbroken"), Builder::new().backend(b));
        drop(rt);
        util::assert_no_fd_leak(before, &format!("{b}: fds left after the runtime"));
    }
}

#[test]
fn setup_errors_fall_back_or_fail_with_the_errno() {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    for errno in [libc::ENOSYS, libc::EPERM, libc::ENOMEM] {
        let before = open_fds();
        let faults = plan(|p| p.setup_errno = Some(errno));
        // Auto: epoll, saying why.
        let (_, rt) = run_case(
            &format!("setup errno {errno}, Auto"),
            Builder::new().backend(Backend::Auto).faults(faults.clone()),
        );
        assert_eq!(rt.backend(), Backend::Epoll);
        let why = rt.fallback_reason().expect("a fallback reason");
        assert!(
            ringloop::sys::os_error(why) == Some(errno),
            "fallback reason {why:?} is not errno {errno}"
        );
        drop(rt);
        // io_uring asked for: an error with the errno and context.
        let e = Builder::new()
            .backend(Backend::IoUring)
            .faults(faults)
            .build()
            .expect_err("io_uring was forced to fail");
        assert_eq!(ringloop::sys::os_error(&e), Some(errno), "{e}");
        assert!(e.to_string().contains("io_uring"), "{e}");
        util::assert_no_fd_leak(before, &format!("setup errno {errno}: fds left"));
    }
    // EINVAL at every attempt: no ring at all, and not a kernel without
    // io_uring (ENOSYS would say so): an error, also for Auto.
    let e = Builder::new()
        .backend(Backend::Auto)
        .faults(plan(|p| p.setup_einval = 100))
        .build()
        .expect_err("every setup attempt failed");
    assert_eq!(ringloop::sys::os_error(&e), Some(libc::EINVAL), "{e}");
}

#[test]
fn setup_flags_are_dropped_one_by_one_on_einval() {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    let full = Builder::new().backend(Backend::IoUring).build().unwrap();
    let full_desc = full.driver_description();
    drop(full);
    if !full_desc.contains("defer_taskrun=true") {
        util::skip(
            "RINGLOOP_REQUIRE_URING",
            "this kernel has no DEFER_TASKRUN (6.1)",
        );
        return;
    }
    let want = [
        "single_issuer=true defer_taskrun=false coop_taskrun=true",
        "single_issuer=false defer_taskrun=false coop_taskrun=true",
        "single_issuer=false defer_taskrun=false coop_taskrun=false",
    ];
    for (n, want) in (1..=3).zip(want) {
        let before = open_fds();
        let (_, rt) = run_case(
            &format!("{n} setup EINVAL"),
            Builder::new()
                .backend(Backend::IoUring)
                .faults(plan(|p| p.setup_einval = n)),
        );
        let d = rt.driver_description();
        assert!(d.contains(want), "after {n} EINVAL: {d}");
        drop(rt);
        util::assert_no_fd_leak(before, &format!("{n} setup EINVAL: fds left"));
    }
}

#[test]
fn missing_opcodes_take_the_fallback_path() {
    missing_families(&[("net", NET), ("close", &[opcode::Close::CODE])]);
    // The driver's own opcodes missing: no io_uring; Auto says why.
    let _g = util::serial();
    for code in [
        opcode::Nop::CODE,
        opcode::Read::CODE,
        opcode::PollAdd::CODE,
        opcode::AsyncCancel::CODE,
    ] {
        let faults = plan(|p| p.missing_opcodes = vec![code]);
        let rt = Builder::new()
            .backend(Backend::Auto)
            .faults(faults)
            .build()
            .unwrap();
        assert_eq!(rt.backend(), Backend::Epoll, "opcode {code} missing");
        let why = rt.fallback_reason().expect("a fallback reason").to_string();
        assert!(why.contains("lacks opcode"), "{why}");
    }
    // No provided-buffer ring: pooled receives on the readiness path.
    let before = open_fds();
    let (_, rt) = run_case(
        "no buffer ring",
        Builder::new()
            .backend(Backend::IoUring)
            .faults(plan(|p| p.no_buf_ring = true)),
    );
    drop(rt);
    util::assert_no_fd_leak(before, "no buffer ring: fds left");
}

/// File ops without their opcodes go to the blocking pool (not run under
/// valgrind, which cannot let a pool thread wake a loop waiting in
/// `io_uring_enter`; see `.ci/run`).
#[test]
fn missing_file_opcodes_take_the_pool_path() {
    missing_families(&[(
        "fs",
        &[
            opcode::OpenAt::CODE,
            opcode::Write::CODE,
            opcode::Fsync::CODE,
            opcode::Statx::CODE,
            opcode::UnlinkAt::CODE,
        ],
    )]);
}

const NET: &[u8] = &[
    opcode::Accept::CODE,
    opcode::Connect::CODE,
    opcode::Recv::CODE,
    opcode::Send::CODE,
    opcode::RecvMsg::CODE,
    opcode::SendMsg::CODE,
    opcode::Shutdown::CODE,
];

/// Runs the workload with each family's opcodes hidden from the probe:
/// `(family, opcodes)`.
fn missing_families(families: &[(&str, &[u8])]) {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    for &(family, codes) in families {
        let before = open_fds();
        let faults = plan(|p| p.missing_opcodes = codes.to_vec());
        let (m, rt) = run_case(
            &format!("no {family} opcodes"),
            Builder::new().backend(Backend::IoUring).faults(faults),
        );
        assert_eq!(rt.backend(), Backend::IoUring);
        // Closes are fire-and-forget (close(2) without CLOSE), not ops: the
        // workload's rebind of a dropped socket's port shows them done.
        if family != "close" {
            assert!(
                m.ops_fallback > 0,
                "no {family} opcodes: nothing took a fallback path"
            );
        }
        for &code in codes.iter().filter(|&&c| c != opcode::Close::CODE) {
            // Every hidden opcode was used (and, the workload's results
            // being right, served by the fallback).
            let (started, _) = started_of(&m, code);
            assert!(
                started > 0,
                "no {family} opcodes: opcode {code} was not used"
            );
        }
        drop(rt);
        util::assert_no_fd_leak(before, &format!("no {family} opcodes: fds left"));
    }
}

#[test]
fn failing_enters_lose_nothing() {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    for (errno, every) in [
        (libc::EBUSY, 2),
        (libc::EBUSY, 7),
        (libc::EAGAIN, 3),
        (libc::EINTR, 2),
    ] {
        let before = open_fds();
        let name = format!("enter errno {errno} every {every}");
        let faults = plan(|p| p.enter_error = Some((errno, every)));
        let (m, rt) = run_case(
            &name,
            Builder::new().backend(Backend::IoUring).faults(faults),
        );
        assert!(m.wait_syscalls > 0, "{name}");
        drop(rt);
        util::assert_no_fd_leak(before, &format!("{name}: fds left"));
    }
}

#[test]
fn a_tiny_ring_overflowing_its_cq_loses_nothing() {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    for (entries, no_reap) in [(4, false), (4, true), (16, true)] {
        let before = open_fds();
        let name = format!("ring of {entries}, reap on a full SQ: {}", !no_reap);
        let faults = plan(|p| p.no_reap_on_full_sq = no_reap);
        let (m, rt) = run_case(
            &name,
            Builder::new()
                .backend(Backend::IoUring)
                .ring_entries(entries)
                .faults(faults),
        );
        assert_eq!(m.ops_submitted, m.ops_completed, "{name}");
        drop(rt);
        util::assert_no_fd_leak(before, &format!("{name}: fds left"));
    }
}

#[test]
fn cancels_that_miss_are_sent_again_until_they_land() {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    // 3 misses stay within the immediate retries; 7 go into the back-off.
    for (errno, times) in [(libc::ENOENT, 3), (libc::EALREADY, 7)] {
        let before = open_fds();
        let name = format!("cancel misses with errno {errno} x{times}");
        let faults = plan(|p| p.cancel_miss = Some((errno, times)));
        let (m, rt) = run_case(
            &name,
            Builder::new().backend(Backend::IoUring).faults(faults),
        );
        // 100 dropped reads, each cancelled `times` times in vain first.
        assert!(
            m.cancel_retries >= 100 * times as u64,
            "{name}: {} cancel retries",
            m.cancel_retries
        );
        drop(rt);
        util::assert_no_fd_leak(before, &format!("{name}: fds left"));
    }
}

#[test]
fn cancels_racing_live_ops_give_ecanceled_or_the_result() {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    let mut total = 0;
    for every in [2, 3, 5] {
        let before = open_fds();
        let name = format!("a cancel races every {every}th op");
        let rt = Builder::new()
            .backend(Backend::IoUring)
            .faults(plan(|p| p.cancel_live_every = Some(every)))
            .build()
            .unwrap();
        let mut got = rt.block_on(workload(&name));
        total += got.cancelled;
        got.cancelled = 0;
        assert!(got == expected(), "{name}: the workload's results differ");
        assert_eq!(rt.metrics().ops_in_flight, 0, "{name}");
        drop(rt);
        util::assert_no_fd_leak(before, &format!("{name}: fds left"));
    }
    // The races were real: some ops were cancelled before the kernel did
    // them (others completed first; both are fine).
    assert!(total > 0, "no op was ever cancelled");
}

#[test]
fn scoped_cancels_that_miss_are_sent_again_until_they_land() {
    use ringloop::io::{is_cancelled, CancelToken};
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    for (errno, times) in [(libc::ENOENT, 3), (libc::EALREADY, 7)] {
        let before = open_fds();
        let name = format!("scoped cancel misses with errno {errno} x{times}");
        let rt = Builder::new()
            .backend(Backend::IoUring)
            .faults(plan(|p| p.cancel_miss = Some((errno, times))))
            .build()
            .unwrap();
        rt.block_on(async {
            let (_a, z) = ringloop::net::UnixStream::pair().unwrap();
            for _ in 0..10 {
                let token = CancelToken::new();
                let t = token.clone();
                ringloop::spawn(async move {
                    ringloop::yield_now().await;
                    t.cancel();
                });
                let (r, buf) = timeout(STEP, token.run(z.read(vec![0u8; 8])))
                    .await
                    .unwrap_or_else(|_| panic!("{name}: the cancel never landed"));
                assert!(is_cancelled(&r.unwrap_err()), "{name}");
                assert_eq!(buf.len(), 8, "{name}");
            }
            // Each cancelled read got its final CQE (the sockets' closes
            // come after this).
            let m = ringloop::Handle::current().metrics();
            assert_eq!(m.ops_in_flight, 0, "{name}");
        });
        let m = rt.metrics();
        assert!(
            m.cancel_retries >= 10 * times as u64,
            "{name}: {} cancel retries",
            m.cancel_retries
        );
        drop(rt);
        util::assert_no_fd_leak(before, &format!("{name}: fds left"));
    }
}

/// io_uring without `IORING_OP_SPLICE` (hidden from the probe): the
/// zero-copy calls of `ringloop::io` take epoll's paths on the ring and
/// move the same bytes: `copy_file_to_socket` is `sendfile(2)` (no SPLICE
/// op at all), a regular file's `splice` goes to the blocking pool.
#[test]
fn missing_splice_takes_sendfile_and_the_pool() {
    let _g = util::serial();
    if !uring_ok() {
        return;
    }
    let dir = std::env::temp_dir();
    let path = dir.join(format!("ringloop-faults-splice-{}", std::process::id()));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    for hidden in [false, true] {
        let codes = if hidden {
            vec![opcode::Splice::CODE]
        } else {
            vec![]
        };
        let rt = Builder::new()
            .backend(Backend::IoUring)
            .faults(plan(|p| p.missing_opcodes = codes))
            .build()
            .unwrap();
        let (got, spliced, jobs) = rt
            .block_on(timeout(STEP, async {
                let file = fs::File::open(&path).await.unwrap();
                let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
                let addr = l.local_addr().unwrap();
                let accept = ringloop::spawn(async move { l.accept().await.unwrap().0 });
                let tx = TcpStream::connect(addr).await.unwrap();
                let rx = accept.await.unwrap();
                let reader = ringloop::spawn(async move { rx.read_to_end(Vec::new()).await });
                let jobs = || {
                    ringloop::Handle::current()
                        .metrics()
                        .blocking
                        .jobs_completed
                };
                let n = ringloop::io::copy_file_to_socket(&file, 10, u64::MAX, &tx)
                    .await
                    .unwrap();
                assert_eq!(n, data.len() as u64 - 10);
                drop(tx);
                let (r, got) = reader.await.unwrap();
                r.unwrap();
                // A regular file's splice: the SQE, or the pool without it.
                let pipe = ringloop::io::Pipe::new().unwrap();
                let jobs_before = jobs();
                assert_eq!(
                    ringloop::io::splice(&file, pipe.writer(), 100)
                        .await
                        .unwrap(),
                    100
                );
                let m = ringloop::Handle::current().metrics();
                (
                    got,
                    started_of(&m, opcode::Splice::CODE).0,
                    jobs() - jobs_before,
                )
            }))
            .unwrap();
        assert!(got == data[10..], "hidden {hidden}: bytes differ");
        if hidden {
            assert_eq!((spliced, jobs), (1, 1), "the pool's splice only");
        } else {
            assert!(
                spliced > 2 && jobs == 0,
                "{spliced} SPLICE ops, {jobs} jobs"
            );
        }
    }
    let _ = std::fs::remove_file(&path);
}
