//! What the bundled programs' command lines share: value parsers for their
//! `#[derive(clap::Parser)]` structs.
//!
//! [`parse`] makes an unknown flag (with a suggestion for a near miss such
//! as `--conn`) or a bad value an error with usage and exit code 2 (clap
//! alone prints the usage only for some errors), and clap lists every flag
//! with its default under `--help`. The value parsers here add the
//! ranges: a count of threads, connections or bytes is at least 1, a
//! duration is `10s`, `500ms`, `2m`, `1h`, `250us` or a bare number of
//! seconds (`1.5`), exact to the nanosecond and at most [`MAX_DURATION`]
//! (a larger one would overflow an `Instant` deadline or mean nothing for
//! a test program).
#![allow(dead_code)] // shared by several examples; each uses a part

use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;
use ringloop::Backend;

/// Parses the process arguments into `P`; on an error, prints it with the
/// usage line and exits with code 2 (`--help` prints and exits 0).
pub fn parse<P: Parser>() -> P {
    P::try_parse().unwrap_or_else(|mut e| {
        let quiet = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
        if !quiet && e.get(ContextKind::Usage).is_none() {
            let usage = P::command().render_usage();
            e.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
        }
        e.exit()
    })
}

/// Most loop threads a program may ask for.
pub const MAX_THREADS: u64 = 1024;
/// Longest duration a flag takes.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// `--threads`: 1 ..= [`MAX_THREADS`].
pub fn threads() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_THREADS)
}

/// A count that must be at least 1 and at most `max`.
pub fn count(max: u64) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=max)
}

/// `auto`, `uring` (also `io_uring`) or `epoll`, with the runtime's own
/// parser; unlike it, the empty string is an error here.
pub fn backend(s: &str) -> Result<Backend, String> {
    if s.trim().is_empty() {
        return Err("expected auto, uring or epoll".into());
    }
    s.parse().map_err(|e: std::io::Error| e.to_string())
}

/// A duration, zero allowed (see the module docs for the forms).
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit_ns: u128 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" | "µs" => 1_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} (write 10s, 500ms, 2m, 1h, 250us or seconds)"
            ))
        }
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(format!(
            "{s:?} is not a duration (write 10s, 500ms, 2m, 1h, 250us or seconds)"
        ));
    }
    let too_long = || format!("{s:?} is longer than {}h", MAX_DURATION.as_secs() / 3600);
    // Digits only from here on; more than 30 cannot be below the bound.
    if int.len() > 30 {
        return Err(too_long());
    }
    let whole: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|e| format!("{s:?}: {e}"))?
    };
    // Digits past the nanosecond do not change the result.
    let frac = &frac[..frac.len().min(18)];
    let part: u128 = if frac.is_empty() {
        0
    } else {
        let f: u128 = frac.parse().map_err(|e| format!("{s:?}: {e}"))?;
        f * unit_ns / 10u128.pow(frac.len() as u32)
    };
    let ns = whole * unit_ns + part;
    if ns > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// A duration that must be more than zero.
pub fn nonzero_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err("must be more than 0".into()),
        d => Ok(d),
    }
}
