//! The stall detector: task polls that held the loop too long.
//!
//! Every task poll is timed (one clock read per poll: a poll starts when the
//! previous one ended). A poll longer than the threshold is counted and
//! handed to the user's callback, on the loop thread, right after the poll,
//! with the spawn location of the task (`#[track_caller]` on `spawn`) — the
//! line to go and fix. The runtime itself never prints.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// One poll that exceeded the stall threshold.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StallReport {
    /// How long the poll ran.
    pub duration: Duration,
    /// Where the task was spawned (or `block_on` was called).
    pub spawned_at: &'static Location<'static>,
    /// Index of the loop in its runtime (0 = the `block_on` thread).
    pub loop_index: usize,
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loop {} stalled {:?} in a task spawned at {}",
            self.loop_index, self.duration, self.spawned_at
        )
    }
}

/// The longest task poll seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollRecord {
    /// Its duration.
    pub duration: Duration,
    /// Where its task was spawned.
    pub spawned_at: &'static Location<'static>,
}

/// A stall callback.
pub(crate) type StallHook = Arc<dyn Fn(&StallReport) + Send + Sync>;

/// Loop-health settings, from the builder.
#[derive(Clone)]
pub(crate) struct HealthConfig {
    /// Time polls and record loop lag (clock reads); off for the leanest loop.
    pub(crate) timing: bool,
    /// Polls longer than this are stalls; `None` disables the detector.
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) on_stall: Option<StallHook>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            timing: true,
            stall_threshold: Some(Duration::from_millis(5)),
            on_stall: None,
        }
    }
}

impl fmt::Debug for HealthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthConfig")
            .field("timing", &self.timing)
            .field("stall_threshold", &self.stall_threshold)
            .field("on_stall", &self.on_stall.is_some())
            .finish()
    }
}
