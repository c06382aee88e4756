//! Events through [`tracing`](https://docs.rs/tracing) (feature `tracing`,
//! off by default): with the feature off these macros expand to nothing,
//! so the default build carries no code and no instructions for them.
//!
//! | target | level | event |
//! |---|---|---|
//! | `ringloop::runtime` | info | a loop started: its index, the backend it runs, and why `Backend::Auto` fell back to epoll, if it did |
//! | `ringloop::op` | trace | an operation started (`opcode`, `path`: ring, readiness, pool or immediate) and completed (`opcode`, `ok`) |
//! | `ringloop::health` | warn | a stall (a poll longer than the threshold: its duration and the task's spawn site) and a busy spin (empty wakes in a row) |
//! | `ringloop::health` | debug | a new longest poll (duration, spawn site) |
//!
//! A subscriber is the application's choice (for example
//! `tracing-subscriber`); the runtime installs none and prints nothing.

/// `tracing::event!` when the feature is on; nothing otherwise.
macro_rules! event {
    ($($t:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::event!($($t)*);
        }
    };
}

pub(crate) use event;
