//! Accept with a full fd table: `EMFILE` comes back as an error, the
//! listener keeps working once fds are freed, and nothing spins or panics.
//!
//! This binary lowers `RLIMIT_NOFILE` for its own process only; its two
//! tests (one per backend) take turns through a mutex because the fd table
//! is shared by the whole process.
mod net_util;
mod util;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Mutex;

use futures_core::Stream;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::{os_error, TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// The next item of the stream.
async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

static FD_TABLE: Mutex<()> = Mutex::new(());

fn rlimit() -> libc::rlimit {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid out-pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    r
}

fn set_soft_limit(n: u64) {
    let mut r = rlimit();
    r.rlim_cur = n;
    // SAFETY: `r` is a valid rlimit (soft <= hard).
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) }, 0);
}

/// Puts the fd limits back when dropped, also when the test fails first.
struct RestoreLimits(libc::rlimit);

impl Drop for RestoreLimits {
    fn drop(&mut self) {
        // SAFETY: restores limits read earlier with getrlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.0) };
    }
}

/// Dups `fd` until the table is full; the dups free the table when dropped.
fn fill_fd_table(fd: i32) -> Vec<OwnedFd> {
    let mut held = Vec::new();
    loop {
        // SAFETY: plain syscall; the new fd is owned by `held`.
        let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if d < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
            return held;
        }
        // SAFETY: `d` is a new fd owned by nobody else.
        held.push(unsafe { OwnedFd::from_raw_fd(d) });
        assert!(held.len() < 100_000, "fd table never filled");
    }
}

each_backend!(accept_under_emfile_recovers, |b: Backend| {
    let _turn = FD_TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let saved = RestoreLimits(rlimit());
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        set_soft_limit(256);
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = l.local_addr().unwrap();
        // Two connections wait in the backlog (the kernel completed them).
        let c1 = TcpStream::connect(addr).await.unwrap();
        let c2 = TcpStream::connect(addr).await.unwrap();
        let held = fill_fd_table(l.as_raw_fd());
        // accept() fails with EMFILE, repeatedly, without panicking.
        for _ in 0..3 {
            let e = l.accept().await.unwrap_err();
            assert_eq!(os_error(&e), Some(libc::EMFILE), "{e}");
            assert!(e.to_string().contains("accept"), "context: {e}");
        }
        // So does the incoming stream, which stays alive after the error.
        let mut inc = l.incoming();
        let e = next(&mut inc).await.unwrap().unwrap_err();
        assert_eq!(os_error(&e), Some(libc::EMFILE), "{e}");
        // Free the table: both connections are accepted and work.
        drop(held);
        let (s1, _) = l.accept().await.unwrap();
        let s2 = next(&mut inc).await.unwrap().unwrap();
        for (s, c) in [(&s1, &c1), (&s2, &c2)] {
            s.write_all(b"ok".as_slice()).await.0.unwrap();
            let (r, got) = c.read_exact(vec![0u8; 2]).await;
            r.unwrap();
            assert_eq!(got, b"ok");
        }
    }))
    .expect("timed out");
    drop(saved);
    drop(rt);
});
