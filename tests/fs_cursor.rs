//! A File as a stream: reads and writes at the kernel's cursor, seek,
//! append, vectored at the cursor, the io helpers over files, a std file's
//! position kept by from_std, and fallocate. Both backends.
mod util;

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use ringloop::fs::{File, OpenOptions};
use ringloop::io::{self, AsyncRead, AsyncWrite, BufReader};
use ringloop::Backend;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str, b: Backend) -> TempDir {
        let p = std::env::temp_dir().join(format!("ringloop-{tag}-{}-{b}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

each_backend!(cursor_reads_writes_and_seeks, |b: Backend| {
    let dir = TempDir::new("cursor", b);
    let path = dir.0.join("f");
    let rt = util::rt(b);
    rt.block_on(async {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        assert_eq!(f.write(b"hello ".to_vec()).await.0.unwrap(), 6);
        let (r, _) = AsyncWrite::write_all(&f, &b"world"[..]).await;
        r.unwrap();
        assert_eq!(f.stream_position().await.unwrap(), 11);
        // Positional calls neither use nor move the cursor.
        let (r, head) = f.read_at(vec![0u8; 5], 0).await;
        assert_eq!((r.unwrap(), &head[..]), (5, &b"hello"[..]));
        assert_eq!(f.stream_position().await.unwrap(), 11);
        // At the end: 0.
        assert_eq!(f.read(Vec::with_capacity(4)).await.0.unwrap(), 0);
        assert_eq!(f.seek(SeekFrom::End(-5)).await.unwrap(), 6);
        let (r, w) = f.read(Vec::with_capacity(16)).await;
        assert_eq!((r.unwrap(), &w[..]), (5, &b"world"[..]));
        assert_eq!(f.seek(SeekFrom::Current(-11)).await.unwrap(), 0);
        let (r, all) = f.read_to_end(Vec::new()).await;
        assert_eq!((r.unwrap(), &all[..]), (11, &b"hello world"[..]));
        // Vectored at the cursor.
        f.rewind().await.unwrap();
        let (r, bufs) = f.readv(vec![vec![0u8; 6], vec![0u8; 5]]).await;
        assert_eq!(r.unwrap(), 11);
        assert_eq!(bufs.concat(), b"hello world");
        f.seek(SeekFrom::Start(6)).await.unwrap();
        let (r, _) = f.writev(vec![&b"WOR"[..], &b"LD!"[..]]).await;
        assert_eq!(r.unwrap(), 6);
        assert_eq!(f.stream_position().await.unwrap(), 12);
        // Bad seeks are errors with the path in them.
        let e = f.seek(SeekFrom::Current(-100)).await.unwrap_err();
        assert_eq!(io::os_error(&e), Some(libc::EINVAL));
        assert!(e.to_string().contains("seek("), "{e}");
        f.close().await.unwrap();
    });
    // On io_uring the cursor calls are SQEs (offset -1), not pool jobs.
    if b == Backend::IoUring {
        assert_eq!(rt.metrics().blocking.threads_started, 0);
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"hello WORLD!");
});

each_backend!(append_mode_writes_at_the_end, |b: Backend| {
    let dir = TempDir::new("append", b);
    let path = dir.0.join("log");
    std::fs::write(&path, b"first\n").unwrap();
    util::rt(b).block_on(async {
        let f = OpenOptions::new().append(true).open(&path).await.unwrap();
        for line in ["second\n", "third\n"] {
            let (r, _) = f.write_all(line).await;
            r.unwrap();
        }
        f.close().await.unwrap();
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"first\nsecond\nthird\n");
});

each_backend!(helpers_over_files_and_from_std_position, |b: Backend| {
    let dir = TempDir::new("fcopy", b);
    let (src, dst) = (dir.0.join("src"), dir.0.join("dst"));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    // A std file already past its first 1000 bytes keeps that position.
    let mut std_file = std::fs::File::open(&src).unwrap();
    std_file.seek(SeekFrom::Start(1000)).unwrap();
    util::rt(b).block_on(async {
        let from = File::from_std(std_file);
        let to = File::create(&dst).await.unwrap();
        assert_eq!(io::copy(&from, &to).await.unwrap(), 299_000);
        to.close().await.unwrap();

        let lines = dir.0.join("lines");
        let mut w = std::fs::File::create(&lines).unwrap();
        for i in 0..1000 {
            writeln!(w, "{i}").unwrap();
        }
        drop(w);
        let r = BufReader::new(File::open(&lines).await.unwrap());
        let mut n = 0;
        let mut line = String::new();
        loop {
            line.clear();
            let (res, back) = r.read_line(line).await;
            line = back;
            if res.unwrap() == 0 {
                break;
            }
            assert_eq!(line.trim_end().parse::<usize>().unwrap(), n);
            n += 1;
        }
        assert_eq!(n, 1000);
    });
    assert!(std::fs::read(&dst).unwrap() == data[1000..]);
});

each_backend!(fallocate_reserves_and_extends, |b: Backend| {
    let dir = TempDir::new("falloc", b);
    let path = dir.0.join("f");
    let rt = util::rt(b);
    rt.block_on(async {
        let f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        match f.fallocate(0, 1 << 20, 0).await {
            Ok(()) => {}
            Err(e) if io::os_error(&e) == Some(libc::EOPNOTSUPP) => {
                util::skip(
                    "RINGLOOP_REQUIRE_FALLOCATE",
                    &format!("no fallocate here: {e}"),
                );
                return;
            }
            Err(e) => panic!("{e}"),
        }
        let m = f.metadata().await.unwrap();
        assert_eq!(m.len(), 1 << 20);
        // KEEP_SIZE reserves past the end without changing the length.
        f.fallocate(1 << 20, 1 << 20, libc::FALLOC_FL_KEEP_SIZE)
            .await
            .unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 1 << 20);
        // A bad mode is the kernel's error, with context.
        let e = f.fallocate(0, 0, 0).await.unwrap_err();
        assert_eq!(io::os_error(&e), Some(libc::EINVAL));
        assert!(e.to_string().contains("fallocate"), "{e}");
        f.close().await.unwrap();
    });
    if b == Backend::IoUring {
        assert_eq!(rt.metrics().blocking.threads_started, 0);
    }
});
