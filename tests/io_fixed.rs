//! Registered (fixed) buffers, on both backends: `FixedBufRegistry` and
//! `FixedBufPool` check-out and return, `File::read_fixed_at` /
//! `write_fixed_at` at offsets, `TcpStream::send_fixed` / `recv_fixed`,
//! and the memory rules: a registry dropped while its buffer is in flight
//! keeps that memory valid until the op completes (valgrind runs this file
//! in `.ci/run`), the table comes down once every buffer is back, and a
//! buffer used on the wrong loop or after unregistering is an error.
//!
//! On io_uring the fixed opcodes must be the ones taken (counted per
//! opcode); on epoll, and with the registration or the opcodes forced off
//! (feature `fault-injection`), the plain paths give the same bytes.
mod net_util;
mod util;

use std::io::ErrorKind;

use net_util::{block, poll_once, TempPath};
use ringloop::buf::fixed::{FixedBufPool, FixedBufRegistry};
use ringloop::fs::OpenOptions;
use ringloop::io::AsyncWrite;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::time::timeout;
use ringloop::{Backend, Runtime};
use util::LIMIT;

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

fn started(rt: &Runtime, name: &str) -> u64 {
    rt.metrics()
        .ops_by_opcode
        .iter()
        .find(|o| o.name == name)
        .map_or(0, |o| o.started)
}

/// Writes 8 blocks of mixed sizes at scattered offsets with
/// `write_fixed_at`, reads them back with `read_fixed_at` and with std;
/// every byte must match. Returns how many fixed ops ran.
async fn file_round_trip(reg: &FixedBufRegistry, tag: &str) -> u64 {
    let tmp = TempPath::new(tag);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp.0)
        .await
        .unwrap();
    let blocks: Vec<(u64, usize)> = (0..8u64)
        .map(|k| ((7 - k) * 20_011 + k * 3, 1 + (k as usize * 1237) % 8192))
        .collect();
    let mut ops = 0;
    for (k, &(pos, len)) in blocks.iter().enumerate() {
        let mut buf = reg.check_out(k % reg.len()).unwrap();
        buf.clear();
        assert_eq!(buf.put_slice(&block(3, k as u64, len)), len);
        let (r, buf) = f.write_fixed_at(buf, pos).await;
        assert_eq!(r.unwrap(), len, "block {k}");
        ops += 1;
        drop(buf);
    }
    let std_bytes = std::fs::read(&tmp.0).unwrap();
    for (k, &(pos, len)) in blocks.iter().enumerate() {
        let want = block(3, k as u64, len);
        let p = pos as usize;
        assert!(std_bytes[p..p + len] == want[..], "block {k} on disk");
        let mut buf = reg.check_out((k + 1) % reg.len()).unwrap();
        buf.clear();
        let (r, buf) = f.read_fixed_at(buf, pos).await;
        let n = r.unwrap();
        ops += 1;
        assert!(n >= len, "block {k}: {n} bytes read");
        assert!(buf[..len] == want[..], "block {k} read back");
        assert_eq!(buf.len(), n, "the length covers what was read");
    }
    // Past the end: 0 bytes.
    let (r, _) = f.read_fixed_at(reg.check_out(0).unwrap(), 1 << 30).await;
    assert_eq!(r.unwrap(), 0);
    f.close().await.unwrap();
    ops + 1
}

each_backend!(file_read_write_fixed_at_offsets, |b: Backend| {
    let rt = util::rt(b);
    let (rf, wf) = (started(&rt, "READ_FIXED"), started(&rt, "WRITE_FIXED"));
    let (kernel, ops) = rt
        .block_on(timeout(LIMIT, async {
            let reg = FixedBufRegistry::with_capacity(3, 8192).unwrap();
            let kernel = reg.register().unwrap();
            assert_eq!(kernel, reg.kernel_registered());
            (kernel, file_round_trip(&reg, "fixed-rw").await)
        }))
        .unwrap();
    let fixed = started(&rt, "READ_FIXED") - rf + started(&rt, "WRITE_FIXED") - wf;
    if b == Backend::IoUring {
        assert!(kernel, "a 6.x kernel takes IORING_REGISTER_BUFFERS2");
        assert_eq!(fixed, ops, "every op took READ_FIXED/WRITE_FIXED");
    } else {
        assert!(!kernel);
        assert_eq!(fixed, 0, "epoll has no fixed ops");
    }
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(user_supplied_buffers_keep_their_bytes, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let mut first = Vec::with_capacity(8192);
            first.extend_from_slice(b"abc");
            let reg = FixedBufRegistry::new(vec![first, Vec::with_capacity(9000)]).unwrap();
            reg.register().unwrap();
            assert!(reg.capacity(0) >= Some(8192));
            assert!(reg.capacity(1) >= Some(9000));
            assert_eq!(&reg.check_out(0).unwrap()[..], b"abc");
            assert!(reg.check_out(1).unwrap().is_empty());
            file_round_trip(&reg, "fixed-user").await;
        }))
        .unwrap();
});

each_backend!(socket_send_recv_fixed_round_trip, |b: Backend| {
    let rt = util::rt(b);
    let zc = started(&rt, "SEND_ZC");
    let rf = started(&rt, "READ_FIXED");
    let (sends, recvs) = rt
        .block_on(timeout(LIMIT, async {
            let reg = FixedBufRegistry::with_capacity(2, 16 * 1024).unwrap();
            reg.register().unwrap();
            let (c, s) = tcp_pair().await;
            let total = 1 << 20;
            let data = block(5, 0, total);
            let writer = async {
                let mut buf = reg.check_out(0).unwrap();
                let (mut done, mut sends) = (0, 0);
                while done < total {
                    buf.clear();
                    buf.put_slice(&data[done..(done + 16 * 1024).min(total)]);
                    let (n, back) = c.send_fixed(buf).await;
                    buf = back;
                    let n = n.unwrap();
                    assert!(n > 0);
                    done += n;
                    sends += 1;
                }
                sends
            };
            let reader = async {
                let mut got = Vec::with_capacity(total);
                let mut buf = reg.check_out(1).unwrap();
                let mut recvs = 0;
                while got.len() < total {
                    buf.clear();
                    let (n, back) = s.recv_fixed(buf).await;
                    buf = back;
                    let n = n.unwrap();
                    assert!(n > 0, "early end of stream");
                    got.extend_from_slice(&buf[..n]);
                    recvs += 1;
                }
                (got, recvs)
            };
            let (sends, (got, recvs)) = futures::join!(writer, reader);
            assert!(got == data, "the bytes differ");
            // The end of the stream is 0.
            drop(c);
            let (n, _) = s.recv_fixed(reg.check_out(1).unwrap()).await;
            assert_eq!(n.unwrap(), 0);
            (sends, recvs)
        }))
        .unwrap();
    let zc = started(&rt, "SEND_ZC") - zc;
    let rf = started(&rt, "READ_FIXED") - rf;
    if b == Backend::IoUring {
        assert_eq!(zc, sends, "every fixed send was a SEND_ZC");
        assert!(rf > recvs, "every fixed recv was a READ_FIXED");
    } else {
        assert_eq!((zc, rf), (0, 0));
    }
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

each_backend!(check_out_and_return, |b: Backend| {
    util::rt(b)
        .block_on(timeout(LIMIT, async {
            let reg = FixedBufRegistry::with_capacity(2, 4096).unwrap();
            let a = reg.check_out(0).unwrap();
            assert!(reg.check_out(0).is_none(), "out already");
            assert!(reg.check_out(2).is_none(), "out of range");
            assert_eq!(reg.checked_out(), 1);
            drop(a);
            assert_eq!(reg.checked_out(), 0);
            assert!(reg.check_out(0).is_some());

            // The pool: smallest fitting buffer first; None when exhausted;
            // `next` waits for a drop.
            let pool =
                FixedBufPool::new(vec![Vec::with_capacity(8192), Vec::with_capacity(512)]).unwrap();
            pool.register().unwrap();
            let small = pool.try_next(100).unwrap();
            assert!(small.capacity() >= 512 && small.capacity() < 8192);
            let big = pool.try_next(100).unwrap();
            assert!(big.capacity() >= 8192);
            assert!(pool.try_next(1).is_none(), "exhausted");
            let e = pool.next(1 << 20).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "no buffer that large");
            let mut waiting = Box::pin(pool.next(4096));
            assert!(!poll_once(&mut waiting).await, "waits while none is free");
            drop(small);
            assert!(!poll_once(&mut waiting).await, "the small one does not fit");
            drop(big);
            let got = waiting.await.unwrap();
            assert!(got.capacity() >= 8192);
        }))
        .unwrap();
});

each_backend!(
    one_table_per_loop_and_unregistered_is_an_error,
    |b: Backend| {
        util::rt(b)
            .block_on(timeout(LIMIT, async {
                let tmp = TempPath::new("fixed-unreg");
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .open(&tmp.0)
                    .await
                    .unwrap();
                let reg = FixedBufRegistry::with_capacity(1, 4096).unwrap();
                // Never registered.
                let (r, buf) = f.read_fixed_at(reg.check_out(0).unwrap(), 0).await;
                assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
                drop(buf);
                reg.register().unwrap();
                assert_eq!(reg.register().unwrap_err().kind(), ErrorKind::ResourceBusy);
                let other = FixedBufRegistry::with_capacity(1, 4096).unwrap();
                let e = other.register().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::ResourceBusy, "one table per loop");
                // Unregistered: the buffer is an error for fixed ops, fine for
                // plain ones.
                let mut buf = reg.check_out(0).unwrap();
                buf.put_slice(b"x");
                reg.unregister();
                let (r, buf) = f.write_fixed_at(buf, 0).await;
                assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
                let (r, buf) = f.write_at(buf, 0).await;
                assert_eq!(r.unwrap(), 1);
                // Still out: the table stays until it is back.
                assert_eq!(
                    other.register().unwrap_err().kind(),
                    ErrorKind::ResourceBusy
                );
                drop(buf);
                let kernel = other.register().unwrap();
                assert_eq!(kernel, b == Backend::IoUring, "the table came down");
                f.close().await.unwrap();
            }))
            .unwrap();
    }
);

each_backend!(buffer_of_another_loop_is_an_error, |b: Backend| {
    let one = util::rt(b);
    let two = util::rt(b);
    let tmp = TempPath::new("fixed-loops");
    let reg = one.block_on(async {
        let reg = FixedBufRegistry::with_capacity(1, 4096).unwrap();
        reg.register().unwrap();
        reg
    });
    let buf = reg.check_out(0).unwrap();
    let buf = two
        .block_on(timeout(LIMIT, async {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .open(&tmp.0)
                .await
                .unwrap();
            let (r, buf) = f.read_fixed_at(buf, 0).await;
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.to_string().contains("another loop"), "{e}");
            let (c, _s) = tcp_pair().await;
            let (r, buf) = c.send_fixed(buf).await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
            buf
        }))
        .unwrap();
    // Back on its own loop it works.
    one.block_on(timeout(LIMIT, async {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tmp.0)
            .await
            .unwrap();
        let (r, _) = f.read_fixed_at(buf, 0).await;
        r.unwrap();
    }))
    .unwrap();
    drop(reg);
    drop(one);
    drop(two);
});

each_backend!(registry_dropped_with_an_op_in_flight, |b: Backend| {
    let rt = util::rt(b);
    rt.block_on(timeout(LIMIT, async {
        let (c, s) = tcp_pair().await;
        let reg = FixedBufRegistry::with_capacity(2, 4096).unwrap();
        reg.register().unwrap();
        // A receive in flight on an idle socket (on io_uring: a READ_FIXED
        // the kernel holds), then the registry dropped under it.
        let buf = reg.check_out(0).unwrap();
        let mut recv = Box::pin(s.recv_fixed(buf));
        assert!(!poll_once(&mut recv).await);
        ringloop::yield_now().await;
        assert!(!poll_once(&mut recv).await);
        drop(reg);
        // The kernel writes into the buffer now; its memory must be alive.
        let data = block(9, 0, 3000);
        let (r, _) = c.write(data.clone()).await;
        assert_eq!(r.unwrap(), 3000);
        let (n, buf) = recv.await;
        let n = n.unwrap();
        assert!(n > 0 && buf[..n] == data[..n], "the bytes arrived");
        drop(buf);
        // Everything back: a new table can go up.
        let again = FixedBufRegistry::with_capacity(1, 4096).unwrap();
        assert_eq!(again.register().unwrap(), b == Backend::IoUring);

        // A dropped receive in flight, then its registry: the buffer stays
        // with the driver until the final completion.
        let buf = again.check_out(0).unwrap();
        let mut recv = Box::pin(s.recv_fixed(buf));
        assert!(!poll_once(&mut recv).await);
        ringloop::yield_now().await;
        drop(recv);
        drop(again);
        net_util::until_nothing_in_flight(LIMIT).await;
        let third = FixedBufRegistry::with_capacity(1, 4096).unwrap();
        assert_eq!(third.register().unwrap(), b == Backend::IoUring);
        // And the socket still works.
        let (r, _) = c.write(b"ok".to_vec()).await;
        r.unwrap();
        let (n, buf) = s.recv_fixed(third.check_out(0).unwrap()).await;
        assert_eq!(&buf[..n.unwrap()], b"ok");
    }))
    .unwrap();
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});

/// With the fixed opcodes missing, or the registration refused, the same
/// calls take the plain paths on io_uring: same bytes, no error.
#[cfg(all(feature = "fault-injection", not(ringloop_test_backend = "epoll")))]
#[test]
fn without_the_feature_the_plain_paths_serve() {
    use io_uring::opcode;
    util::run_on(Backend::IoUring, |b| {
        for case in 0..2 {
            let mut faults = ringloop::faults::Faults::new();
            if case == 0 {
                faults.missing_opcodes = vec![
                    opcode::ReadFixed::CODE,
                    opcode::WriteFixed::CODE,
                    opcode::SendZc::CODE,
                ];
            } else {
                faults.no_fixed_buffers = true;
            }
            let rt = ringloop::Builder::new()
                .backend(b)
                .faults(faults)
                .build()
                .unwrap();
            let kernel = rt
                .block_on(timeout(LIMIT, async {
                    let reg = FixedBufRegistry::with_capacity(2, 8192).unwrap();
                    let kernel = reg.register().unwrap();
                    file_round_trip(&reg, "fixed-fault").await;
                    let (c, s) = tcp_pair().await;
                    let mut out = reg.check_out(0).unwrap();
                    out.clear();
                    out.put_slice(b"plain");
                    let (n, _out) = c.send_fixed(out).await;
                    assert_eq!(n.unwrap(), 5);
                    let (n, got) = s.recv_fixed(reg.check_out(1).unwrap()).await;
                    assert_eq!(&got[..n.unwrap()], b"plain");
                    kernel
                }))
                .unwrap();
            assert_eq!(kernel, case == 0, "case {case}");
            for name in ["READ_FIXED", "WRITE_FIXED", "SEND_ZC"] {
                // Counted as started (the op's code) only in case 0, where
                // it falls back; case 1 never builds a fixed op.
                let n = started(&rt, name);
                if case == 1 {
                    assert_eq!(n, 0, "{name} in case 1");
                }
            }
            assert!(rt.metrics().ops_fallback > 0 || case == 1);
        }
    });
}
