//! One connection: read request heads, answer them in order.
//!
//! Every complete head already in the input buffer is answered before the
//! next read (pipelining); small answers are gathered in one output buffer
//! and written with one send. The output buffer is capped: once it holds
//! [`OUT_HIGH`] bytes the connection stops parsing (and so stops reading)
//! until that buffer has gone to the kernel, so a client that pipelines
//! requests and never reads costs the input buffer, one capped output
//! buffer and its socket buffers, never more.
//!
//! Timeouts (the policy of `examples/support/deadline.rs`, the same on
//! both backends): `--idle-timeout` from the accept or the end of the last
//! answer until the first byte of the next head; `--header-timeout` from
//! that first byte until the head is complete (a head trickling in a byte
//! at a time, slowloris); `--write-timeout` with `--min-send-rate` for
//! every byte sent, heads and bodies alike. An idle or header timeout
//! closes the connection; a write timeout aborts it (`SO_LINGER` 0, a
//! reset), so the kernel does not keep sending its queue to a client that
//! does not read.

use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use ringloop::buf::IoBuf;
use ringloop::io::{AsyncRead, Pipe};
use ringloop::net::TcpStream;

use crate::body::{self, Sink};
use crate::conditional::{self, Decision, Validators};
use crate::deadline::{self, Pace, Watchdog};
use crate::http::{self, Parsed, Request};
use crate::open::{open_target, Opened};
use crate::path::{self, PathError};
use crate::range::{self, Want};
use crate::server::Shared;
use crate::target;

/// Bodies up to this size are read into the output buffer and sent with
/// their head in one write; larger ones take the zero-copy path.
const SMALL_BODY: u64 = 16 * 1024;
/// Input buffer: a full head plus room for pipelined ones behind it.
const IN_BUF: usize = 2 * http::MAX_HEAD;
/// Output cap: no more heads are parsed while this many bytes of answers
/// wait to be sent (it may be exceeded by one answer: a head and a small
/// body).
pub const OUT_HIGH: usize = 64 * 1024;

/// How one request ended, for the access log.
struct Answer {
    status: u16,
    bytes: u64,
    /// The connection must close after this answer.
    close: bool,
}

pub struct Conn {
    sock: Rc<TcpStream>,
    pipe: RefCell<Option<Pipe>>,
    shared: Rc<Shared>,
    id: u64,
    dog: Watchdog,
    pace: Pace,
}

impl Conn {
    pub fn new(sock: TcpStream, shared: Rc<Shared>, id: u64) -> Conn {
        let fd = sock.as_raw_fd();
        Conn {
            sock: Rc::new(sock),
            pipe: RefCell::new(None),
            pace: Pace::new(shared.cfg.write, fd),
            shared,
            id,
            dog: Watchdog::default(),
        }
    }

    /// Serves until the client closes, a timeout, an error response, or
    /// the loop stops between requests.
    pub async fn run(mut self) {
        let mut inb: Vec<u8> = Vec::with_capacity(IN_BUF);
        let mut out: Vec<u8> = Vec::with_capacity(4096 + SMALL_BODY as usize);
        let (idle, header) = (self.shared.cfg.idle_timeout, self.shared.cfg.header_timeout);
        // Since when the connection has had nothing to answer, and by when
        // the head whose first byte has arrived must be complete.
        let mut idle_since = Instant::now();
        let mut head_by: Option<Instant> = None;
        'conn: loop {
            let mut answered = false;
            // Answer the complete heads in the buffer, in order, until the
            // output is over its cap.
            let mut capped = false;
            loop {
                if out.len() >= OUT_HIGH {
                    capped = true;
                    break;
                }
                let started = Instant::now();
                match http::parse(&inb) {
                    Parsed::Partial => break,
                    Parsed::Error(status) => {
                        let bytes = http::error(&mut out, status, false, 1, false);
                        self.log("-", "-", status, bytes, started);
                        break 'conn;
                    }
                    Parsed::Request(req, used) => {
                        inb.drain(..used);
                        let a = match self.answer(&req, &mut out).await {
                            Ok(a) => a,
                            // Mid-body: nothing else can be sent.
                            Err(_) => return self.abort(),
                        };
                        self.log(&req.method, &req.target, a.status, a.bytes, started);
                        answered = true;
                        if a.close {
                            break 'conn;
                        }
                    }
                }
            }
            if !out.is_empty() {
                match self.flush(out).await {
                    Some(o) => out = o,
                    None => return self.abort(),
                }
            }
            if answered {
                idle_since = Instant::now();
                head_by = None;
            }
            if capped {
                continue; // more heads may be buffered: answer them first
            }
            if self.shared.stopping() && inb.is_empty() {
                break;
            }
            // Read more of the next head, by the idle or the header deadline.
            let idle_now = inb.is_empty();
            let at = if idle_now {
                idle_since + idle
            } else {
                *head_by.get_or_insert_with(|| Instant::now() + header)
            };
            let filled = inb.len();
            let read = self.sock.read(inb.slice(filled..));
            let r = self
                .shared
                .unless_stopped(self.id, idle_now, self.dog.run(at, read))
                .await;
            let (r, b) = match r {
                Some(Ok(rb)) => rb,
                // Timed out or told to stop: the buffer went with the read.
                Some(Err(_)) | None => return,
            };
            inb = b.into_inner();
            match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        if !out.is_empty() {
            match self.flush(out).await {
                Some(o) => {
                    drop(o);
                    self.linger().await;
                }
                None => self.abort(),
            }
        }
    }

    /// Makes the close a reset: after a write timeout the queued bytes are
    /// thrown away instead of sent to a client that does not read.
    fn abort(&self) {
        let _ = self.sock.set_linger(Some(Duration::ZERO));
    }

    /// Writes `out` whole, at the minimum send rate; gives the emptied
    /// buffer back, or `None` when the connection is done for.
    async fn flush(&mut self, out: Vec<u8>) -> Option<Vec<u8>> {
        let mut o = deadline::write_all(&*self.sock, out, &mut self.dog, &mut self.pace)
            .await
            .ok()?;
        o.clear();
        Some(o)
    }

    /// Closes politely after an error answer: stop sending, then read what
    /// the client still sends (briefly), so unread input does not turn the
    /// close into a reset that could destroy the answer in flight.
    async fn linger(&self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Write).await;
        let deadline = Instant::now() + self.shared.cfg.idle_timeout.min(Duration::from_secs(1));
        let mut buf = Vec::with_capacity(4096);
        for _ in 0..16 {
            buf.clear();
            match ringloop::time::timeout_at(deadline, self.sock.read(buf)).await {
                Ok((Ok(n), b)) if n > 0 => buf = b,
                _ => return,
            }
        }
    }

    fn log(&self, method: &str, target: &str, status: u16, bytes: u64, started: Instant) {
        crate::stats::request();
        if self.shared.cfg.log {
            let us = started.elapsed().as_micros();
            println!("{method} {target} {status} {bytes} {us}us");
        }
    }

    /// Appends the answer to `req` to `out`, or writes it (with its body)
    /// when the body takes the zero-copy path.
    async fn answer(&mut self, req: &Request, out: &mut Vec<u8>) -> io::Result<Answer> {
        let head_only = req.method == "HEAD";
        let keep = req.keep_alive;
        let fail = |out: &mut Vec<u8>, status: u16| -> io::Result<Answer> {
            let close = !keep || status >= 500;
            let bytes = http::error(out, status, !close, req.minor, head_only);
            Ok(Answer {
                status,
                bytes,
                close,
            })
        };
        if req.method != "GET" && !head_only {
            return fail(out, 405);
        }
        let Some(target) = target::parse(&req.target) else {
            return fail(out, 400);
        };
        if self.shared.cfg.metrics && target.path == "/metrics" {
            let body = crate::stats::prometheus("file_server");
            http::start(out, 200);
            http::header(
                out,
                "Content-Type",
                "text/plain; version=0.0.4; charset=utf-8",
            );
            http::header(out, "Cache-Control", "no-store");
            http::end(out, body.len() as u64, keep, req.minor);
            if !head_only {
                out.extend_from_slice(body.as_bytes());
            }
            return Ok(Answer {
                status: 200,
                bytes: if head_only { 0 } else { body.len() as u64 },
                close: !keep,
            });
        }
        let rel = match path::resolve(target.path) {
            Ok(r) => r,
            Err(PathError::Malformed) => return fail(out, 400),
            Err(PathError::Refused) => return fail(out, 404),
        };
        let (file, rel, meta) = match open_target(&self.shared.cfg.root, rel).await {
            Ok(Opened::File(f, rel, meta)) => (f, rel, meta),
            Ok(Opened::Directory) => {
                // The raw path (as sent, still encoded) plus the slash; a
                // relative reference, so the client keeps its own
                // scheme and authority. `resolve` refused `//`, so this
                // cannot name another host.
                let location = match target.query {
                    Some(q) => format!("{}/?{q}", target.path),
                    None => format!("{}/", target.path),
                };
                let bytes = http::moved(out, location, keep, req.minor, head_only);
                return Ok(Answer {
                    status: 301,
                    bytes,
                    close: !keep,
                });
            }
            Err(status) => return fail(out, status),
        };
        let size = meta.len();
        let validators = meta
            .modified()
            .ok()
            .map(|t| Validators::new(meta.ino(), size, t, SystemTime::now()));
        let decision = match &validators {
            Some(v) => conditional::evaluate(&req.conditions, v),
            // No mtime (a filesystem without one): no validators, nothing
            // to compare, answer as if unconditional.
            None => Decision::Proceed { use_range: true },
        };
        let range = match decision {
            Decision::Proceed { use_range } => req.range.as_deref().filter(|_| use_range),
            Decision::PreconditionFailed => return fail(out, 412),
            Decision::NotModified => {
                http::start(out, 304);
                if let Some(v) = &validators {
                    v.write_headers(out);
                }
                http::end_without_length(out, keep, req.minor);
                return Ok(Answer {
                    status: 304,
                    bytes: 0,
                    close: !keep,
                });
            }
        };
        let (status, start, len) = match range::want(range, size) {
            Want::Full => (200, 0, size),
            Want::Part { start, len } => (206, start, len),
            Want::Unsatisfiable => {
                http::start(out, 416);
                http::header(out, "Content-Range", format_args!("bytes */{size}"));
                http::end(out, 0, keep, req.minor);
                return Ok(Answer {
                    status: 416,
                    bytes: 0,
                    close: !keep,
                });
            }
        };
        let mark = out.len();
        http::start(out, status);
        http::header(out, "Content-Type", http::content_type(&rel.display));
        if let Some(v) = &validators {
            v.write_headers(out);
        }
        out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
        if status == 206 {
            let last = start + len - 1;
            http::header(
                out,
                "Content-Range",
                format_args!("bytes {start}-{last}/{size}"),
            );
        }
        http::end(out, len, keep, req.minor);
        let close = !keep;
        if head_only || len == 0 {
            return Ok(Answer {
                status,
                bytes: 0,
                close,
            });
        }
        if len <= SMALL_BODY {
            out.reserve(len as usize);
            let at = out.len();
            let buf = std::mem::take(out);
            let (r, b) = file
                .read_exact_at(buf.slice(at..at + len as usize), start)
                .await;
            *out = b.into_inner();
            if r.is_err() {
                // The file shrank under us: answer 500 instead.
                out.truncate(mark);
                return fail(out, 500);
            }
            return Ok(Answer {
                status,
                bytes: len,
                close,
            });
        }
        // Large: send the head (and anything before it), then the body.
        let o = self
            .flush(std::mem::take(out))
            .await
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
        *out = o;
        let mut sink = Sink {
            sock: &self.sock,
            pipe: &self.pipe,
            dog: &mut self.dog,
            pace: &mut self.pace,
        };
        let bytes = body::send(&mut sink, &Rc::new(file), start, len).await?;
        Ok(Answer {
            status,
            bytes,
            close,
        })
    }
}
