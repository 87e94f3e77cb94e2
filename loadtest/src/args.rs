//! Command-line flags (each also readable from an `AUTOCACHE_LOADTEST_…` variable) and their
//! translation into a [`Config`].

use crate::config::{parse_duration, Config, DataSize};
use crate::keys::KeyPattern;
use crate::target::Target;
use crate::template::{Ratio, Template};
use crate::Error;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Load generator for Redis-protocol servers: AutoCache nodes and proxies, or any Redis.
#[derive(Parser, Debug, Clone)]
#[command(name = "autocache-loadtest", version, about)]
pub struct Args {
    /// Server host (a single endpoint).
    #[arg(long, env = "AUTOCACHE_LOADTEST_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(short, long, env = "AUTOCACHE_LOADTEST_PORT", default_value_t = 6379)]
    pub port: u16,
    /// Cluster seed nodes, host:port[,host:port…]: the slot map is learned with CLUSTER
    /// SLOTS and MOVED/ASK redirects are followed. Replaces --host/--port.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["host", "port"])]
    pub cluster: Vec<String>,
    /// Connections, each with its own request loop.
    #[arg(short, long, default_value_t = 50)]
    pub clients: usize,
    /// Worker threads driving the connections.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Requests in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1)]
    pub pipeline: usize,
    /// Total requests, exactly (default 100000 unless --duration is given).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Run for this long: 30s, 500ms, 2m (with --requests, whichever ends first).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// SET:GET or SET:GET:DEL weights.
    #[arg(long, default_value = "1:10", conflicts_with = "command")]
    pub ratio: Ratio,
    /// Command template, repeatable: "[WEIGHT:]LPUSH __key__ __data__". __key__ and
    /// __data__ are replaced by a key from the keyspace and a value of --data-size bytes.
    #[arg(long = "command")]
    pub command: Vec<Template>,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1_000_000)]
    pub keyspace: u64,
    /// uniform, zipf:THETA (e.g. zipf:0.99: hot keys first) or sequential.
    #[arg(long, default_value = "uniform")]
    pub key_pattern: KeyPattern,
    /// Key names are the prefix and the key index, zero-padded to 12 digits.
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// Value size in bytes, fixed (32) or a range drawn uniformly (32-512).
    #[arg(short = 'd', long, default_value = "32")]
    pub data_size: DataSize,
    /// Open loop: send this many requests per second in total, on schedule; latency is
    /// measured from the scheduled time (no coordinated omission).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Record every acknowledged SET/DEL and read all keys back at the end; exit 1 on lost,
    /// stale or resurrected keys.
    #[arg(long)]
    pub verify: bool,
    /// With --verify, also check the workload's GETs: a miss on a key whose SET was
    /// acknowledged before the GET left counts as lost.
    #[arg(long, requires = "verify")]
    pub verify_during: bool,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Password sent with AUTH on every connection.
    #[arg(short = 'a', long, env = "AUTOCACHE_LOADTEST_AUTH")]
    pub auth: Option<String>,
    /// Bound on connecting and on each round of requests.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Consecutive failed rounds a connection retries before giving up.
    #[arg(long, default_value_t = 3)]
    pub reconnects: u32,
    /// Seed for key, command and size choices (random by default).
    #[arg(long)]
    pub seed: Option<u64>,
    /// No live progress line.
    #[arg(long)]
    pub no_progress: bool,
}

impl Args {
    pub fn into_config(self) -> Result<Config, Error> {
        let target = if self.cluster.is_empty() {
            Target::Single(join_host_port(&self.host, self.port))
        } else {
            Target::Cluster(self.cluster)
        };
        let mut cfg = Config::new(target);
        cfg.clients = self.clients;
        cfg.threads = self.threads;
        cfg.pipeline = self.pipeline;
        cfg.requests = self.requests;
        cfg.duration = self.duration;
        cfg.templates = if self.command.is_empty() {
            self.ratio.templates()
        } else {
            self.command
        };
        cfg.keyspace = self.keyspace;
        cfg.key_pattern = self.key_pattern;
        cfg.key_prefix = self.key_prefix;
        cfg.data_size = self.data_size;
        cfg.rate = self.rate;
        cfg.verify = self.verify;
        cfg.verify_during = self.verify_during;
        cfg.auth = self.auth;
        cfg.timeout = self.timeout;
        cfg.reconnects = self.reconnects;
        if let Some(seed) = self.seed {
            cfg.seed = seed;
        }
        cfg.progress = !self.no_progress;
        cfg.validate()?;
        Ok(cfg)
    }
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let args =
            Args::try_parse_from(std::iter::once("autocache-loadtest").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        args.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_flags() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.target, Target::Single("127.0.0.1:6379".into()));
        assert_eq!(c.templates.len(), 2);
        let flags =
            "-p 7000 -c 4 -P 16 -n 1000 --ratio 1:9 --key-pattern zipf:0.99 -d 16-64 --seed 5";
        let c = parse(&flags.split_whitespace().collect::<Vec<_>>()).unwrap();
        assert_eq!(c.target, Target::Single("127.0.0.1:7000".into()));
        assert_eq!((c.clients, c.pipeline, c.requests), (4, 16, Some(1000)));
        assert_eq!(c.templates[1].weight, 9);
        assert_eq!(c.key_pattern, KeyPattern::Zipf(0.99));
        assert_eq!(c.data_size, DataSize { min: 16, max: 64 });
        assert_eq!(c.seed, 5);
    }

    #[test]
    fn commands_and_cluster() {
        let c = parse(&[
            "--cluster",
            "127.0.0.1:7000,127.0.0.1:7001",
            "--command",
            "2:LPUSH __key__ __data__",
            "--command",
            "LPOP __key__",
        ])
        .unwrap();
        assert_eq!(
            c.target,
            Target::Cluster(vec!["127.0.0.1:7000".into(), "127.0.0.1:7001".into()])
        );
        assert_eq!(c.templates.len(), 2);
        assert_eq!(c.templates[0].weight, 2);
    }

    #[test]
    fn bad_arguments_are_rejected() {
        for bad in [
            &["--ratio", "x"][..],
            &["--key-pattern", "zipf:-1"],
            &["--cluster", "a:1", "--port", "5"],
            &["--ratio", "1:1", "--command", "GET __key__"],
            &["--verify-during"],
            &["--verify", "-d", "8"],
            &["-P", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
