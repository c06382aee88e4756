//! Events through `tracing` (feature `tracing`: `cargo test --features
//! tracing --test tracing`; `.ci/run` runs it): a loop's start with its
//! backend at info, an op's start (with its path) and completion at trace,
//! a stall at warn with the task's spawn site. A subscriber that collects
//! every event is installed for the test's thread, which runs the loop.
#![cfg(feature = "tracing")]

mod util;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringloop::driver::{ops::Nop, Op};
use ringloop::{Backend, Builder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One event: its target, level and fields (`name=value`, space-separated,
/// the message as `message=...`).
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    level: Level,
    fields: String,
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut fields = String::new();
        e.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Seen {
            target: e.metadata().target().to_string(),
            level: *e.metadata().level(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[inline(never)]
fn stuck() {
    // The stall being reported: the task blocks its loop.
    std::thread::sleep(Duration::from_millis(60));
}

each_backend!(events_for_the_loop_ops_and_stalls, |b: Backend| {
    let seen = Collect::default();
    tracing::subscriber::with_default(seen.clone(), || {
        let rt = Builder::new()
            .backend(b)
            .stall_threshold(Some(Duration::from_millis(20)))
            .build()
            .unwrap();
        rt.block_on(async {
            Op::new(Nop).await.unwrap();
            ringloop::spawn(async { stuck() }).await.unwrap();
        });
    });
    let seen = seen.0.lock().unwrap().clone();
    let find = |target: &str, level: Level, has: &[&str]| {
        seen.iter()
            .find(|s| {
                s.target == target && s.level == level && has.iter().all(|h| s.fields.contains(h))
            })
            .unwrap_or_else(|| {
                panic!("{b}: no {level} event on {target} with {has:?}; saw {seen:#?}")
            })
            .clone()
    };
    find(
        "ringloop::runtime",
        Level::INFO,
        &["event loop started", &format!("backend={b}")],
    );
    // NOP: through the ring on io_uring, done on the spot on epoll.
    let path = if b == Backend::IoUring {
        "path=ring"
    } else {
        "path=immediate"
    };
    find(
        "ringloop::op",
        Level::TRACE,
        &["op started", "opcode=NOP", path],
    );
    find(
        "ringloop::op",
        Level::TRACE,
        &["op completed", "opcode=NOP", "ok=true"],
    );
    let stall = find("ringloop::health", Level::WARN, &["event loop stalled"]);
    assert!(
        stall.fields.contains("tests/tracing.rs"),
        "{b}: the spawn site: {stall:?}"
    );
});
