//! Owned halves on both backends: dropping the write half of a TCP or Unix
//! stream shuts its writing direction down, so a peer that reads until end
//! of stream finishes while the read half still works; reuniting the
//! halves shuts nothing down.
mod util;

use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::split::ReuniteError;
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

/// Reads until end of stream; everything read.
async fn read_to_end(s: &impl AsyncRead) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let (r, buf) = s.read(Vec::with_capacity(256)).await;
        match r.unwrap() {
            0 => return all,
            _ => all.extend_from_slice(&buf),
        }
    }
}

/// `near`'s halves: write, drop the write half while a read is pending on
/// the read half; `far` must read to the end, then its reply reaches the
/// read half.
async fn drop_write_half_while_reading<S, R, W>(halves: (R, W), far: &S)
where
    R: AsyncRead + 'static,
    W: AsyncWrite + 'static,
    S: AsyncRead + AsyncWrite,
{
    let (r, w) = halves;
    // A read in flight on the read half when the write half goes.
    let reader = ringloop::spawn(async move {
        let (res, buf) = r.read_exact(vec![0u8; 3]).await;
        res.unwrap();
        (r, buf)
    });
    ringloop::yield_now().await;
    w.write_all(b"hello".as_slice()).await.0.unwrap();
    drop(w);
    let got = timeout(LIMIT, read_to_end(far))
        .await
        .expect("the peer never saw end of stream");
    assert_eq!(got, b"hello");
    far.write_all(b"bye".as_slice()).await.0.unwrap();
    let (r, buf) = reader.await.unwrap();
    assert_eq!(buf, b"bye", "the read half still reads");
    drop(r);
    // Both halves gone: the socket is closed, the peer's read says so.
    let (res, _) = far.read(Vec::with_capacity(8)).await;
    assert_eq!(res.unwrap(), 0);
}

each_backend!(tcp_dropped_write_half_sends_fin, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        drop_write_half_while_reading(s.into_split(), &c).await;
        // And the other way round: the client's halves.
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        drop_write_half_while_reading(c.into_split(), &s).await;
    }))
    .expect("timed out");
    assert_eq!(rt.debug_resources()[2], 0, "nothing in flight");
});

each_backend!(unix_dropped_write_half_sends_fin, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (a, c) = UnixStream::pair().unwrap();
        drop_write_half_while_reading(a.into_split(), &c).await;
    }))
    .expect("timed out");
});

each_backend!(reunited_halves_shut_nothing_down, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let l = TcpListener::bind(([127, 0, 0, 1], 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let (r, w) = s.into_split();
        let s = r.reunite(w).unwrap();
        s.write_all(b"still open".as_slice()).await.0.unwrap();
        let (res, buf) = c.read_exact(vec![0u8; 10]).await;
        res.unwrap();
        assert_eq!(buf, b"still open");
        drop(s);
        assert_eq!(read_to_end(&c).await, b"");

        // Halves of different streams are handed back, and the write half
        // still shuts down when it is dropped.
        let (a1, _a2) = UnixStream::pair().unwrap();
        let (b1, b2) = UnixStream::pair().unwrap();
        let (ra, wa) = a1.into_split();
        let (rb, wb) = b1.into_split();
        let ReuniteError(ra, wb) = ra.reunite(wb).unwrap_err();
        drop(wb);
        assert_eq!(read_to_end(&b2).await, b"", "b1 shut down, rb alive");
        drop((ra, wa, rb));
    }))
    .expect("timed out");
});
