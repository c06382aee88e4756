//! Backend choice: `Auto` falls back to epoll when io_uring setup is
//! forbidden, and says why; a forced io_uring that cannot start is an error;
//! `RINGLOOP_BACKEND` overrides `Auto` only.
//!
//! The failure is real, not simulated: a seccomp filter on one thread makes
//! `io_uring_setup` fail with EPERM, as container runtimes' default profiles
//! do. One `#[test]` runs every scenario in turn, because the scenarios set
//! the process-wide `RINGLOOP_BACKEND`.

use std::io;

use ringloop::{Backend, Builder};

const IO_URING_SETUP: u32 = 425; // same number on every Linux architecture

/// Makes `io_uring_setup` fail with EPERM on the calling thread (and the
/// threads it starts later).
fn forbid_io_uring_on_this_thread() {
    let filter = [
        // A = seccomp_data.nr
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: IO_URING_SETUP,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: plain prctls; `prog` and `filter` outlive the call, and the
    // filter applies to this thread only (no TSYNC).
    unsafe {
        assert_eq!(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            0,
            "no_new_privs"
        );
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog
            ),
            0,
            "seccomp: {}",
            io::Error::last_os_error()
        );
    }
}

fn set_env(v: Option<&str>) {
    // Single test in this binary: no other thread reads the environment.
    match v {
        Some(v) => std::env::set_var(ringloop::BACKEND_ENV, v),
        None => std::env::remove_var(ringloop::BACKEND_ENV),
    }
}

#[test]
fn backend_choice() {
    set_env(None);

    // 1. Auto on this machine, no interference.
    let rt = Builder::new().build().unwrap();
    match rt.backend() {
        Backend::IoUring => assert!(rt.fallback_reason().is_none()),
        Backend::Epoll => eprintln!(
            "note: io_uring unavailable on this machine: {:?}",
            rt.fallback_reason()
        ),
        Backend::Auto => panic!("backend() never reports Auto"),
    }
    let uring_here = rt.backend() == Backend::IoUring;
    drop(rt);

    // 2. io_uring forbidden by seccomp on a dedicated thread.
    std::thread::spawn(|| {
        forbid_io_uring_on_this_thread();
        let rt = Builder::new()
            .backend(Backend::Auto)
            .threads(2)
            .build()
            .unwrap();
        assert_eq!(rt.backend(), Backend::Epoll);
        let why = rt.fallback_reason().expect("the fallback says why");
        assert_eq!(why.raw_os_error(), Some(libc::EPERM), "{why}");
        let backends = rt.run_on_each_thread(|_| async { ringloop::current_backend().unwrap() });
        assert_eq!(
            backends,
            vec![Backend::Epoll, Backend::Epoll],
            "workers fall back too"
        );
        assert_eq!(
            rt.block_on(async { ringloop::spawn(async { 2 }).await.unwrap() }),
            2
        );
        drop(rt);

        let err = Builder::new()
            .backend(Backend::IoUring)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        assert!(
            err.to_string().contains("io_uring backend was requested"),
            "{err}"
        );

        // The environment forcing io_uring is as strict as the builder.
        set_env(Some("uring"));
        let err = Builder::new().build().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        set_env(None);
    })
    .join()
    .unwrap();

    // 3. RINGLOOP_BACKEND overrides Auto, not an explicit choice.
    set_env(Some("epoll"));
    assert_eq!(Builder::new().build().unwrap().backend(), Backend::Epoll);
    if uring_here {
        set_env(Some("uring"));
        assert_eq!(Builder::new().build().unwrap().backend(), Backend::IoUring);
        assert_eq!(
            Builder::new()
                .backend(Backend::Epoll)
                .build()
                .unwrap()
                .backend(),
            Backend::Epoll
        );
    }
    set_env(Some("bogus"));
    let err = Builder::new().build().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("RINGLOOP_BACKEND"), "{err}");
    set_env(None);

    // 4. A ring the kernel refuses is an error, not a silent fallback.
    if uring_here {
        let err = Builder::new()
            .backend(Backend::IoUring)
            .ring_entries(0)
            .build()
            .unwrap_err();
        assert_eq!(ringloop::io::os_error(&err), Some(libc::EINVAL), "{err}");
        assert!(err.to_string().contains("cannot start"), "{err}");
    }
}
