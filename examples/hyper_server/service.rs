//! The example's HTTP service, runtime-agnostic (also served on tokio by
//! `examples/hyper_tokio.rs`, for the side-by-side bench):
//!
//! - `GET /` — `hello, world\n`;
//! - `POST /echo` — the request body streamed back as it arrives;
//! - `GET /stream?chunks=N&size=S` — a chunked response of `N` frames of
//!   `S` bytes each (byte `j` of frame `i` is [`chunk_byte`]`(i, j)`),
//!   made one frame per poll;
//! - anything else — 404.
#![allow(dead_code)] // shared by the examples and tests; each uses a part

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};

/// The response body of every route.
pub type ResBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// Body of `GET /`.
pub const HELLO: &[u8] = b"hello, world\n";

/// At most this many frames, and bytes per frame, for `/stream`.
pub const MAX_CHUNKS: usize = 100_000;
pub const MAX_CHUNK_SIZE: usize = 1 << 20;

/// Byte `j` of frame `i` of `/stream`.
pub fn chunk_byte(i: usize, j: usize) -> u8 {
    ((i * 7 + j) % 251) as u8
}

/// Answers one request.
pub async fn handle(req: Request<Incoming>) -> Result<Response<ResBody>, Infallible> {
    let res = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Response::builder()
            .header("content-type", "text/plain")
            .body(full(HELLO)),
        (&Method::POST, "/echo") => Response::builder().body(req.into_body().boxed_unsync()),
        (&Method::GET, "/stream") => match stream_args(req.uri().query().unwrap_or("")) {
            Some((chunks, size)) => Response::builder()
                .header("content-type", "application/octet-stream")
                .body(
                    Chunks {
                        next: 0,
                        chunks,
                        size,
                    }
                    .map_err(|never| match never {})
                    .boxed_unsync(),
                ),
            None => Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .body(full(b"chunks=N&size=S, within limits\n")),
        },
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(full(b"not found\n")),
    };
    Ok(res.expect("valid response parts"))
}

fn full(b: &'static [u8]) -> ResBody {
    Full::new(Bytes::from_static(b))
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// `chunks=N&size=S` (both required, within the limits).
fn stream_args(q: &str) -> Option<(usize, usize)> {
    let (mut chunks, mut size) = (None, None);
    for kv in q.split('&') {
        match kv.split_once('=') {
            Some(("chunks", v)) => chunks = v.parse().ok(),
            Some(("size", v)) => size = v.parse().ok(),
            _ => {}
        }
    }
    let (c, s) = (chunks?, size?);
    (c <= MAX_CHUNKS && (1..=MAX_CHUNK_SIZE).contains(&s)).then_some((c, s))
}

/// The `/stream` body: one frame per poll, made when asked for.
struct Chunks {
    next: usize,
    chunks: usize,
    size: usize,
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.next == self.chunks {
            return Poll::Ready(None);
        }
        let i = self.next;
        self.next += 1;
        let frame: Vec<u8> = (0..self.size).map(|j| chunk_byte(i, j)).collect();
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(frame)))))
    }

    fn is_end_stream(&self) -> bool {
        self.next == self.chunks
    }
}
