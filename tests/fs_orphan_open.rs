//! An open whose future is dropped after the kernel (or the pool) already
//! opened the file must not leak the fd: the runtime hands the late result
//! to the orphaned op, whose output (an `OwnedFd`) closes it.
mod util;

use std::sync::Mutex;
use std::time::Duration;

use ringloop::fs::{self, File};
use ringloop::Backend;

/// The two backends' tests count this process's fds: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

each_backend!(dropped_opens_close_their_fd, |b: Backend| {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("ringloop-orphan-{b}-{}", std::process::id()));
    let before = util::open_fds();
    let rt = util::rt_pool(b);
    rt.block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("o.txt");
        fs::write(&p, "x").await.unwrap();
        for _ in 0..200 {
            let r = ringloop::time::timeout(Duration::ZERO, File::open(&p)).await;
            drop(r);
        }
        // Run further ops so late completions are reaped.
        for _ in 0..20 {
            File::open(&p).await.unwrap().close().await.unwrap();
        }
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
    drop(rt);
    util::assert_no_fd_leak(before, "fds leaked by dropped opens");
});
