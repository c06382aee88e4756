//! Bytes an io_uring read put into a fresh (uninitialised) buffer are
//! defined to valgrind's memcheck when the `valgrind` feature is on: this
//! test branches on every byte read, which memcheck reports as a use of
//! uninitialised memory unless the runtime told it what the kernel wrote.
//! Natively it is a plain read test; `.ci/run` runs it under valgrind with
//! `--features valgrind` on both backends.
mod util;

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::UnixStream;
use ringloop::Backend;

each_backend!(kernel_written_bytes_are_defined, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(async {
        let (a, c) = UnixStream::pair().unwrap();
        let data: Vec<u8> = (0..200u8).collect();
        c.write_all(data.clone()).await.0.unwrap();
        let mut got = Vec::new();
        while got.len() < data.len() {
            // A fresh buffer each time: its bytes are undefined until read.
            let (r, buf) = a.read(Vec::with_capacity(64)).await;
            r.unwrap();
            // Branch on each byte: a use memcheck checks.
            for &byte in &buf {
                if byte as usize >= data.len() {
                    panic!("byte {byte} was never written");
                }
            }
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, data);
    });
});
