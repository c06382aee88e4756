//! The spellings of a backend name, in one place: [`Backend::from_str`]
//! uses it, and the workspace's build script includes this file (it has no
//! dependencies) so `RINGLOOP_BACKEND` means the same thing to the test
//! suite as to the runtime.
//!
//! [`Backend::from_str`]: crate::Backend

/// A parsed backend name: `None` for `auto` (or empty), `Some(true)` for
/// io_uring, `Some(false)` for epoll.
pub(crate) fn parse(s: &str) -> Result<Option<bool>, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "auto" => Ok(None),
        "uring" | "io_uring" | "iouring" | "io-uring" => Ok(Some(true)),
        "epoll" => Ok(Some(false)),
        other => Err(format!(
            "unknown backend {other:?}: expected auto, uring or epoll"
        )),
    }
}
