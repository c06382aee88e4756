//! The stall detector: task polls that held the loop too long.
//!
//! Every task poll is timed (one clock read per poll: a poll starts when the
//! previous one ended). A poll longer than the threshold is counted and
//! handed to the user's callback, on the loop thread, right after the poll,
//! with the spawn location of the task (`#[track_caller]` on `spawn`) — the
//! line to go and fix. The runtime itself never prints.
//!
//! The same callback hears of busy spins ([`StallKind::Spin`]): a loop that
//! keeps waking from its park to find nothing to do — no task woken, no
//! timer due — because the kernel keeps reporting something nobody consumes
//! (an edge on an fd no task waits on, a multishot operation whose stream is
//! no longer polled, completions of dropped operations). Every figure looks
//! normal while it burns a core. Empty wakes are counted on the loop; when
//! more than the threshold per second arrive within one window, the loop
//! reports once for that window.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::StallBacktrace;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StallKind {
    /// One task poll held the loop longer than the stall threshold.
    Poll,
    /// The loop woke `empty_wakes` times for nothing within `duration`
    /// (the report's), more than the spin threshold allows.
    Spin {
        /// Empty wakes counted in the window.
        empty_wakes: u64,
    },
}

/// One poll that exceeded the stall threshold, or a busy spin.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StallReport {
    /// A stall or a spin.
    pub kind: StallKind,
    /// How long the poll ran; for a spin, the time over which the empty
    /// wakes were counted.
    pub duration: Duration,
    /// Where the task was spawned (or `block_on` was called); for a spin,
    /// where the loop's `block_on` was called (no task is to blame).
    pub spawned_at: &'static Location<'static>,
    /// Index of the loop in its runtime (0 = the `block_on` thread).
    pub loop_index: usize,
    /// Where the stalled thread was, caught while the poll was still
    /// running, when [`Builder::stall_backtrace`](crate::Builder::stall_backtrace)
    /// is on and the watchdog caught it (not for spins).
    pub backtrace: Option<StallBacktrace>,
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StallKind::Poll => {
                write!(
                    f,
                    "loop {} stalled {:?} in a task spawned at {}",
                    self.loop_index, self.duration, self.spawned_at
                )?;
                match &self.backtrace {
                    Some(bt) => write!(f, "\n{bt}"),
                    None => Ok(()),
                }
            }
            StallKind::Spin { empty_wakes } => write!(
                f,
                "loop {} is spinning: {empty_wakes} empty wakes (parks that woke no task \
                 and fired no timer) in {:?}",
                self.loop_index, self.duration
            ),
        }
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
    /// Empty wakes per second above which a loop is spinning; `None`
    /// disables the spin detector (empty wakes are still counted).
    pub(crate) spin_per_sec: Option<u32>,
    /// The window over which empty wakes are counted against the rate.
    pub(crate) spin_window: Duration,
    /// Capture the stalled thread's stack (a watchdog thread and a signal).
    pub(crate) backtrace: bool,
}

impl HealthConfig {
    /// Empty wakes within one window that make a spin.
    pub(crate) fn spin_limit(&self) -> Option<u64> {
        self.spin_per_sec
            .map(|r| ((r as f64 * self.spin_window.as_secs_f64()).ceil() as u64).max(1))
    }
}

/// The default spin threshold: a loop parked and woken for nothing this many
/// times a second is burning a core; a healthy one does it a handful of
/// times.
pub(crate) const DEFAULT_SPIN_PER_SEC: u32 = 10_000;

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            timing: true,
            stall_threshold: Some(Duration::from_millis(5)),
            on_stall: None,
            spin_per_sec: Some(DEFAULT_SPIN_PER_SEC),
            spin_window: Duration::from_secs(1),
            backtrace: false,
        }
    }
}

impl fmt::Debug for HealthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthConfig")
            .field("timing", &self.timing)
            .field("stall_threshold", &self.stall_threshold)
            .field("on_stall", &self.on_stall.is_some())
            .field("spin_per_sec", &self.spin_per_sec)
            .field("spin_window", &self.spin_window)
            .field("backtrace", &self.backtrace)
            .finish()
    }
}
