//! Which key each request touches: uniform, Zipf-skewed (hot keys first) or sequential over a
//! keyspace of `N` indices, and how an index becomes a key name.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How key indices are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyPattern {
    Uniform,
    /// Index `k` (0-based) is drawn with probability proportional to `1 / (k + 1)^θ`.
    Zipf(f64),
    /// 0, 1, 2, … across all clients together, wrapping at the keyspace.
    Sequential,
}

impl FromStr for KeyPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        match lower.as_str() {
            "uniform" | "random" => return Ok(KeyPattern::Uniform),
            "sequential" => return Ok(KeyPattern::Sequential),
            _ => {}
        }
        let theta = lower
            .strip_prefix("zipf:")
            .ok_or_else(|| format!("'{s}' is not uniform, sequential or zipf:THETA"))?;
        match theta.parse::<f64>() {
            Ok(t) if t.is_finite() && t > 0.0 && t <= 10.0 => Ok(KeyPattern::Zipf(t)),
            _ => Err(format!(
                "zipf exponent '{theta}' must be a number in (0, 10]"
            )),
        }
    }
}

impl std::fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyPattern::Uniform => write!(f, "uniform"),
            KeyPattern::Zipf(theta) => write!(f, "zipf:{theta}"),
            KeyPattern::Sequential => write!(f, "sequential"),
        }
    }
}

/// The key name for index `idx`: the prefix and the index zero-padded to 12 digits, as
/// redis-benchmark's `key:%012d` (fixed-size keys keep memory comparisons honest).
pub fn key_name(prefix: &str, idx: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 12);
    write_key(&mut out, prefix, idx);
    out
}

/// Appends the key name for `idx` to `out`.
pub fn write_key(out: &mut Vec<u8>, prefix: &str, idx: u64) {
    out.extend_from_slice(prefix.as_bytes());
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(idx).as_bytes();
    out.extend(std::iter::repeat_n(
        b'0',
        12usize.saturating_sub(digits.len()),
    ));
    out.extend_from_slice(digits);
}

/// Draws key indices in `[0, keyspace)`. The Zipf table is shared read-only; the sequential
/// counter is shared so that all clients together walk the keyspace once.
#[derive(Debug)]
pub struct KeyGen {
    keyspace: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Uniform,
    Zipf(Zipf),
    Sequential(AtomicU64),
}

impl KeyGen {
    pub fn new(pattern: KeyPattern, keyspace: u64) -> KeyGen {
        let keyspace = keyspace.max(1);
        let kind = match pattern {
            KeyPattern::Uniform => Kind::Uniform,
            KeyPattern::Zipf(theta) => Kind::Zipf(Zipf::new(keyspace, theta)),
            KeyPattern::Sequential => Kind::Sequential(AtomicU64::new(0)),
        };
        KeyGen { keyspace, kind }
    }

    pub fn next(&self, rng: &mut fastrand::Rng) -> u64 {
        match &self.kind {
            Kind::Uniform => rng.u64(0..self.keyspace),
            Kind::Zipf(z) => z.sample(rng) - 1,
            Kind::Sequential(n) => n.fetch_add(1, Relaxed) % self.keyspace,
        }
    }
}

/// Zipf distribution over ranks `1..=n` by rejection-inversion (Hörmann & Derflinger 1996,
/// as in Apache Commons RNG): O(1) memory and time whatever `n`, where a precomputed CDF
/// would cost 8 bytes per key. Rank 1 is the hottest.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    threshold: f64,
}

impl Zipf {
    /// `n` ranks with exponent `s` (θ) > 0.
    pub fn new(n: u64, s: f64) -> Zipf {
        let mut z = Zipf {
            n: n.max(1) as f64,
            s,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            threshold: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.threshold = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// A rank in `1..=n`.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            // Accept at once inside the squeeze, else compare with the exact hat.
            if k - x <= self.threshold || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// The probability of rank `k`: `k^-s / H(n, s)` (computed by summation, for tests).
    pub fn probability(&self, k: u64) -> f64 {
        let h: f64 = (1..=self.n as u64).map(|i| (i as f64).powf(-self.s)).sum();
        (k as f64).powf(-self.s) / h
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// ∫ x^-s, shifted so that it is well defined (and continuous in s) at s = 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// ln(1 + x) / x, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (e^x - 1) / x, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse() {
        assert_eq!("uniform".parse(), Ok(KeyPattern::Uniform));
        assert_eq!("Sequential".parse(), Ok(KeyPattern::Sequential));
        assert_eq!("zipf:0.99".parse(), Ok(KeyPattern::Zipf(0.99)));
        assert!("zipf:0".parse::<KeyPattern>().is_err());
        assert!("zipf:x".parse::<KeyPattern>().is_err());
        assert!("gauss".parse::<KeyPattern>().is_err());
    }

    #[test]
    fn key_names_are_zero_padded() {
        assert_eq!(key_name("key:", 42), b"key:000000000042");
        assert_eq!(key_name("", 1234567890123), b"1234567890123");
    }

    #[test]
    fn sequential_walks_and_wraps() {
        let g = KeyGen::new(KeyPattern::Sequential, 3);
        let mut rng = fastrand::Rng::with_seed(1);
        let got: Vec<u64> = (0..7).map(|_| g.next(&mut rng)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn uniform_stays_in_the_keyspace() {
        let g = KeyGen::new(KeyPattern::Uniform, 10);
        let mut rng = fastrand::Rng::with_seed(2);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[g.next(&mut rng) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }

    /// Rank frequencies match k^-θ / H(n, θ), for θ below, at and above 1.
    #[test]
    fn zipf_has_the_theoretical_skew() {
        for theta in [0.5, 0.99, 1.0, 1.2] {
            let n = 1000;
            let z = Zipf::new(n, theta);
            let mut rng = fastrand::Rng::with_seed(7);
            let draws = 400_000;
            let mut counts = vec![0u64; n as usize + 1];
            for _ in 0..draws {
                let k = z.sample(&mut rng);
                assert!((1..=n).contains(&k));
                counts[k as usize] += 1;
            }
            for k in [1u64, 2, 10, 100] {
                let expected = z.probability(k);
                let got = counts[k as usize] as f64 / draws as f64;
                // Six standard deviations of a binomial share: never flaky, still tight.
                let sigma = (expected * (1.0 - expected) / draws as f64).sqrt();
                assert!(
                    (got - expected).abs() < 6.0 * sigma + 1e-4,
                    "theta {theta} rank {k}: got {got:.5}, expected {expected:.5}"
                );
            }
        }
    }

    #[test]
    fn zipf_over_one_key_always_draws_it() {
        let g = KeyGen::new(KeyPattern::Zipf(0.99), 1);
        let mut rng = fastrand::Rng::with_seed(3);
        assert!((0..100).all(|_| g.next(&mut rng) == 0));
    }
}
