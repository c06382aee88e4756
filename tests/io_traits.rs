//! The owned-buffer traits beyond read/write: in-memory streams, the
//! forwarding impls, vectored reads and writes (with short transfers),
//! flush/shutdown, and the helpers (copy, read_to_end, read_to_string,
//! BufReader, BufWriter), over memory and over sockets. Both backends.
mod util;

use std::cell::RefCell;
use std::io::{Cursor, ErrorKind};
use std::rc::Rc;

use futures::FutureExt;
use ringloop::buf::IoBuf;
use ringloop::io::{self, AsyncRead, AsyncWrite, BufReader, BufWriter};
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::time::timeout;
use ringloop::Backend;
use util::LIMIT;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Generic code over the traits, to check the forwarding impls.
async fn roundtrip<R: AsyncRead, W: AsyncWrite>(r: R, w: W, data: Vec<u8>) -> Vec<u8> {
    let (res, _) = w.write_all(data).await;
    res.unwrap();
    w.shutdown().await.unwrap();
    let (res, got) = r.read_to_end(Vec::new()).await;
    res.unwrap();
    got
}

each_backend!(in_memory_streams, |b: Backend| {
    util::rt(b).block_on(async {
        // Cursor<Vec<u8>> both ways, at its position.
        let c = RefCell::new(Cursor::new(b"0123456789".to_vec()));
        let (r, buf) = c.read(Vec::with_capacity(4)).await;
        assert_eq!((r.unwrap(), &buf[..]), (4, &b"0123"[..]));
        let (r, _) = c.write(b"ab").await;
        assert_eq!(r.unwrap(), 2);
        assert_eq!(c.borrow().get_ref(), b"0123ab6789");
        let (r, rest) = c.read_to_end(b"rest:".to_vec()).await;
        assert_eq!((r.unwrap(), &rest[..]), (4, &b"rest:6789"[..]));
        // At the end: 0 bytes, and a read into a zero-capacity buffer too.
        assert_eq!(c.read(Vec::with_capacity(8)).await.0.unwrap(), 0);

        // Cursor<&mut [u8]>: writes stop at its end.
        let mut backing = [0u8; 5];
        {
            let c = RefCell::new(Cursor::new(&mut backing[..]));
            let (r, _) = c.write_all(b"toolong").await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::WriteZero);
        }
        assert_eq!(&backing, b"toolo");

        // &[u8] is consumed by reads; Vec<u8> appends.
        let src = RefCell::new(&b"hello"[..]);
        let (r, buf) = src.read_exact(vec![0u8; 3]).await;
        r.unwrap();
        assert_eq!((&buf[..], *src.borrow()), (&b"hel"[..], &b"lo"[..]));
        let (r, buf) = src.read_exact(vec![0u8; 3]).await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::UnexpectedEof);
        assert_eq!(&buf[..2], b"lo");
        let out = RefCell::new(Vec::new());
        let (r, _) = out.write_all(vec![1, 2]).await;
        r.unwrap();
        let (r, _) = out.writev(vec![vec![3], vec![], vec![4, 5]]).await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(out.borrow().as_slice(), &[1, 2, 3, 4, 5]);

        // A cell the caller holds borrowed is an error, not a panic.
        // (An in-memory write completes on its first poll.)
        let held = out.borrow();
        let (r, _) = out
            .write(b"x")
            .now_or_never()
            .expect("in-memory write is immediate");
        assert!(r.is_err());
        drop(held);

        // Forwarding: &T, &mut T, Box<T>.
        let data = pattern(1000);
        let mut w = RefCell::new(Vec::new());
        let got = roundtrip(
            Box::new(RefCell::new(Cursor::new(data.clone()))),
            &mut w,
            data.clone(),
        )
        .await;
        assert_eq!(got, data);
        assert_eq!(w.into_inner(), data);
        let shared = Rc::new(RefCell::new(&data[..]));
        let (r, all) = shared.read_to_end(Vec::new()).await;
        assert_eq!((r.unwrap(), all), (1000, data.clone()));
    });
});

each_backend!(read_to_string_checks_utf8, |b: Backend| {
    util::rt(b).block_on(async {
        let (r, s) = RefCell::new("grüße".as_bytes())
            .read_to_string("> ".into())
            .await;
        assert_eq!((r.unwrap(), s.as_str()), (7, "> grüße"));
        let (r, s) = RefCell::new(&b"ok\xff"[..])
            .read_to_string("kept".into())
            .await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidData);
        assert_eq!(s, "kept");
    });
});

each_backend!(vectored_all_over_a_socket_pair, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (a, z) = UnixStream::pair().unwrap();
            // Small kernel buffers make short transfers likely, which the
            // `_all`/`_exact` loops must resume inside a buffer.
            a.set_send_buffer_size(4096).unwrap();
            z.set_recv_buffer_size(4096).unwrap();
            let data = pattern(300_000);
            let parts: Vec<Vec<u8>> = data.chunks(7_001).map(<[u8]>::to_vec).collect();
            let writer = ringloop::spawn(async move {
                let (r, back) = a.write_vectored_all(parts).await;
                r.unwrap();
                assert_eq!(back.concat(), pattern(300_000));
                AsyncWrite::shutdown(&a).await.unwrap();
                a
            });
            let bufs: Vec<Vec<u8>> = (0..30).map(|_| Vec::with_capacity(10_000)).collect();
            let (r, bufs) = z.read_vectored_exact(bufs).await;
            r.unwrap();
            assert_eq!(bufs.concat(), data);
            // Then end of stream: an exact read past it is UnexpectedEof.
            let (r, _) = z.read_vectored_exact(vec![vec![0u8; 1]]).await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::UnexpectedEof);
            writer.await.unwrap();
        }))
        .unwrap();
});

each_backend!(copy_between_tcp_streams, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let data = pattern(1 << 20);
            let d = data.clone();
            // An echo server built from the helper: copy a connection to itself.
            let server = ringloop::spawn(async move {
                let (s, _) = l.accept().await.unwrap();
                let n = io::copy(&s, &s).await.unwrap();
                AsyncWrite::shutdown(&s).await.unwrap();
                n
            });
            let c = TcpStream::connect(addr).await.unwrap();
            let (rd, wr) = c.into_split();
            let sender = ringloop::spawn(async move {
                let (r, _) = wr.write_all(d).await;
                r.unwrap();
                AsyncWrite::shutdown(&wr).await.unwrap();
            });
            let (r, got) = rd.read_to_end(Vec::new()).await;
            assert_eq!(r.unwrap(), 1 << 20);
            assert!(got == data, "echoed bytes differ");
            sender.await.unwrap();
            assert_eq!(server.await.unwrap(), 1 << 20);
        }))
        .unwrap();
});

each_backend!(buf_reader_lines_over_a_socket, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let (a, z) = UnixStream::pair().unwrap();
            let lines: Vec<String> = (0..500)
                .map(|i| format!("line {i} {}\n", "x".repeat(i % 40)))
                .collect();
            let text = lines.concat();
            let t = text.clone();
            let writer = ringloop::spawn(async move {
                // Through a BufWriter with a capacity that does not divide the
                // lines: flushes land mid-line.
                let w = BufWriter::with_capacity(100, a);
                for piece in t.as_bytes().chunks(13) {
                    let (r, _) = w.write_all(piece.to_vec()).await;
                    r.unwrap();
                }
                assert!(w.buffered() > 0);
                w.shutdown().await.unwrap();
                assert_eq!(w.buffered(), 0);
            });
            let r = BufReader::with_capacity(64, z);
            let mut got = Vec::new();
            let mut line = String::new();
            loop {
                line.clear();
                let (n, back) = r.read_line(line).await;
                line = back;
                if n.unwrap() == 0 {
                    break;
                }
                got.push(line.clone());
            }
            assert_eq!(got, lines);
            writer.await.unwrap();
        }))
        .unwrap();
});

each_backend!(buf_reader_mixed_reads, |b: Backend| {
    util::rt(b).block_on(async {
        let data = pattern(10_000);
        let r = BufReader::with_capacity(100, RefCell::new(Cursor::new(data.clone())));
        // Small reads come from the buffer...
        let (n, a) = r.read(Vec::with_capacity(10)).await;
        assert_eq!(n.unwrap(), 10);
        assert_eq!(r.buffered(), 90);
        // ...an exact read drains it and refills...
        let (res, b2) = r.read_exact(vec![0u8; 150]).await;
        res.unwrap();
        // ...a large read with the buffer empty bypasses it...
        let (res, c) = r.read_exact(vec![0u8; 40]).await;
        res.unwrap();
        assert_eq!(r.buffered(), 0);
        let (n, d) = r.read(Vec::with_capacity(5000)).await;
        assert_eq!(n.unwrap(), 5000);
        // ...and until finds delimiters across refills.
        let (n, e) = r.read_until(data[9_500], Vec::new()).await;
        let n = n.unwrap();
        let (res, f) = r.read_to_end(Vec::new()).await;
        res.unwrap();
        let all = [a, b2, c, d, e, f].concat();
        assert_eq!(all, data);
        assert!(n > 0);
    });
});

each_backend!(
    buf_writer_passes_large_writes_and_keeps_order,
    |b: Backend| {
        util::rt(b).block_on(async {
            let w = BufWriter::with_capacity(16, RefCell::new(Vec::new()));
            let (r, _) = w.write(b"small").await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(w.get_ref().borrow().len(), 0);
            // A large write flushes what is held first, then goes through.
            let big = pattern(100);
            let (r, _) = w.write_all(big.clone()).await;
            r.unwrap();
            assert_eq!(w.buffered(), 0);
            let (r, _) = w.write_vectored_all(vec![&b"a"[..], &b"bc"[..]]).await;
            r.unwrap();
            w.flush().await.unwrap();
            let out = w.into_inner().into_inner();
            assert_eq!(out, [&b"small"[..], &big, b"abc"].concat());
            // A slice of a buffer writes its window only.
            let w = RefCell::new(Vec::new());
            let (r, _) = w.write_all(b"hello world".to_vec().slice(6..)).await;
            r.unwrap();
            assert_eq!(w.into_inner(), b"world");
        });
    }
);
