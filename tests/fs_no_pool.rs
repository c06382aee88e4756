//! The point of the fs crate: on io_uring every file operation is an SQE and
//! the blocking pool never starts a thread; on epoll the same calls run on
//! the pool. `read_dir` (no io_uring opcode) is left out on purpose.
mod util;

use std::path::Path;

use ringloop::fs::{self, File, OpenOptions};
use ringloop::Backend;

/// Kernel (major, minor) from uname, to know whether FTRUNCATE (6.9) is an
/// SQE here or falls back to the pool.
fn kernel() -> (u32, u32) {
    // SAFETY: utsname is plain bytes; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (0, 0);
    }
    let rel: String = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// Every fs operation except `read_dir`.
async fn workload(dir: &Path, with_ftruncate: bool) {
    fs::create_dir_all(dir.join("sub/deeper")).await.unwrap();
    fs::create_dir(dir.join("made")).await.unwrap();
    let p = dir.join("f.bin");
    let f = File::create(&p).await.unwrap();
    let (r, _) = f.write_all_at(vec![1u8; 64 * 1024], 0).await;
    r.unwrap();
    let (r, _) = f.writev_at(vec![vec![2u8; 10], vec![3u8; 20]], 100).await;
    assert_eq!(r.unwrap(), 30);
    f.sync_data().await.unwrap();
    f.sync_all().await.unwrap();
    if with_ftruncate {
        f.set_len(128 * 1024).await.unwrap();
    }
    f.close().await.unwrap();

    let f = OpenOptions::new().read(true).open(&p).await.unwrap();
    let (r, _) = f.read_at(vec![0u8; 4096], 0).await;
    assert_eq!(r.unwrap(), 4096);
    let (r, buf) = f.read_exact_at(vec![0u8; 30], 100).await;
    r.unwrap();
    assert_eq!(&buf[..], &[[2u8; 10].as_slice(), &[3u8; 20]].concat()[..]);
    let (r, _) = f.readv_at(vec![vec![0u8; 10], vec![0u8; 10]], 0).await;
    assert_eq!(r.unwrap(), 20);
    let m = f.metadata().await.unwrap();
    assert!(m.is_file());
    drop(f); // closed by a CLOSE SQE

    fs::write(dir.join("t.txt"), "text").await.unwrap();
    assert_eq!(fs::read_to_string(dir.join("t.txt")).await.unwrap(), "text");
    assert_eq!(fs::read(dir.join("t.txt")).await.unwrap(), b"text");
    assert!(fs::metadata(dir).await.unwrap().is_dir());
    fs::rename(dir.join("t.txt"), dir.join("u.txt"))
        .await
        .unwrap();
    fs::hard_link(dir.join("u.txt"), dir.join("h.txt"))
        .await
        .unwrap();
    fs::symlink("u.txt", dir.join("s.txt")).await.unwrap();
    assert!(fs::symlink_metadata(dir.join("s.txt"))
        .await
        .unwrap()
        .is_symlink());
    assert!(File::open(dir.join("missing")).await.is_err());
    for f in ["f.bin", "u.txt", "h.txt", "s.txt"] {
        fs::remove_file(dir.join(f)).await.unwrap();
    }
    for d in ["sub/deeper", "sub", "made", ""] {
        fs::remove_dir(dir.join(d)).await.unwrap();
    }
}

each_backend!(pool_threads, |b: Backend| {
    let dir = std::env::temp_dir().join(format!("ringloop-nopool-{b}-{}", std::process::id()));
    let with_ftruncate = kernel() >= (6, 9);
    if !with_ftruncate {
        eprintln!("kernel {:?} < 6.9: set_len (FTRUNCATE) left out", kernel());
    }
    let rt = util::rt(b);
    rt.block_on(workload(&dir, with_ftruncate));
    let m = rt.metrics();
    match b {
        Backend::IoUring => {
            assert_eq!(
                m.blocking.threads_started, 0,
                "io_uring used the pool: {m:?}"
            );
            assert!(m.ops_completed > 30, "{m:?}");
        }
        _ => assert!(
            m.blocking.threads_started > 0,
            "epoll file ops ran on the pool: {m:?}"
        ),
    }
    assert!(!dir.exists());
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});
