//! The fs API on both backends: open/create/options, positioned and
//! vectored I/O, sync, metadata, set_len, close, path operations, read_dir,
//! and the errors a user sees.
mod util;

use std::io::ErrorKind;
use std::path::PathBuf;

use ringloop::fs::{self, File, OpenOptions};
use ringloop::Backend;

fn tmpdir(tag: &str, b: Backend) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::env::temp_dir().join(format!("ringloop-{tag}-{b}-{}-{nanos}", std::process::id()))
}

each_backend!(file_read_write_close, |b: Backend| {
    let dir = tmpdir("basic", b);
    util::rt(b).block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("a.bin");
        let f = File::create(&p).await.unwrap();
        let (r, _) = f.write_at(b"hello world".to_vec(), 0).await;
        assert_eq!(r.unwrap(), 11);
        let (r, _) = f.write_all_at(&b"HELLO"[..], 0).await;
        r.unwrap();
        f.sync_all().await.unwrap();
        f.sync_data().await.unwrap();
        // Write-only: reading fails with EBADF, naming the path.
        let (r, _) = f.read_at(vec![0u8; 4], 0).await;
        let e = r.unwrap_err();
        assert!(e.to_string().contains("read_at("), "{e}");
        assert!(e.to_string().contains("a.bin"), "{e}");
        f.close().await.unwrap();

        let f = File::open(&p).await.unwrap();
        let (r, buf) = f.read_at(Vec::with_capacity(64), 0).await;
        assert_eq!(r.unwrap(), 11);
        assert_eq!(buf, b"HELLO world");
        // A read past the end returns 0.
        let (r, buf) = f.read_at(vec![7u8; 8], 100).await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(buf, [7u8; 8]);
        let (r, buf) = f.read_exact_at(vec![0u8; 5], 6).await;
        r.unwrap();
        assert_eq!(buf, b"world");
        let (r, _) = f.read_exact_at(vec![0u8; 5], 8).await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::UnexpectedEof);
        let m = f.metadata().await.unwrap();
        assert_eq!(m.len(), 11);
        assert!(m.is_file() && !m.is_dir() && !m.is_symlink());
        assert!(m.modified().is_ok() && m.accessed().is_ok());
        drop(f); // closes without blocking

        // Vectored.
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .await
            .unwrap();
        let (r, _) = f
            .writev_at(vec![b"ab".to_vec(), b"cde".to_vec(), Vec::new()], 2)
            .await;
        assert_eq!(r.unwrap(), 5);
        let (r, bufs) = f
            .readv_at(vec![Vec::with_capacity(3), vec![0u8; 4], vec![0u8; 100]], 0)
            .await;
        assert_eq!(r.unwrap(), 11);
        assert_eq!(bufs[0], b"HEa");
        assert_eq!(bufs[1], b"bcde");
        assert_eq!(&bufs[2][..4], b"orld");
        f.set_len(4).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 4);
        f.set_len(1 << 20).await.unwrap();
        assert_eq!(fs::metadata(&p).await.unwrap().len(), 1 << 20);
        f.close().await.unwrap();
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
});

each_backend!(open_options_semantics, |b: Backend| {
    let dir = tmpdir("opts", b);
    util::rt(b).block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("o.txt");
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(&p)
            .await
            .unwrap();
        f.close().await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let m = fs::metadata(&p).await.unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o640 & !umask());
        let e = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        // Append: positioned writes still go to the end on Linux.
        fs::write(&p, "abc").await.unwrap();
        let f = OpenOptions::new().append(true).open(&p).await.unwrap();
        let (r, _) = f.write_at(&b"def"[..], 0).await;
        assert_eq!(r.unwrap(), 3);
        f.close().await.unwrap();
        assert_eq!(fs::read_to_string(&p).await.unwrap(), "abcdef");
        // Truncate.
        let f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&p)
            .await
            .unwrap();
        f.close().await.unwrap();
        assert!(fs::read(&p).await.unwrap().is_empty());
        // Invalid combinations are InvalidInput, not a panic.
        let e = OpenOptions::new().open(&p).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = OpenOptions::new()
            .read(true)
            .create(true)
            .open(&p)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
});

fn umask() -> u32 {
    // SAFETY: umask is always safe; set it back at once.
    let m = unsafe { libc::umask(0o022) };
    // SAFETY: as above.
    unsafe { libc::umask(m) };
    m as u32
}

each_backend!(errors_name_path_and_kind, |b: Backend| {
    util::rt(b).block_on(async {
        let e = File::open("/nope/x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "open(\"/nope/x\"): No such file or directory (os error 2)"
        );
        let e = fs::metadata("/nope/y").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().starts_with("metadata(\"/nope/y\")"), "{e}");
        let e = fs::remove_file("/nope/z").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("/nope/z"), "{e}");
        let e = fs::rename("/nope/a", "/nope/b").await.unwrap_err();
        assert!(e.to_string().contains("/nope/a") && e.to_string().contains("/nope/b"));
        let e = fs::read_dir("/nope/d").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        // A NUL byte is InvalidInput, never a panic.
        let e = File::open("bad\0path").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = fs::create_dir("bad\0dir").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    });
});

each_backend!(path_operations, |b: Backend| {
    let dir = tmpdir("paths", b);
    util::rt(b).block_on(async {
        let deep = dir.join("x/y/z");
        fs::create_dir_all(&deep).await.unwrap();
        fs::create_dir_all(&deep).await.unwrap(); // already there: Ok
        assert!(fs::metadata(&deep).await.unwrap().is_dir());
        let e = fs::create_dir(&deep).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);

        let a = dir.join("a.txt");
        fs::write(&a, "alpha").await.unwrap();
        assert!(fs::create_dir_all(&a).await.is_err(), "a file is not a dir");
        let b2 = dir.join("b.txt");
        fs::rename(&a, &b2).await.unwrap();
        assert_eq!(
            fs::metadata(&a).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let h = dir.join("hard.txt");
        fs::hard_link(&b2, &h).await.unwrap();
        assert_eq!(fs::metadata(&b2).await.unwrap().nlink(), 2);
        let s = dir.join("sym.txt");
        fs::symlink("b.txt", &s).await.unwrap();
        assert!(fs::symlink_metadata(&s).await.unwrap().is_symlink());
        assert!(fs::metadata(&s).await.unwrap().is_file());
        assert_eq!(fs::read_to_string(&s).await.unwrap(), "alpha");

        fs::write(dir.join("bad.txt"), [0xffu8, 0xfe])
            .await
            .unwrap();
        let e = fs::read_to_string(dir.join("bad.txt")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);

        let mut names: Vec<_> = fs::read_dir(&dir)
            .await
            .unwrap()
            .map(|e| {
                let t = e.file_type();
                (
                    e.file_name().into_string().unwrap(),
                    t.is_dir(),
                    t.is_symlink(),
                )
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("b.txt".into(), false, false),
                ("bad.txt".into(), false, false),
                ("hard.txt".into(), false, false),
                ("sym.txt".into(), false, true),
                ("x".into(), true, false),
            ]
        );
        let e = fs::remove_dir(dir.join("x")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DirectoryNotEmpty);
        for f in ["b.txt", "bad.txt", "hard.txt", "sym.txt"] {
            fs::remove_file(dir.join(f)).await.unwrap();
        }
        for d in ["x/y/z", "x/y", "x", ""] {
            fs::remove_dir(dir.join(d)).await.unwrap();
        }
    });
});

each_backend!(big_file_read_helper, |b: Backend| {
    let dir = tmpdir("readall", b);
    util::rt(b).block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("r.bin");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&p, &data).await.unwrap();
        assert_eq!(fs::read(&p).await.unwrap(), data);
        let empty = dir.join("empty");
        fs::write(&empty, b"").await.unwrap();
        assert!(fs::read(&empty).await.unwrap().is_empty());
        fs::remove_file(&p).await.unwrap();
        fs::remove_file(&empty).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
});
