//! File errors keep their OS error code (`ringloop::io::os_error`) and say
//! which call on which path failed, on both backends: a program can tell
//! `ENOENT` from `EACCES`, or `ENOSPC` from `EDQUOT`.
mod util;

use std::io;
use std::path::{Path, PathBuf};

use ringloop::fs::{self, File};
use ringloop::io::os_error;
use ringloop::Backend;

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringloop-errors-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The error has the errno `code` and names `path`.
fn check(e: &io::Error, code: i32, path: &Path) {
    assert_eq!(os_error(e), Some(code), "{e}");
    assert_eq!(e.kind(), io::Error::from_raw_os_error(code).kind(), "{e}");
    let shown = format!("{e}");
    assert!(
        shown.contains(&format!("{path:?}")) || shown.contains(&path.display().to_string()),
        "the message names the path: {shown}"
    );
}

each_backend!(errors_keep_errno_and_path, |b: Backend| {
    let rt = util::rt(b);
    let d = dir(&b.to_string());
    rt.block_on(async {
        let missing = d.join("missing.txt");
        let e = File::open(&missing).await.unwrap_err();
        check(&e, libc::ENOENT, &missing);

        let e = fs::read(&missing).await.unwrap_err();
        check(&e, libc::ENOENT, &missing);

        let e = fs::remove_file(&missing).await.unwrap_err();
        check(&e, libc::ENOENT, &missing);

        let e = fs::create_dir(&d).await.unwrap_err();
        check(&e, libc::EEXIST, &d);

        let ro = d.join("ro.txt");
        fs::write(&ro, b"read only").await.unwrap();
        let f = File::open(&ro).await.unwrap();
        let (r, _) = f.write_at(b"x".as_slice(), 0).await;
        check(&r.unwrap_err(), libc::EBADF, &ro);
        f.close().await.unwrap();
    });
    drop(rt);
    std::fs::remove_dir_all(&d).unwrap();
});
