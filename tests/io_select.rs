//! The documented answer for select!/join!: the futures crate's macros on
//! ringloop futures (I/O, timers, tasks), and what a losing I/O branch
//! means (cancelled; the stream stays usable). Also the names ported code
//! looks for: time::Instant, task::spawn_local. Both backends.
mod util;

use std::time::Duration;

use futures::FutureExt;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::UnixStream;
use ringloop::time::{self, Instant};
use ringloop::Backend;
use util::LIMIT;

each_backend!(join_runs_io_and_timers_together, |b: Backend| {
    util::rt(b).block_on(async {
        let (a, z) = UnixStream::pair().unwrap();
        // A read and a write on one task, at once: join! polls both.
        let (w, (r, buf)) = futures::join!(
            async {
                time::sleep(Duration::from_millis(1)).await;
                a.write_all(&b"ping"[..]).await.0
            },
            z.read_exact(vec![0u8; 4]),
        );
        w.unwrap();
        r.unwrap();
        assert_eq!(buf, b"ping");
        let both: Result<(u8, u8), std::io::Error> = futures::try_join!(
            async { Ok(1) },
            ringloop::task::spawn_local(async { 2 }).map(|r| r.map_err(std::io::Error::from)),
        );
        assert_eq!(both.unwrap(), (1, 2));
    });
});

each_backend!(select_cancels_the_losing_read, |b: Backend| {
    util::rt(b).block_on(async {
        let (a, z) = UnixStream::pair().unwrap();
        let deadline: Instant = Instant::now() + Duration::from_millis(5);
        // Nothing to read: the timer wins and the read is dropped.
        let winner = futures::select! {
            r = z.read(Vec::with_capacity(16)).fuse() => panic!("read won with {:?}", r.0),
            _ = time::sleep_until(deadline).fuse() => "timer",
        };
        assert_eq!(winner, "timer");
        assert!(Instant::now() >= deadline);
        // The stream is still usable: the cancelled read took no bytes.
        a.write_all(&b"after"[..]).await.0.unwrap();
        let read = z.read_exact(vec![0u8; 5]);
        let far = time::sleep(LIMIT);
        let got = futures::select! {
            r = Box::pin(read.fuse()) => r,
            _ = Box::pin(far.fuse()) => panic!("no data within {LIMIT:?}"),
        };
        got.0.unwrap();
        assert_eq!(got.1, b"after");
    });
});
