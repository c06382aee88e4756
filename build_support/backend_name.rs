//! The spellings of a backend name, in one place: [`Backend::from_str`]
//! uses it. The facade's build script (`build_support/backend_name.rs`) and
//! the macros crate (`macros/src/backend_name.rs`) carry byte-identical
//! copies, since a published crate cannot include a file of another; the
//! test `tests/backend_names.rs` fails when the copies drift.
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
