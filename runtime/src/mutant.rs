//! Planted bugs, for checking that the tests guard the runtime's
//! invariants (`tests/MUTATIONS.md`, `scripts/mutants`).
//!
//! Compiled in only with `--cfg ringloop_mutants`; the one to plant is
//! named at run time by `RINGLOOP_MUTANT`, so one build serves every
//! mutant. In every other build [`on`] is the constant `false` and the
//! planted code is gone.

/// Whether the planted bug `name` is switched on.
#[cfg(ringloop_mutants)]
pub fn on(name: &str) -> bool {
    static CHOSEN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    CHOSEN
        .get_or_init(|| std::env::var("RINGLOOP_MUTANT").ok())
        .as_deref()
        == Some(name)
}

/// Whether the planted bug `name` is switched on: never, in this build.
#[cfg(not(ringloop_mutants))]
#[inline(always)]
pub fn on(_name: &str) -> bool {
    false
}
