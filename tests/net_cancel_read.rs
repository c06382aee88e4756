//! Cancellable socket reads that hand the buffer back (issue #15 item
//! 5.6): a CancelToken, a timer as the signal, data beating a fired signal,
//! no byte lost across many cancelled reads, read halves and end of stream.
//! Both backends.
mod util;

use std::time::Duration;

use ringloop::buf::IoBuf;
use ringloop::io::{is_cancelled, AsyncWrite, CancelToken};
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::time::{sleep, timeout};
use ringloop::Backend;
use util::LIMIT;

each_backend!(a_cancelled_read_hands_the_buffer_back, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (a, z) = UnixStream::pair().unwrap();
            let token = CancelToken::new();
            let t = token.clone();
            ringloop::spawn(async move {
                sleep(Duration::from_millis(2)).await;
                t.cancel();
            });
            let mut buf = Vec::with_capacity(32);
            buf.extend_from_slice(b"kept");
            let (r, buf) = z.read_cancellable(buf, token.cancelled()).await;
            let e = r.unwrap_err();
            assert!(is_cancelled(&e), "{e}");
            assert_eq!((&buf[..], buf.capacity() >= 32), (&b"kept"[..], true));
            // A timer works as the signal too.
            let (r, buf) = z
                .read_cancellable(buf, sleep(Duration::from_millis(1)))
                .await;
            assert!(is_cancelled(&r.unwrap_err()));
            // Nothing was consumed: what is sent now is read in full.
            a.write_all(&b"after"[..]).await.0.unwrap();
            let (r, buf) = z.read_cancellable(buf.slice(4..), sleep(LIMIT)).await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(&buf.into_inner()[..], b"keptafter");
            // Data already there beats a signal that has fired.
            a.write_all(&b"x"[..]).await.0.unwrap();
            let (r, got) = z
                .read_cancellable(Vec::with_capacity(4), token.cancelled())
                .await;
            assert_eq!((r.unwrap(), &got[..]), (1, &b"x"[..]));
            // End of stream is 0, not a cancel.
            drop(a);
            let (r, _) = z
                .read_cancellable(Vec::with_capacity(4), sleep(LIMIT))
                .await;
            assert_eq!(r.unwrap(), 0);
            // A plain EINTR is not a cancel.
            assert!(!is_cancelled(&std::io::Error::from_raw_os_error(
                libc::EINTR
            )));
        }))
        .unwrap();
});

each_backend!(no_byte_lost_across_many_cancelled_reads, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            let (rd, _wr) = s.into_split();
            const N: usize = 300;
            let writer = ringloop::spawn(async move {
                for i in 0..N {
                    if i % 3 == 0 {
                        ringloop::yield_now().await;
                    }
                    c.write_all(vec![(i % 251) as u8]).await.0.unwrap();
                }
                c
            });
            let mut got = Vec::new();
            let (mut cancelled, mut buf) = (0, Vec::with_capacity(8));
            while got.len() < N {
                // A signal that fires on its second poll: reads are cancelled
                // often, in every state the writer can be in.
                let mut polled = false;
                let signal = std::future::poll_fn(move |cx| {
                    if polled {
                        return std::task::Poll::Ready(());
                    }
                    polled = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                });
                buf.clear();
                let (r, back) = rd.read_cancellable(buf, signal).await;
                buf = back;
                match r {
                    Ok(0) => panic!("end of stream after {} bytes", got.len()),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if is_cancelled(&e) => cancelled += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            let want: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
            assert_eq!(got, want);
            assert!(
                cancelled > 0,
                "no read was cancelled: the test proves nothing"
            );
            writer.await.unwrap();
        }))
        .unwrap();
});
