//! Command-line flags and environment variables of `autocache-control`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the control service runs. Every flag is also read from `AUTOCACHE_CONTROL_*`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "autocache-control",
    version,
    about = "AutoCache control service: membership, slot map, resharding"
)]
pub struct Config {
    /// gRPC listen address.
    #[arg(long, env = "AUTOCACHE_CONTROL_ADDR", default_value = "127.0.0.1:7000")]
    pub addr: SocketAddr,
    /// Directory of the persisted cluster state.
    #[arg(
        long,
        env = "AUTOCACHE_CONTROL_DATA_DIR",
        default_value = "./control-data"
    )]
    pub data_dir: PathBuf,
    /// HTTP address answering `/metrics`, `/healthz` and `/readyz` (off when unset).
    #[arg(long, env = "AUTOCACHE_CONTROL_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// A node silent for longer than this is marked failed (e.g. `15s`, `300ms`).
    #[arg(long, env = "AUTOCACHE_CONTROL_NODE_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub node_timeout: Duration,
    /// Slot migrations running at once; the rest wait in a queue. More move slots faster and
    /// cost clients latency: on a 2-core box 8 moved 135-143k keys/s with client p99 3.9-4.6x
    /// idle, 16 moved 202k keys/s at 6.0-6.3x (BENCHMARKS.md, Migration).
    #[arg(long, env = "AUTOCACHE_CONTROL_MAX_MIGRATIONS", default_value_t = 8)]
    pub max_migrations: usize,
}

impl Config {
    /// Defaults with the given data dir (what tests and embedders start from).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            addr: ([127, 0, 0, 1], 7000).into(),
            data_dir: data_dir.into(),
            metrics_addr: None,
            node_timeout: Duration::from_secs(15),
            max_migrations: 8,
        }
    }
}

/// Parses `15s`, `300ms`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid duration '{s}'"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("invalid duration unit in '{s}' (use ms, s or m)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("ms").is_err());
    }
}
