//! The zero-copy calls of `ringloop::io` on both backends: `splice`
//! (pipes, sockets, a regular file), `copy_file_to_socket` and
//! `FileToSocket` (sizes around the pipe's capacity, offsets, a range past
//! the end of the file), `zero_copy` between two TCP sockets, errors that
//! keep their errno, and dropped in-flight copies that leak no fd.
mod net_util;
mod util;

use std::path::PathBuf;
use std::rc::Rc;

use net_util::{block, poll_then_drop, until_nothing_in_flight};
use ringloop::fs::File;
use ringloop::io::{self, os_error, AsyncRead, AsyncWrite, FileToSocket, Pipe};
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// A connected loopback TCP pair.
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(LOCAL).unwrap();
    let addr = l.local_addr().unwrap();
    let accept = ringloop::spawn(async move { l.accept().await.unwrap().0 });
    let c = TcpStream::connect(addr).await.unwrap();
    (c, accept.await.unwrap())
}

/// A temp file holding `bytes`; removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, bytes: &[u8]) -> TempFile {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("ringloop-splice-{tag}-{}-{n}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How many SPLICE ops this loop started (on any path).
fn splices_started(m: &ringloop::MetricsSnapshot) -> u64 {
    m.ops_by_opcode
        .iter()
        .filter(|c| c.name == "SPLICE")
        .map(|c| c.started)
        .sum()
}

/// Sends `offset..offset + len` of a file holding `data` over TCP with
/// `copy_file_to_socket`; returns what it reported and what arrived.
async fn send_file(data: &[u8], offset: u64, len: u64) -> (u64, Vec<u8>) {
    send_file_counting(data, offset, len).await.0
}

/// [`send_file`], and the pool jobs the copy itself ran.
async fn send_file_counting(data: &[u8], offset: u64, len: u64) -> ((u64, Vec<u8>), u64) {
    let tmp = TempFile::new("send", data);
    let file = File::open(&tmp.0).await.unwrap();
    let (tx, rx) = tcp_pair().await;
    let reader = ringloop::spawn(async move { rx.read_to_end(Vec::new()).await });
    let jobs = || {
        ringloop::Handle::current()
            .metrics()
            .blocking
            .jobs_completed
    };
    let jobs_before = jobs();
    let n = io::copy_file_to_socket(&file, offset, len, &tx)
        .await
        .unwrap();
    let jobs = jobs() - jobs_before;
    tx.shutdown(std::net::Shutdown::Write).await.unwrap();
    let (r, got) = reader.await.unwrap();
    r.unwrap();
    ((n, got), jobs)
}

each_backend!(file_to_socket_sizes, |b: Backend| {
    // One at a time: `dropped_copies_leak_no_fd` counts the process's fds.
    let _g = util::serial();
    util::rt(b).block_on(async {
        timeout(LIMIT, async {
            for size in [0, 1, 64 * 1024 + 1, 3 * 1024 * 1024 + 7] {
                let data = block(size as u64, 1, size);
                let ((n, got), jobs) = send_file_counting(&data, 0, size as u64).await;
                // No pool job on either backend.
                assert_eq!(jobs, 0, "size {size}");
                assert_eq!(n, size as u64, "size {size}");
                assert!(got == data, "size {size}: bytes differ");
            }
            // The documented paths: SPLICE SQEs on io_uring, sendfile on
            // epoll (no SPLICE at all).
            let m = ringloop::Handle::current().metrics();
            let splices = splices_started(&m);
            match b {
                Backend::IoUring => assert!(splices >= 6, "{splices} SPLICE ops"),
                _ => assert_eq!(splices, 0),
            }
        })
        .await
        .unwrap();
    });
});

each_backend!(file_to_socket_offsets_and_eof, |b: Backend| {
    // One at a time: `dropped_copies_leak_no_fd` counts the process's fds.
    let _g = util::serial();
    util::rt(b).block_on(async {
        timeout(LIMIT, async {
            let data = block(7, 2, 300_000);
            // A range inside the file.
            let (n, got) = send_file(&data, 1000, 100_001).await;
            assert_eq!((n, &got[..]), (100_001, &data[1000..101_001]));
            // A range past the end: only what the file has (EOF before len).
            let (n, got) = send_file(&data, 299_990, 1 << 20).await;
            assert_eq!((n, &got[..]), (10, &data[299_990..]));
            // Up to the end with u64::MAX; and an offset past the end.
            let (n, got) = send_file(&data, 5, u64::MAX).await;
            assert_eq!((n, got.len()), (299_995, 299_995));
            assert!(got == data[5..]);
            let (n, got) = send_file(&data, 400_000, 10).await;
            assert_eq!((n, got.len()), (0, 0));
        })
        .await
        .unwrap();
    });
});

each_backend!(file_to_socket_steps_reuse_a_pipe, |b: Backend| {
    // One at a time: `dropped_copies_leak_no_fd` counts the process's fds.
    let _g = util::serial();
    util::rt(b).block_on(async {
        timeout(LIMIT, async {
            let data = block(9, 3, 1_000_000);
            let tmp = TempFile::new("steps", &data);
            let file = File::open(&tmp.0).await.unwrap();
            let (tx, rx) = tcp_pair().await;
            let reader = ringloop::spawn(async move { rx.read_to_end(Vec::new()).await });
            let mut pipe = Some(Pipe::new().unwrap());
            let mut total = 0;
            for (off, len) in [(0u64, 400_000u64), (400_000, 700_000)] {
                let mut copy = FileToSocket::new(&file, off, len, &tx);
                if let Some(p) = pipe.take() {
                    copy = copy.with_pipe(p);
                }
                let mut steps = 0u64;
                loop {
                    let n = copy.step().await.unwrap();
                    if n == 0 {
                        break;
                    }
                    steps += n as u64;
                }
                assert_eq!(steps, copy.sent());
                total += copy.sent();
                assert_eq!(copy.file_ended(), off + len > data.len() as u64);
                // A copy that ended cleanly hands its pipe back.
                pipe = copy.into_pipe();
                assert!(pipe.is_some());
            }
            assert_eq!(total, 1_000_000);
            drop(tx);
            let (r, got) = reader.await.unwrap();
            r.unwrap();
            assert!(got == data);
        })
        .await
        .unwrap();
    });
});

each_backend!(zero_copy_between_sockets, |b: Backend| {
    // One at a time: `dropped_copies_leak_no_fd` counts the process's fds.
    let _g = util::serial();
    util::rt(b).block_on(async {
        timeout(LIMIT, async {
            let data = block(11, 4, 5 * 1024 * 1024 + 3);
            let (client, proxy_in) = tcp_pair().await;
            let (proxy_out, server) = tcp_pair().await;
            let sent = data.clone();
            let writer = ringloop::spawn(async move {
                let (r, _) = client.write_all(sent).await;
                r.unwrap();
                // `client` dropped: end of stream for the proxy.
            });
            let reader = ringloop::spawn(async move { server.read_to_end(Vec::new()).await });
            let n = io::zero_copy(&proxy_in, &proxy_out).await.unwrap();
            assert_eq!(n, data.len() as u64);
            proxy_out.shutdown(std::net::Shutdown::Write).await.unwrap();
            writer.await.unwrap();
            let (r, got) = reader.await.unwrap();
            r.unwrap();
            assert!(got == data, "bytes differ");
            // A stream that ends at once copies nothing.
            let (a, b) = tcp_pair().await;
            let (c, _d) = tcp_pair().await;
            drop(a);
            assert_eq!(io::zero_copy(&b, &c).await.unwrap(), 0);
        })
        .await
        .unwrap();
    });
});

each_backend!(splice_waits_for_its_ends, |b: Backend| {
    // One at a time: `dropped_copies_leak_no_fd` counts the process's fds.
    let _g = util::serial();
    util::rt(b).block_on(async {
        timeout(LIMIT, async {
            // socket -> pipe before any byte arrived: waits for the socket.
            let (a, s) = UnixStream::pair().unwrap();
            let pipe = Pipe::new().unwrap();
            let writer = ringloop::spawn(async move {
                for _ in 0..3 {
                    ringloop::yield_now().await;
                }
                a.write_all(b"late bytes".to_vec()).await.0.unwrap();
                a
            });
            assert_eq!(io::splice(&s, pipe.writer(), 4096).await.unwrap(), 10);
            let _a = writer.await.unwrap();
            // pipe -> pipe, then pipe -> socket.
            let p2 = Pipe::new().unwrap();
            assert_eq!(io::splice(pipe.reader(), p2.writer(), 4).await.unwrap(), 4);
            let (c, d) = UnixStream::pair().unwrap();
            assert_eq!(io::splice(p2.reader(), &c, 100).await.unwrap(), 4);
            assert_eq!(io::splice(pipe.reader(), &c, 100).await.unwrap(), 6);
            let (r, got) = d.read(Vec::with_capacity(32)).await;
            assert_eq!((r.unwrap(), &got[..]), (10, &b"late bytes"[..]));
            // A full pipe -> a socket whose buffer is full: waits for the
            // socket until the reader drains it.
            let (e, f) = UnixStream::pair().unwrap();
            let big = Pipe::new().unwrap();
            let fill = ringloop::spawn(async move {
                let n = f.read_to_end(Vec::new()).await.0.unwrap();
                (n, f)
            });
            let mut moved = 0;
            let chunk = vec![5u8; 32 * 1024];
            for _ in 0..40 {
                use std::os::fd::AsRawFd;
                // SAFETY: writes from a live buffer into a non-blocking
                // pipe this test owns (a full pipe takes less).
                let w = unsafe {
                    libc::write(big.writer().as_raw_fd(), chunk.as_ptr().cast(), chunk.len())
                };
                assert!(w > 0);
                moved += io::splice(big.reader(), &e, 1 << 20).await.unwrap();
            }
            drop(e);
            let (n, _f) = fill.await.unwrap();
            assert_eq!(n, moved);
        })
        .await
        .unwrap();
    });
});

each_backend!(splice_from_a_regular_file_advances_it, |b: Backend| {
    // One at a time: `dropped_copies_leak_no_fd` counts the process's fds.
    let _g = util::serial();
    util::rt(b).block_on(async {
        timeout(LIMIT, async {
            let tmp = TempFile::new("pos", b"0123456789");
            let file = File::open(&tmp.0).await.unwrap();
            let pipe = Pipe::new().unwrap();
            let jobs = || {
                ringloop::Handle::current()
                    .metrics()
                    .blocking
                    .jobs_completed
            };
            let jobs_before = jobs();
            assert_eq!(io::splice(&file, pipe.writer(), 4).await.unwrap(), 4);
            assert_eq!(io::splice(&file, pipe.writer(), 100).await.unwrap(), 6);
            assert_eq!(io::splice(&file, pipe.writer(), 100).await.unwrap(), 0);
            let (c, d) = UnixStream::pair().unwrap();
            assert_eq!(io::splice(pipe.reader(), &c, 100).await.unwrap(), 10);
            let (r, got) = d.read(Vec::with_capacity(32)).await;
            assert_eq!((r.unwrap(), &got[..]), (10, &b"0123456789"[..]));
            // A regular file's splice runs on the pool on epoll, in the
            // kernel on io_uring.
            let jobs = jobs() - jobs_before;
            match b {
                Backend::IoUring => assert_eq!(jobs, 0),
                _ => assert!(jobs >= 3, "{jobs} pool jobs"),
            }
        })
        .await
        .unwrap();
    });
});

each_backend!(errors_keep_the_errno, |b: Backend| {
    // One at a time: `dropped_copies_leak_no_fd` counts the process's fds.
    let _g = util::serial();
    util::rt(b).block_on(async {
        timeout(LIMIT, async {
            // Neither end a pipe: EINVAL, named.
            let x = TempFile::new("einval-a", b"abc");
            let y = TempFile::new("einval-b", b"");
            let fx = File::open(&x.0).await.unwrap();
            let fy = ringloop::fs::OpenOptions::new()
                .write(true)
                .open(&y.0)
                .await
                .unwrap();
            let e = io::splice(&fx, &fy, 3).await.unwrap_err();
            assert_eq!(os_error(&e), Some(libc::EINVAL), "{e}");
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains("splice(fd"), "{e}");
            // A file opened write-only cannot be read: EBADF.
            let (tx, _rx) = tcp_pair().await;
            let e = io::copy_file_to_socket(&fy, 0, 10, &tx).await.unwrap_err();
            assert_eq!(os_error(&e), Some(libc::EBADF), "{e}");
            assert!(
                e.to_string().contains("splice file") || e.to_string().contains("sendfile"),
                "{e}"
            );
            // The peer is gone: EPIPE (or ECONNRESET) from the socket side.
            let data = TempFile::new("epipe", &block(1, 1, 4 << 20));
            let file = File::open(&data.0).await.unwrap();
            let (tx, rx) = tcp_pair().await;
            drop(rx);
            let e = io::copy_file_to_socket(&file, 0, u64::MAX, &tx)
                .await
                .unwrap_err();
            let code = os_error(&e);
            assert!(
                code == Some(libc::EPIPE) || code == Some(libc::ECONNRESET),
                "{e}"
            );
        })
        .await
        .unwrap();
    });
});

each_backend!(dropped_copies_leak_no_fd, |b: Backend| {
    let _g = util::serial();
    let before = util::open_fds();
    {
        let rt = util::rt(b);
        rt.block_on(async {
            timeout(LIMIT, async {
                let data = TempFile::new("drop", &block(3, 3, 32 << 20));
                let file = Rc::new(File::open(&data.0).await.unwrap());
                for polls in 0..12 {
                    // Nobody reads `rx`: the copy fills the socket and waits,
                    // or is dropped with a splice in the kernel.
                    let (tx, rx) = tcp_pair().await;
                    let copy = io::copy_file_to_socket(&*file, 0, u64::MAX, &tx);
                    assert!(!poll_then_drop(copy, polls).await, "a 32 MiB copy finished");
                    drop(tx);
                    // The receiver still gets a prefix of the file, no
                    // other bytes, then the end of stream.
                    let (r, got) = rx.read_to_end(Vec::new()).await;
                    r.unwrap();
                    let want = std::fs::read(&data.0).unwrap();
                    assert!(want.starts_with(&got), "polls {polls}: not a prefix");
                    // Same for a zero-copy proxy that is waiting for input.
                    let (a, bb) = tcp_pair().await;
                    let (c, d) = tcp_pair().await;
                    a.write_all(vec![1u8; 100_000]).await.0.unwrap();
                    let proxy = io::zero_copy(&bb, &c);
                    assert!(!poll_then_drop(proxy, polls).await);
                    drop((a, bb, c));
                    let (r, got) = d.read_to_end(Vec::new()).await;
                    r.unwrap();
                    assert!(got.iter().all(|&x| x == 1) && got.len() <= 100_000);
                }
                until_nothing_in_flight(LIMIT).await;
            })
            .await
            .unwrap();
        });
    }
    util::assert_no_fd_leak(before, "dropped splices");
});
