//! A constant-memory latency histogram with logarithmic buckets.
//!
//! The loop records clock ticks (see [`clock`](super::clock)); a snapshot
//! re-buckets them into nanoseconds. 0–15 get a bucket each; above that every
//! power of two is split into 4 sub-buckets, so a reported quantile is at
//! most 25% above the true value, over the whole `u64` range, in 256
//! counters (2 KiB). One writer (the loop thread), any number of readers.

use std::fmt;
use std::ops::Add;
use std::time::Duration;

use super::Counter;

const BUCKETS: usize = 256;

fn index(v: u64) -> usize {
    if v < 16 {
        return v as usize;
    }
    let p = 63 - v.leading_zeros() as usize; // p >= 4
    let sub = ((v >> (p - 2)) & 3) as usize;
    16 + (p - 4) * 4 + sub
}

/// Largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    if i < 16 {
        return i as u64;
    }
    let p = (i - 16) / 4 + 4;
    let sub = ((i - 16) % 4) as u64;
    let base = 1u64 << p;
    let step = 1u64 << (p - 2);
    base.checked_add((sub + 1) * step)
        .map_or(u64::MAX, |v| v - 1)
}

/// The loop-side histogram.
pub(crate) struct Histogram {
    buckets: [Counter; BUCKETS],
    max: Counter,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| Counter::default()),
            max: Counter::default(),
        }
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.snapshot(), f)
    }
}

impl Histogram {
    #[inline]
    pub(crate) fn record(&self, ns: u64) {
        self.buckets[index(ns)].inc();
        if ns > self.max.get() {
            self.max.set(ns);
        }
    }

    /// Converts to nanoseconds: each tick bucket's count moves to the
    /// nanosecond bucket of its upper bound.
    pub(crate) fn snapshot(&self) -> Latency {
        let mut buckets = vec![0u64; BUCKETS];
        for (i, b) in self.buckets.iter().enumerate() {
            let c = b.get();
            if c > 0 {
                buckets[index(super::clock::to_ns(upper(i)))] += c;
            }
        }
        Latency {
            buckets,
            max_ns: super::clock::to_ns(self.max.get()),
        }
    }
}

impl Histogram {
    /// The raw values (for histograms of counts, not ticks).
    pub(crate) fn snapshot_counts(&self) -> Counts {
        Counts {
            buckets: self.buckets.iter().map(Counter::get).collect(),
            max: self.max.get(),
        }
    }
}

/// A snapshot of a histogram of counts (events or tasks per loop turn):
/// quantiles and maximum, each quantile the upper bound of its bucket (exact
/// up to 15, at most 25% high above).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Counts {
    buckets: Vec<u64>,
    max: u64,
}

impl Counts {
    /// Number of samples (loop turns).
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The `q`-quantile (0.0–1.0); zero without samples.
    pub fn quantile(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }

    /// Median.
    pub fn p50(&self) -> u64 {
        self.quantile(0.50)
    }

    /// 99th percentile.
    pub fn p99(&self) -> u64 {
        self.quantile(0.99)
    }

    /// Largest sample.
    pub fn max(&self) -> u64 {
        self.max
    }
}

impl Add for Counts {
    type Output = Counts;
    fn add(mut self, o: Counts) -> Counts {
        if self.buckets.len() < o.buckets.len() {
            self.buckets.resize(o.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.max = self.max.max(o.max);
        self
    }
}

impl fmt::Debug for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} p50={} p99={} max={}",
            self.count(),
            self.p50(),
            self.p99(),
            self.max()
        )
    }
}

/// A snapshot of a latency histogram: quantiles and maximum.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Latency {
    buckets: Vec<u64>,
    max_ns: u64,
}

impl Latency {
    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The `q`-quantile (0.0–1.0), as the upper bound of its bucket (at
    /// most 25% above the true value); zero without samples.
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.count();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(upper(i).min(self.max_ns));
            }
        }
        Duration::from_nanos(self.max_ns)
    }

    /// The samples recorded since `earlier` (a snapshot of the same
    /// histogram): quantiles over an interval. Its maximum is the upper
    /// bound of the highest bucket that gained samples.
    pub fn since(&self, earlier: &Latency) -> Latency {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, &c)| c.saturating_sub(earlier.buckets.get(i).copied().unwrap_or(0)))
            .collect();
        let max_ns = buckets
            .iter()
            .rposition(|&c| c > 0)
            .map_or(0, |i| upper(i).min(self.max_ns));
        Latency { buckets, max_ns }
    }

    /// Median.
    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    /// 99th percentile.
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// 99.9th percentile.
    pub fn p999(&self) -> Duration {
        self.quantile(0.999)
    }

    /// Largest sample.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }
}

impl Add for Latency {
    type Output = Latency;
    fn add(mut self, o: Latency) -> Latency {
        if self.buckets.len() < o.buckets.len() {
            self.buckets.resize(o.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.max_ns = self.max_ns.max(o.max_ns);
        self
    }
}

impl fmt::Debug for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} p50={:?} p99={:?} p999={:?} max={:?}",
            self.count(),
            self.p50(),
            self.p99(),
            self.p999(),
            self.max()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range_in_order() {
        let mut last = 0;
        for v in [0u64, 1, 15, 16, 17, 19, 20, 31, 32, 1000, 1 << 40, u64::MAX] {
            let i = index(v);
            assert!(i < BUCKETS);
            assert!(i >= last);
            assert!(upper(i) >= v, "{v} above its bucket's bound {}", upper(i));
            if v >= 16 {
                assert!(upper(i) as f64 <= v as f64 * 1.25 + 1.0);
            }
            last = i;
        }
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 1000);
        // Recorded in ticks; reported in ns, each step at most 25% high.
        let p50 = s.p50().as_nanos() as f64;
        let lo = crate::metrics::clock::to_ns(500_000) as f64;
        assert!(
            p50 >= lo * 0.999 && p50 <= lo * 1.25 * 1.25 + 16.0,
            "{p50} vs {lo}"
        );
        assert_eq!(
            s.max(),
            Duration::from_nanos(crate::metrics::clock::to_ns(1_000_000))
        );
        assert!(s.p999() <= s.max());
        let sum = s.clone() + s.clone();
        assert_eq!(sum.count(), 2000);
        let d = sum.since(&s);
        assert_eq!(d.count(), 1000);
        assert_eq!(d.since(&d).count(), 0);
        assert_eq!(d.since(&d).max(), Duration::ZERO);
    }

    #[test]
    fn counts_are_not_converted() {
        let h = Histogram::default();
        for v in [0u64, 1, 1, 2, 3, 100] {
            h.record(v);
        }
        let c = h.snapshot_counts();
        assert_eq!(c.count(), 6);
        assert_eq!(c.p50(), 1);
        assert_eq!(c.max(), 100);
        assert_eq!(c.quantile(1.0), 100);
        assert_eq!((c.clone() + c).count(), 12);
    }
}
