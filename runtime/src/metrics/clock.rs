//! The loop-health clock: cheap ticks, converted to nanoseconds only when a
//! snapshot is read.
//!
//! Every task poll is timed, so the clock read is on the hot path:
//! `Instant::now()` costs ~30 ns on a VM, `rdtsc` ~10 ns. On x86_64 with an
//! invariant TSC (`constant_tsc` and `nonstop_tsc`, synchronised across
//! cores) ticks are TSC cycles, calibrated once per process against
//! `Instant` over about a millisecond; elsewhere ticks are nanoseconds from
//! `Instant`. Tick differences are saturating, so a rare backwards step
//! reads as zero, never as a huge value.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct Calibration {
    tsc: bool,
    ns_per_tick: f64,
    origin: Instant,
}

fn calibration() -> &'static Calibration {
    static CAL: OnceLock<Calibration> = OnceLock::new();
    CAL.get_or_init(|| {
        let origin = Instant::now();
        if !invariant_tsc() {
            return Calibration {
                tsc: false,
                ns_per_tick: 1.0,
                origin,
            };
        }
        // Spin (no sleep: a sleeping thread may migrate) for ~1 ms.
        let (t0, c0) = (Instant::now(), rdtsc());
        let mut t1 = Instant::now();
        while t1 - t0 < Duration::from_millis(1) {
            t1 = Instant::now();
        }
        let c1 = rdtsc();
        let ns = (t1 - t0).as_nanos() as f64;
        let ticks = c1.saturating_sub(c0) as f64;
        if ticks < 1.0 {
            return Calibration {
                tsc: false,
                ns_per_tick: 1.0,
                origin,
            };
        }
        Calibration {
            tsc: true,
            ns_per_tick: ns / ticks,
            origin,
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|s| {
        let flags = s.lines().find(|l| l.starts_with("flags")).unwrap_or("");
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        has("constant_tsc") && has("nonstop_tsc")
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` is available on every x86_64 CPU and has no
    // preconditions; it only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn rdtsc() -> u64 {
    0
}

/// Calibrates the clock now (once per process), off the hot path.
pub(crate) fn init() {
    calibration();
}

/// Whether ticks are TSC cycles (cache it to skip the lookup in [`now_with`]).
pub(crate) fn is_tsc() -> bool {
    calibration().tsc
}

/// The current tick, with the result of [`is_tsc`] cached by the caller.
#[inline]
pub(crate) fn now_with(tsc: bool) -> u64 {
    if tsc {
        rdtsc()
    } else {
        calibration().origin.elapsed().as_nanos() as u64
    }
}

/// Ticks to nanoseconds.
pub(crate) fn to_ns(ticks: u64) -> u64 {
    (ticks as f64 * calibration().ns_per_tick) as u64
}

/// Nanoseconds to ticks.
pub(crate) fn from_ns(ns: u64) -> u64 {
    (ns as f64 / calibration().ns_per_tick) as u64
}
