//! Command latency buckets: one relaxed counter per bucket, bumped once per command on the
//! command path (no lock, no allocation), read as a cumulative Prometheus histogram at scrape
//! time. The bounds are the proxy's upstream latency bounds with the microsecond range below
//! them, since most commands run in a few microseconds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (`le`) in nanoseconds: 1 µs to 5 s. Anything slower lands in `+Inf` only.
pub const BOUNDS_NS: [u64; 21] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

/// How many commands took at most each bound (and more than the one before); the last
/// counter holds those slower than every bound.
#[derive(Debug, Default)]
pub struct Latency([AtomicU64; BOUNDS_NS.len() + 1]);

impl Latency {
    pub fn observe(&self, elapsed: Duration) {
        let ns = elapsed.as_nanos().min(u64::MAX as u128) as u64;
        // First bound >= ns: `le` is inclusive. Five comparisons over a constant array.
        let i = BOUNDS_NS.partition_point(|&b| b < ns);
        self.0[i].fetch_add(1, Relaxed);
    }

    /// Cumulative counts per bound, then the total (the `+Inf` bucket and `_count`).
    pub fn cumulative(&self) -> ([u64; BOUNDS_NS.len()], u64) {
        let mut out = [0; BOUNDS_NS.len()];
        let mut total = 0;
        for (i, n) in self.0.iter().enumerate() {
            total += n.load(Relaxed);
            if let Some(slot) = out.get_mut(i) {
                *slot = total;
            }
        }
        (out, total)
    }

    pub fn reset(&self) {
        for n in &self.0 {
            n.store(0, Relaxed);
        }
    }
}

/// The bounds in seconds, as `le` reads.
pub fn bounds_seconds() -> impl Iterator<Item = f64> {
    BOUNDS_NS.iter().map(|&ns| ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_and_cumulative() {
        let l = Latency::default();
        for us in [0, 1, 2, 3, 1_000, 10_000_000] {
            l.observe(Duration::from_micros(us));
        }
        l.observe(Duration::from_nanos(1_001));
        let (cum, total) = l.cumulative();
        assert_eq!(total, 7);
        assert_eq!(&cum[..4], &[2, 4, 5, 5]); // le 1µs: 0 and 1µs; 2.5µs: +2µs, +1.001µs
        assert_eq!(
            cum[BOUNDS_NS.iter().position(|&b| b == 1_000_000).unwrap()],
            6
        );
        assert_eq!(cum[BOUNDS_NS.len() - 1], 6); // 10 s: only in +Inf
        assert!(cum.windows(2).all(|w| w[0] <= w[1]));
        l.reset();
        assert_eq!(l.cumulative().1, 0);
    }

    #[test]
    fn bounds_print_as_plain_seconds() {
        let le: Vec<String> = bounds_seconds().map(|s| s.to_string()).collect();
        assert_eq!(le[0], "0.000001");
        assert_eq!(le[1], "0.0000025");
        assert_eq!(le[9], "0.001");
        assert_eq!(le[20], "5");
        assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
    }
}
