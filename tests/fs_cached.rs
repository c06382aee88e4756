//! Cached file work without the pool (issue #17 item 8): an operation
//! headed for the blocking pool (every file operation on epoll) first tries
//! the form the kernel finishes from its caches without blocking —
//! `preadv2(RWF_NOWAIT)`, `openat2(RESOLVE_CACHED)`, `statx` of an open
//! file — and goes to the pool only when the kernel says it would block.
//! On io_uring the same calls are SQEs and never reach that path. Both
//! backends; the same bytes with the option on and off.
mod util;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use ringloop::fs::{File, OpenOptions};
use ringloop::io::AsyncRead;
use ringloop::{Backend, Builder};

fn temp_file(tag: &str, b: Backend, len: usize) -> (PathBuf, Vec<u8>) {
    let p = std::env::temp_dir().join(format!("ringloop-cached-{tag}-{b}-{}", std::process::id()));
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&p, &data).unwrap();
    (p, data)
}

/// Opens, reads at offsets, at the cursor and vectored, and stats `p`;
/// returns every byte read.
async fn reads(p: &Path) -> Vec<u8> {
    let f = File::open(p).await.unwrap();
    let mut got = Vec::new();
    for i in 0..16u64 {
        let (r, buf) = f.read_at(Vec::with_capacity(4096), i * 4096).await;
        assert_eq!(r.unwrap(), 4096);
        got.extend_from_slice(&buf);
    }
    let (r, bufs) = f
        .readv_at(vec![Vec::with_capacity(100), Vec::with_capacity(28)], 0)
        .await;
    assert_eq!(r.unwrap(), 128);
    bufs.iter().for_each(|b| got.extend_from_slice(b));
    let (r, buf) = f.read(Vec::with_capacity(1000)).await;
    assert_eq!(r.unwrap(), 1000);
    got.extend_from_slice(&buf);
    assert_eq!(f.metadata().await.unwrap().len(), 64 * 1024);
    got
}

fn expected(data: &[u8]) -> Vec<u8> {
    [&data[..64 * 1024], &data[..128], &data[..1000]].concat()
}

each_backend!(cached_reads_opens_and_stats_skip_the_pool, |b: Backend| {
    let (p, data) = temp_file("on", b, 64 * 1024);
    let rt = util::rt(b);
    assert_eq!(rt.block_on(reads(&p)), expected(&data));
    let m = rt.metrics();
    match b {
        // Every one an SQE: the pool path is never reached.
        Backend::IoUring => assert_eq!((m.ops_cached_inline, m.blocking.jobs_completed), (0, 0)),
        // 1 open + 16 reads + 1 readv + 1 read + 1 statx, all inline.
        _ => {
            assert_eq!(m.ops_cached_inline, 20, "{m:?}");
            assert_eq!(m.blocking.jobs_completed, 0, "{m:?}");
        }
    }
    std::fs::remove_file(&p).unwrap();
});

each_backend!(with_the_option_off_they_go_to_the_pool, |b: Backend| {
    let (p, data) = temp_file("off", b, 64 * 1024);
    let rt = Builder::new()
        .backend(b)
        .cached_file_ops_first(false)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(reads(&p)), expected(&data));
    let m = rt.metrics();
    assert_eq!(m.ops_cached_inline, 0, "{m:?}");
    if b == Backend::Epoll {
        assert_eq!(m.blocking.jobs_completed, 20, "{m:?}");
    }
    std::fs::remove_file(&p).unwrap();
});

each_backend!(
    uncached_pages_and_creating_opens_go_to_the_pool,
    |b: Backend| {
        let (p, data) = temp_file("cold", b, 64 * 1024);
        // Written back and dropped from the page cache: a read must wait for
        // the disk, so its cached form says EAGAIN.
        drop_cache(&p);
        let rt = util::rt(b);
        let got = rt.block_on(async {
            let f = File::open(&p).await.unwrap();
            let (r, buf) = f.read_at(Vec::with_capacity(4096), 8192).await;
            assert_eq!(r.unwrap(), 4096);
            // An open that creates has no cached form.
            let q = p.with_extension("new");
            let g = OpenOptions::new()
                .write(true)
                .create(true)
                .open(&q)
                .await
                .unwrap();
            drop(g);
            std::fs::remove_file(&q).unwrap();
            buf
        });
        assert_eq!(got, &data[8192..8192 + 4096]);
        let m = rt.metrics();
        if b == Backend::Epoll {
            // The open was inline; the cold read and the creating open were
            // not.
            assert_eq!(m.ops_cached_inline, 1, "{m:?}");
            assert_eq!(m.blocking.jobs_completed, 2, "{m:?}");
        } else {
            assert_eq!(m.ops_cached_inline, 0, "{m:?}");
        }
        std::fs::remove_file(&p).unwrap();
    }
);

/// Pages of `p` in the page cache (`cachestat(2)`, 6.5); `None` when the
/// kernel cannot tell.
fn cached_pages(p: &Path) -> Option<u64> {
    let f = std::fs::File::open(p).unwrap();
    let range = [0u64, 0]; // offset 0, length 0: to the end
    let mut st = [0u64; 5];
    // SAFETY: `range` and `st` have the layout of `struct cachestat_range`
    // and `struct cachestat`, valid for the call.
    let r = unsafe { libc::syscall(451, f.as_raw_fd(), range.as_ptr(), st.as_mut_ptr(), 0) };
    (r == 0).then_some(st[0])
}

/// Drops `p`'s pages from the page cache (written back first), checking
/// with `cachestat` that they are gone (a page still under writeback is
/// not dropped: tried again, a bounded number of times).
fn drop_cache(p: &Path) {
    for _ in 0..100 {
        let f = std::fs::File::open(p).unwrap();
        f.sync_all().unwrap();
        // SAFETY: a valid fd; fadvise takes no pointer.
        let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(r, 0);
        if cached_pages(p).is_none_or(|n| n == 0) {
            return;
        }
    }
    panic!("{p:?} stays in the page cache: {:?} pages", cached_pages(p));
}

/// Drops `len` bytes of `p` from `off` from the page cache, checking that
/// some of the file stays and less than all of it does.
fn drop_range(p: &Path, off: i64, len: i64) {
    let before = cached_pages(p);
    for _ in 0..100 {
        let f = std::fs::File::open(p).unwrap();
        f.sync_all().unwrap();
        // SAFETY: a valid fd; fadvise takes no pointer.
        let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), off, len, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(r, 0);
        if cached_pages(p) < before && cached_pages(p).is_some_and(|n| n > 0) {
            return;
        }
    }
    panic!("{p:?}: {before:?} -> {:?} pages cached", cached_pages(p));
}

each_backend!(sendfile_waits_for_the_disk_on_the_pool, |b: Backend| {
    let (p, data) = temp_file("send", b, 128 * 1024);
    let rt = util::rt(b);
    drop_cache(&p);
    let (got, jobs_cold, jobs_warm) = rt.block_on(async {
        let file = File::open(&p).await.unwrap();
        let (a, z) = ringloop::net::UnixStream::pair().unwrap();
        let reader = ringloop::spawn(async move { z.read_to_end(Vec::new()).await });
        let jobs = || {
            ringloop::Handle::current()
                .metrics()
                .blocking
                .jobs_completed
        };
        // Cold (dropped from the cache before any read): the first half
        // goes out from the pool on epoll.
        let j0 = jobs();
        let n = ringloop::io::copy_file_to_socket(&file, 0, 128 * 1024, &a).await;
        assert_eq!(n.unwrap(), 128 * 1024);
        let j1 = jobs();
        // Cached (read just now): sent from the loop thread.
        let n = ringloop::io::copy_file_to_socket(&file, 0, 128 * 1024, &a).await;
        assert_eq!(n.unwrap(), 128 * 1024);
        let j2 = jobs();
        drop(a);
        let (r, got) = reader.await.unwrap();
        r.unwrap();
        (got, j1 - j0, j2 - j1)
    });
    assert_eq!(
        got,
        [&data[..128 * 1024], &data[..128 * 1024]].concat(),
        "bytes differ"
    );
    if b == Backend::Epoll {
        assert_eq!(jobs_warm, 0, "a cached range went to the pool");
        assert!(jobs_cold >= 1, "a cold range was sent from the loop thread");
    } else {
        // SPLICE SQEs: the kernel's workers read the file.
        assert_eq!((jobs_warm, jobs_cold), (0, 0));
    }
    std::fs::remove_file(&p).unwrap();
});

each_backend!(partly_cached_ranges_read_in_full, |b: Backend| {
    let (p, data) = temp_file("part", b, 1 << 20);
    // All of it cached, then the second half dropped.
    drop_cache(&p);
    assert_eq!(std::fs::read(&p).unwrap(), data);
    drop_range(&p, 512 << 10, 512 << 10);
    let rt = util::rt(b);
    let (whole, tail, v) = rt.block_on(async {
        let f = File::open(&p).await.unwrap();
        // A read over both: a short cached read, then the pool for the
        // rest. It returns what pread would: all of it.
        let (r, whole) = f.read_at(Vec::with_capacity(1 << 20), 0).await;
        assert_eq!(r.unwrap(), 1 << 20);
        // At the end of the file: short, and no pool job for it.
        let jobs = ringloop::Handle::current()
            .metrics()
            .blocking
            .jobs_completed;
        let (r, tail) = f.read_at(Vec::with_capacity(8192), (1 << 20) - 100).await;
        assert_eq!(r.unwrap(), 100);
        let after = ringloop::Handle::current()
            .metrics()
            .blocking
            .jobs_completed;
        assert_eq!(after, jobs, "a cached read at the end went to the pool");
        drop_range(&p, 4096, 1 << 20);
        let (r, v) = f
            .readv_at(
                vec![Vec::with_capacity(4096), Vec::with_capacity(1 << 16)],
                0,
            )
            .await;
        assert_eq!(r.unwrap(), 4096 + (1 << 16));
        (whole, tail, v.concat())
    });
    assert_eq!(whole, data);
    assert_eq!(tail, &data[data.len() - 100..]);
    assert_eq!(v, &data[..4096 + (1 << 16)]);
    std::fs::remove_file(&p).unwrap();
});
