//! hyper 1.x on ringloop, on both backends: hyper's clients
//! (`client::conn::http1` and `http2`, over `CopyIo`) against the
//! `hyper_server` example's serving code, in-process on one loop: keep-alive
//! requests, streamed request bodies echoed back, streamed response
//! bodies, HTTP/2 with concurrent streams, a graceful stop with a request
//! in flight; and `curl` against the example's code, over HTTP/1.1 and
//! HTTP/2 (the built binary is in `hyper_binary.rs`).
mod util;

#[path = "../examples/hyper_server/rt.rs"]
mod rt;
#[path = "../examples/hyper_server/server.rs"]
mod server;
#[path = "../examples/hyper_server/service.rs"]
mod service;
#[path = "../examples/support/shutdown.rs"]
mod shutdown;

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use ringloop::net::compat::CopyIo;
use ringloop::net::TcpStream;
use ringloop::time::timeout;
use ringloop::{Backend, JoinHandle};

use rt::{HyperIo, LocalExec};
use server::{Config, LoopStats};
use service::{chunk_byte, HELLO};

/// Request bodies of the test clients; boxed, and `!Send` allowed (hyper's
/// client connections run on this loop).
type ReqBody = Pin<Box<dyn Body<Data = Bytes, Error = Infallible>>>;

fn cfg() -> Config {
    Config {
        addr: ([127, 0, 0, 1], 0).into(),
        grace: Duration::from_secs(20),
        header_timeout: Duration::from_secs(20),
    }
}

/// Starts the example's server on the current loop; returns its address
/// and its task (which ends after [`shutdown::trigger`]).
async fn start_server() -> (SocketAddr, JoinHandle<Result<LoopStats, String>>) {
    let addr = Rc::new(Cell::new(None));
    let a = addr.clone();
    let task = ringloop::spawn(server::serve(0, cfg(), move |x| a.set(Some(x))));
    for _ in 0..1000 {
        if let Some(x) = addr.get() {
            return (x, task);
        }
        ringloop::yield_now().await;
    }
    panic!("the server did not bind");
}

/// Stops the server on this loop and returns what it did.
async fn stop(task: JoinHandle<Result<LoopStats, String>>) -> LoopStats {
    shutdown::trigger();
    task.await.unwrap().unwrap()
}

/// Runs `body` on a runtime on `b`, bounded by [`util::LIMIT`].
fn run<F: std::future::Future<Output = ()>>(b: Backend, body: impl FnOnce() -> F) {
    let rt = util::rt(b);
    rt.block_on(async {
        timeout(util::LIMIT, body()).await.expect("timed out");
    });
}

fn empty() -> ReqBody {
    Box::pin(Empty::new())
}

fn full(b: impl Into<Bytes>) -> ReqBody {
    Box::pin(Full::new(b.into()))
}

/// `n` frames of `size` bytes (byte `j` of frame `i` is `chunk_byte(i, j)`),
/// the loop yielding before each: a body that arrives over time.
fn streamed(n: usize, size: usize) -> ReqBody {
    let s = futures_util::stream::unfold(0, move |i| async move {
        if i == n {
            return None;
        }
        ringloop::yield_now().await;
        let frame: Vec<u8> = (0..size).map(|j| chunk_byte(i, j)).collect();
        Some((Ok(Frame::data(Bytes::from(frame))), i + 1))
    });
    Box::pin(StreamBody::new(s))
}

fn expected(n: usize, size: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (0..size).map(move |j| chunk_byte(i, j)))
        .collect()
}

/// Reads a whole body; returns its bytes and the number of data frames.
async fn collect(mut body: Incoming) -> (Vec<u8>, usize) {
    let (mut out, mut frames) = (Vec::new(), 0);
    while let Some(f) = body.frame().await {
        if let Ok(d) = f.unwrap().into_data() {
            out.extend_from_slice(&d);
            frames += 1;
        }
    }
    (out, frames)
}

/// An HTTP/1.1 client connection over `CopyIo`.
async fn h1_client(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http1::SendRequest<ReqBody>,
    JoinHandle<hyper::Result<()>>,
) {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(HyperIo::new(CopyIo::new(s)))
        .await
        .unwrap();
    (send, ringloop::spawn(conn))
}

fn req(method: &str, path: &str, body: ReqBody) -> Request<ReqBody> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "ringloop.test")
        .body(body)
        .unwrap()
}

each_backend!(http1_keep_alive_requests, |b: Backend| {
    run(b, || async {
        let (addr, srv) = start_server().await;
        let (mut send, conn) = h1_client(addr).await;
        for _ in 0..20 {
            let res: Response<Incoming> =
                send.send_request(req("GET", "/", empty())).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(collect(res.into_body()).await.0, HELLO);
        }
        let res = send
            .send_request(req("GET", "/missing", empty()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        drop(collect(res.into_body()).await);
        drop(send);
        conn.await.unwrap().unwrap();
        let st = stop(srv).await;
        assert_eq!((st.accepted, st.http1, st.conn_errors), (1, 1, 0), "{st:?}");
    });
});

each_backend!(http1_streamed_request_body_is_echoed, |b: Backend| {
    run(b, || async {
        let (addr, srv) = start_server().await;
        let (mut send, conn) = h1_client(addr).await;
        // 2 MiB in 64 KiB frames, then small odd ones, on one connection.
        for (n, size) in [(32, 64 * 1024), (100, 7), (1, 1)] {
            let res = send
                .send_request(req("POST", "/echo", streamed(n, size)))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let (got, _) = collect(res.into_body()).await;
            assert!(got == expected(n, size), "echo of {n}x{size} differs");
        }
        // A fixed-length body too.
        let res = send
            .send_request(req("POST", "/echo", full(vec![9u8; 300_000])))
            .await
            .unwrap();
        assert_eq!(collect(res.into_body()).await.0, vec![9u8; 300_000]);
        drop(send);
        conn.await.unwrap().unwrap();
        let st = stop(srv).await;
        assert_eq!((st.http1, st.conn_errors), (1, 0), "{st:?}");
    });
});

each_backend!(http1_streamed_response_body, |b: Backend| {
    run(b, || async {
        let (addr, srv) = start_server().await;
        let (mut send, conn) = h1_client(addr).await;
        let res = send
            .send_request(req("GET", "/stream?chunks=200&size=10000", empty()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["transfer-encoding"],
            "chunked",
            "a streamed body has no length"
        );
        let (got, frames) = collect(res.into_body()).await;
        assert!(frames > 1, "the body arrived in {frames} frame(s)");
        assert!(got == expected(200, 10_000), "streamed bytes differ");
        let res = send
            .send_request(req("GET", "/stream?chunks=1", empty()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        drop(collect(res.into_body()).await);
        drop(send);
        conn.await.unwrap().unwrap();
        stop(srv).await;
    });
});

each_backend!(http2_concurrent_streams, |b: Backend| {
    run(b, || async {
        let (addr, srv) = start_server().await;
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let (send, conn) =
            hyper::client::conn::http2::handshake(LocalExec, HyperIo::new(CopyIo::new(s)))
                .await
                .unwrap();
        let conn = ringloop::spawn(conn);
        // Three kinds of request at once on one connection, several times.
        let mut tasks = Vec::new();
        for k in 0..8usize {
            let mut send = send.clone();
            tasks.push(ringloop::spawn(async move {
                let (r, want) = match k % 3 {
                    0 => (req("GET", "/", empty()), HELLO.to_vec()),
                    1 => (
                        req("POST", "/echo", streamed(16, 50_000 + k)),
                        expected(16, 50_000 + k),
                    ),
                    _ => (
                        req("GET", "/stream?chunks=50&size=3000", empty()),
                        expected(50, 3000),
                    ),
                };
                let res = send.send_request(r).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                assert_eq!(res.version(), hyper::Version::HTTP_2);
                let (got, _) = collect(res.into_body()).await;
                assert!(got == want, "stream {k} differs");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        drop(send);
        conn.await.unwrap().unwrap();
        let st = stop(srv).await;
        assert_eq!((st.http2, st.conn_errors), (1, 0), "{st:?}");
    });
});

/// A one-shot gate a request body waits at.
#[derive(Default)]
struct Gate {
    open: Cell<bool>,
    waiter: RefCell<Option<Waker>>,
}

impl Gate {
    fn open(&self) {
        self.open.set(true);
        if let Some(w) = self.waiter.borrow_mut().take() {
            w.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.open.get() {
                Poll::Ready(())
            } else {
                *self.waiter.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

each_backend!(
    graceful_stop_finishes_the_request_in_flight,
    |b: Backend| {
        run(b, || async {
            let (addr, srv) = start_server().await;
            let (mut send, conn) = h1_client(addr).await;
            // A body whose second half waits for the gate.
            let gate = Rc::new(Gate::default());
            let g = gate.clone();
            let body = futures_util::stream::unfold(0, move |i| {
                let g = g.clone();
                async move {
                    match i {
                        0 => Some((Ok(Frame::data(Bytes::from_static(b"first "))), 1)),
                        1 => {
                            g.wait().await;
                            Some((Ok(Frame::data(Bytes::from_static(b"second"))), 2))
                        }
                        _ => None,
                    }
                }
            });
            let res = send
                .send_request(req("POST", "/echo", Box::pin(StreamBody::new(body))))
                .await
                .unwrap();
            let mut body = res.into_body();
            let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(&first[..], b"first ");
            // Stop while the request is half done: the server stops accepting
            // and lets the connection finish this request.
            shutdown::trigger();
            gate.open();
            let mut rest = Vec::new();
            while let Some(f) = body.frame().await {
                rest.extend_from_slice(&f.unwrap().into_data().unwrap());
            }
            assert_eq!(rest, b"second");
            // Then the server closes the connection, and ends.
            conn.await.unwrap().unwrap();
            assert!(send.send_request(req("GET", "/", empty())).await.is_err());
            let st = srv.await.unwrap().unwrap();
            assert_eq!(
                (st.http1, st.left_open, st.conn_errors),
                (1, 0, 0),
                "{st:?}"
            );
            // A connect to a port nobody listens on fails, unless the
            // kernel happened to pick that same port as the connect's own
            // (an ephemeral port: TCP then connects the socket to itself).
            if let Ok(s) = TcpStream::connect(addr).await {
                assert_eq!(
                    s.local_addr().unwrap(),
                    s.peer_addr().unwrap(),
                    "still listening after the stop"
                );
            }
        });
    }
);

/// The example's server on its own loop thread, for clients that block
/// (curl): its address, a handle to stop it, its thread.
struct Threaded {
    addr: SocketAddr,
    handle: ringloop::Handle,
    thread: std::thread::JoinHandle<Result<LoopStats, String>>,
}

fn start_threaded(b: Backend) -> Threaded {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = util::rt(b);
        let handle = rt.handles()[0].clone();
        rt.block_on(server::serve(0, cfg(), move |addr| {
            tx.send((addr, handle)).unwrap()
        }))
    });
    let (addr, handle) = rx.recv_timeout(util::LIMIT).expect("the server binds");
    Threaded {
        addr,
        handle,
        thread,
    }
}

impl Threaded {
    fn stop(self) -> LoopStats {
        drop(self.handle.spawn(async { shutdown::trigger() }));
        self.thread.join().unwrap().unwrap()
    }
}

fn have_curl() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

each_backend!(curl_against_the_example, |b: Backend| {
    if !have_curl() {
        util::skip("RINGLOOP_REQUIRE_CURL", "curl is not installed");
        return;
    }
    let srv = start_threaded(b);
    let url = |p: &str| format!("http://{}{p}", srv.addr);
    let curl = |args: &[&str]| {
        let o = std::process::Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "30"])
            .args(args)
            .output()
            .expect("run curl");
        assert!(
            o.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    assert_eq!(curl(&[&url("/")]), HELLO);
    // A request body from a file, echoed back.
    let data = expected(20, 50_000);
    let path = std::env::temp_dir().join(format!("ringloop-hyper-{}-{b}", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let file = format!("@{}", path.display());
    assert!(curl(&["--data-binary", &file, &url("/echo")]) == data);
    assert!(curl(&[&url("/stream?chunks=30&size=7000")]) == expected(30, 7000));
    // Keep-alive: several URLs on one connection, over both protocols.
    let two = [HELLO, HELLO].concat();
    assert_eq!(curl(&[&url("/"), &url("/")]), two);
    let h2 = |extra: &[&str]| {
        let mut a = vec!["--http2-prior-knowledge"];
        a.extend_from_slice(extra);
        curl(&a)
    };
    assert_eq!(
        h2(&["-w", "%{http_version}", "-o", "/dev/null", &url("/")]),
        b"2"
    );
    // (Not several URLs per curl over HTTP/2: curl 7.88 fails to reuse a
    // prior-knowledge connection, curl/curl#10634, fixed in 8.0; hyper's
    // client covers HTTP/2 keep-alive above.)
    assert_eq!(h2(&[&url("/")]), HELLO);
    assert!(h2(&["--data-binary", &file, &url("/echo")]) == data);
    assert!(h2(&[&url("/stream?chunks=30&size=7000")]) == expected(30, 7000));
    let _ = std::fs::remove_file(&path);
    let st = srv.stop();
    assert_eq!(st.http1, 4, "{st:?}");
    assert_eq!(st.http2, 4, "{st:?}");
    assert_eq!(st.conn_errors, 0, "{st:?}");
});
