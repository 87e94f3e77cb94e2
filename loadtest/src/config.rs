//! The settings of a run, as the engine takes them (the CLI in `args` builds one; tests build
//! one directly), and their validation.

use crate::keys::KeyPattern;
use crate::target::Target;
use crate::template::{Ratio, Template};
use crate::verify::ID_LEN;
use crate::Error;
use std::str::FromStr;
use std::time::Duration;

/// Requests sent when neither a count nor a duration is given (redis-benchmark's default).
pub const DEFAULT_REQUESTS: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    /// Connections, each with its own request loop.
    pub clients: usize,
    /// Runtime worker threads (used by `run_blocking`).
    pub threads: usize,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Total requests, exactly (shared by all clients).
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub templates: Vec<Template>,
    pub keyspace: u64,
    pub key_pattern: KeyPattern,
    pub key_prefix: String,
    pub data_size: DataSize,
    /// Open loop: requests per second across all clients, sent on schedule.
    pub rate: Option<f64>,
    pub verify: bool,
    pub verify_during: bool,
    pub auth: Option<String>,
    /// Bound on connecting and on each round of requests.
    pub timeout: Duration,
    /// Consecutive failed rounds a client retries (reconnecting) before it gives up.
    pub reconnects: u32,
    pub seed: u64,
    pub progress: bool,
}

impl Config {
    /// Defaults as the CLI has them, for `target`.
    pub fn new(target: Target) -> Config {
        Config {
            target,
            clients: 50,
            threads: 1,
            pipeline: 1,
            requests: None,
            duration: None,
            templates: Ratio {
                set: 1,
                get: 10,
                del: 0,
            }
            .templates(),
            keyspace: 1_000_000,
            key_pattern: KeyPattern::Uniform,
            key_prefix: "key:".into(),
            data_size: DataSize { min: 32, max: 32 },
            rate: None,
            verify: false,
            verify_during: false,
            auth: None,
            timeout: Duration::from_secs(10),
            reconnects: 3,
            seed: fastrand::u64(..),
            progress: false,
        }
    }

    /// The request bound actually used: the given one, or the default when the run has no
    /// duration either.
    pub fn request_bound(&self) -> Option<u64> {
        match (self.requests, self.duration) {
            (None, None) => Some(DEFAULT_REQUESTS),
            (r, _) => r,
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        let usage = |m: &str| Err(Error::Usage(m.to_string()));
        if self.clients == 0 || self.threads == 0 || self.pipeline == 0 {
            return usage("--clients, --threads and --pipeline must be at least 1");
        }
        if self.requests == Some(0) {
            return usage("--requests must be at least 1");
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return usage("--duration must be positive");
        }
        if self.keyspace == 0 {
            return usage("--keyspace must be at least 1");
        }
        if self.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return usage("--rate must be a positive number of requests per second");
        }
        if self.templates.is_empty() {
            return usage("no commands to send");
        }
        if let Target::Cluster(seeds) = &self.target {
            if seeds.is_empty() {
                return usage("--cluster needs at least one host:port");
            }
        }
        if self.verify && self.data_size.min < ID_LEN {
            return usage(
                "--verify needs --data-size of at least 16 bytes (values carry a 16-byte id)",
            );
        }
        if self.verify_during && !self.verify {
            return usage("--verify-during needs --verify");
        }
        Ok(())
    }
}

/// Value size in bytes: fixed (`32`) or drawn uniformly from a range (`32-512`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSize {
    pub min: usize,
    pub max: usize,
}

/// Largest value the tool generates (Redis's default proto-max-bulk-len is 512 MB).
const MAX_DATA: usize = 64 * 1024 * 1024;

impl FromStr for DataSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let num = |p: &str| {
            p.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{s}' is not a size in bytes or a range like 32-512"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(s)?, num(s)?),
        };
        if min > max {
            return Err(format!("range '{s}' is empty"));
        }
        if max > MAX_DATA {
            return Err(format!("data size '{s}' is above {MAX_DATA} bytes"));
        }
        Ok(DataSize { min, max })
    }
}

/// Durations as `10` (seconds), `500ms`, `30s`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 10s, 500ms or 2m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("'{s}' has an unknown unit (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_sizes_parse() {
        assert_eq!("32".parse(), Ok(DataSize { min: 32, max: 32 }));
        assert_eq!("32-512".parse(), Ok(DataSize { min: 32, max: 512 }));
        assert!("512-32".parse::<DataSize>().is_err());
        assert!("x".parse::<DataSize>().is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn validation_catches_nonsense() {
        let ok = Config::new(Target::Single("127.0.0.1:6379".into()));
        assert!(ok.validate().is_ok());
        assert_eq!(ok.request_bound(), Some(DEFAULT_REQUESTS));
        let mut c = ok.clone();
        c.pipeline = 0;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.verify = true;
        c.data_size = DataSize { min: 8, max: 64 };
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.rate = Some(-1.0);
        assert!(c.validate().is_err());
        let mut c = ok;
        c.duration = Some(Duration::from_secs(1));
        assert_eq!(c.request_bound(), None);
    }
}
