//! Start-up flags (clap, each also from an `AUTOCACHE_…` env var) and the settings that
//! `CONFIG SET` may change at run time.

use crate::db::evict::Policy;
pub use crate::tier::AppendFsync;
use clap::Parser;
use parking_lot::RwLock;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

/// A standalone or cluster storage node that speaks the Redis protocol.
#[derive(Parser, Debug, Clone)]
#[command(name = "autocache-node", version, about)]
pub struct Config {
    /// Address to listen on for RESP clients, as host:port. Overrides --bind and --port.
    #[arg(long, env = "AUTOCACHE_ADDR")]
    pub addr: Option<String>,
    /// Interface to bind (loopback by default, as Redis's protected mode intends).
    #[arg(long, env = "AUTOCACHE_BIND", default_value = "127.0.0.1")]
    pub bind: String,
    /// TCP port for RESP clients.
    #[arg(long, env = "AUTOCACHE_PORT", default_value_t = 6379)]
    pub port: u16,
    /// Password clients must AUTH with (Redis's requirepass). Empty: no password.
    #[arg(long, env = "AUTOCACHE_REQUIREPASS", default_value = "")]
    pub requirepass: String,
    /// Maximum simultaneous client connections.
    #[arg(long, env = "AUTOCACHE_MAXCLIENTS", default_value_t = 10000)]
    pub maxclients: u64,
    /// Memory limit for data, e.g. 100mb, 2gb, or bytes. 0: no limit.
    #[arg(long, env = "AUTOCACHE_MAXMEMORY", default_value = "0", value_parser = parse_memory)]
    pub maxmemory: u64,
    /// What to do when maxmemory is reached: noeviction, allkeys-lru, allkeys-lfu,
    /// allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl.
    #[arg(long, env = "AUTOCACHE_MAXMEMORY_POLICY", default_value = "noeviction")]
    pub maxmemory_policy: Policy,
    /// Keys sampled per eviction (Redis's maxmemory-samples).
    #[arg(long, env = "AUTOCACHE_MAXMEMORY_SAMPLES", default_value_t = 5)]
    pub maxmemory_samples: u64,
    /// Directory for the node's data (node id, storage tiers).
    #[arg(long, env = "AUTOCACHE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Close client connections idle for this many seconds. 0: never.
    #[arg(long, env = "AUTOCACHE_TIMEOUT", default_value_t = 0)]
    pub timeout: u64,
    /// Largest bulk string a client may send (Redis's proto-max-bulk-len).
    #[arg(long, env = "AUTOCACHE_PROTO_MAX_BULK_LEN", default_value = "512mb", value_parser = parse_memory)]
    pub proto_max_bulk_len: u64,
    /// Largest unparsed input a client may accumulate (client-query-buffer-limit).
    #[arg(long, env = "AUTOCACHE_CLIENT_QUERY_BUFFER_LIMIT", default_value = "1gb", value_parser = parse_memory)]
    pub client_query_buffer_limit: u64,
    /// Worker threads serving clients. 0: one per CPU core. 1: one thread serves everything
    /// (tokio's current-thread scheduler), as redis-server's main thread does.
    #[arg(long, env = "AUTOCACHE_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Keyspace notifications, as Redis's notify-keyspace-events: classes of events (`K`
    /// keyspace, `E` keyevent, `g$lshzxe`, `A`, `m`, `n`) published on
    /// `__keyspace@0__:<key>` and `__keyevent@0__:<event>`. Empty: off.
    #[arg(long, env = "AUTOCACHE_NOTIFY_KEYSPACE_EVENTS", default_value = "", value_parser = parse_events)]
    pub notify_keyspace_events: u32,
    /// Background task frequency in Hz (active expiry), as Redis's hz.
    #[arg(long, env = "AUTOCACHE_HZ", default_value_t = 10)]
    pub hz: u64,
    /// HTTP address answering `/metrics` (Prometheus), `/healthz` and `/readyz` (off when
    /// unset), e.g. `0.0.0.0:9100`.
    #[arg(long, env = "AUTOCACHE_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Where data lives: `memory` (a pure cache: eviction deletes) or `tiered` (memory caches
    /// a RocksDB store of record under --data-dir; a restart keeps the data).
    #[arg(long, env = "AUTOCACHE_STORAGE", value_enum, default_value_t = Storage::Memory)]
    pub storage: Storage,
    /// When tiered, how often the warm tier's log is fsynced: always (every write-behind
    /// batch), everysec, or no (left to the OS).
    #[arg(long, env = "AUTOCACHE_APPENDFSYNC", value_enum, default_value_t = AppendFsync::Everysec)]
    pub appendfsync: AppendFsync,
    /// When tiered with --s3-bucket: live warm-tier bytes past which the coldest values move
    /// to S3 (e.g. 50gb, 8Gi). 0: never.
    #[arg(long, env = "AUTOCACHE_WARM_MAX_BYTES", default_value = "0", value_parser = parse_memory)]
    pub warm_max_bytes: u64,
    /// S3 bucket of the cold tier (tiered storage only). Unset: no cold tier.
    #[arg(long, env = "AUTOCACHE_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Prefix of this node's segment objects in the bucket (e.g. `node-0/`).
    #[arg(long, env = "AUTOCACHE_S3_PREFIX", default_value = "")]
    pub s3_prefix: String,
    /// URL of an S3-compatible server (e.g. http://127.0.0.1:9000). Unset: AWS.
    #[arg(long, env = "AUTOCACHE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region. Unset: from the AWS environment/profile, else us-east-1.
    #[arg(long, env = "AUTOCACHE_S3_REGION")]
    pub s3_region: Option<String>,
    /// Path-style requests (endpoint/bucket/key), as most S3-compatible servers want.
    #[arg(long, env = "AUTOCACHE_S3_PATH_STYLE", default_value_t = false)]
    pub s3_path_style: bool,
    /// Target size of a cold segment object.
    #[arg(long, env = "AUTOCACHE_S3_SEGMENT_BYTES", default_value = "8mb", value_parser = parse_memory)]
    pub s3_segment_bytes: u64,
    /// A cold read or write failing to finish in this time is an error: `5s`, `500ms`.
    #[arg(long, env = "AUTOCACHE_S3_TIMEOUT", default_value = "5s", value_parser = parse_interval)]
    pub s3_timeout: std::time::Duration,
    /// A segment whose live share falls below this (0..1) is rewritten and deleted.
    #[arg(long, env = "AUTOCACHE_S3_GC_RATIO", default_value_t = 0.5)]
    pub s3_gc_ratio: f64,
    /// Control service address (host:port): enables cluster mode.
    #[arg(long, env = "AUTOCACHE_CONTROL")]
    pub control: Option<String>,
    /// gRPC listen address (proxies, peers, control). Default: the RESP host, port + 10000.
    #[arg(long, env = "AUTOCACHE_GRPC_ADDR")]
    pub grpc_addr: Option<String>,
    /// RESP address announced in MOVED/ASK and CLUSTER replies. Default: the listen address.
    #[arg(long, env = "AUTOCACHE_ANNOUNCE_ADDR")]
    pub announce_addr: Option<String>,
    /// Time between heartbeats to control, well inside its node timeout: `3s`, `200ms`.
    #[arg(long, env = "AUTOCACHE_HEARTBEAT_INTERVAL", default_value = "3s", value_parser = parse_interval)]
    pub heartbeat_interval: std::time::Duration,
}

/// `--storage`: the tiers data lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    /// Memory only: a pure cache, eviction deletes.
    Memory,
    /// Memory caching RocksDB (the store of record) under --data-dir.
    Tiered,
}

impl Storage {
    pub fn name(self) -> &'static str {
        match self {
            Storage::Memory => "memory",
            Storage::Tiered => "tiered",
        }
    }
}

impl Config {
    /// Defaults, as if started with no flags: for tests and embedding.
    pub fn default_for_tests() -> Config {
        Config::parse_from(["autocache-node"])
    }

    pub fn listen_addr(&self) -> String {
        self.addr
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.bind, self.port))
    }
}

/// A `notify-keyspace-events` string's flags.
fn parse_events(s: &str) -> Result<u32, String> {
    crate::notify::parse(s.as_bytes()).ok_or_else(|| crate::notify::INVALID.to_string())
}

/// Parses `3s`, `200ms`, `1m` or a bare number of seconds.
pub fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid duration '{s}'"))?;
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "" | "s" => Ok(std::time::Duration::from_secs(n)),
        "m" => Ok(std::time::Duration::from_secs(n * 60)),
        _ => Err(format!("invalid duration unit in '{s}' (use ms, s or m)")),
    }
}

/// Parses Redis-style memory amounts: `100`, `1k`, `1kb`, `5mb`, `2gb` (k = 1000, kb = 1024).
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid memory amount '{s}'"))?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" | "gi" | "gib" => 1024 * 1024 * 1024,
        "ki" | "kib" => 1024,
        "mi" | "mib" => 1024 * 1024,
        "t" => 1000 * 1000 * 1000 * 1000,
        "tb" | "ti" | "tib" => 1024 * 1024 * 1024 * 1024,
        _ => return Err(format!("invalid memory unit in '{s}'")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("memory amount '{s}' is too large"))
}

/// Settings that can change while the server runs (CONFIG SET). Reads are lock-free on the
/// hot path (atomics); the password sits behind a rarely-written lock.
#[derive(Debug)]
pub struct Settings {
    pub requirepass: RwLock<String>,
    pub maxclients: AtomicU64,
    pub maxmemory: AtomicU64,
    policy: AtomicU8,
    pub maxmemory_samples: AtomicU64,
    pub timeout: AtomicU64,
    pub proto_max_bulk_len: AtomicU64,
    pub client_query_buffer_limit: AtomicU64,
    pub hz: AtomicU64,
    pub lfu_log_factor: AtomicU64,
    pub lfu_decay_time: AtomicU64,
}

impl Settings {
    pub fn new(c: &Config) -> Settings {
        let s = Settings {
            requirepass: RwLock::new(c.requirepass.clone()),
            maxclients: AtomicU64::new(c.maxclients),
            maxmemory: AtomicU64::new(c.maxmemory),
            policy: AtomicU8::new(0),
            maxmemory_samples: AtomicU64::new(c.maxmemory_samples.max(1)),
            timeout: AtomicU64::new(c.timeout),
            proto_max_bulk_len: AtomicU64::new(c.proto_max_bulk_len),
            client_query_buffer_limit: AtomicU64::new(c.client_query_buffer_limit),
            hz: AtomicU64::new(c.hz.clamp(1, 500)),
            lfu_log_factor: AtomicU64::new(10),
            lfu_decay_time: AtomicU64::new(1),
        };
        s.set_policy(c.maxmemory_policy);
        s
    }

    pub fn policy(&self) -> Policy {
        Policy::ALL[self.policy.load(Relaxed) as usize]
    }

    pub fn set_policy(&self, p: Policy) {
        let i = Policy::ALL.iter().position(|&q| q == p).unwrap_or(0);
        self.policy.store(i as u8, Relaxed);
    }

    pub fn auth_required(&self) -> bool {
        !self.requirepass.read().is_empty()
    }

    pub fn get(&self, a: &AtomicU64) -> u64 {
        a.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("0"), Ok(0));
        assert_eq!(parse_memory("1kb"), Ok(1024));
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert_eq!(parse_memory("5MB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_memory("2gb"), Ok(2 * 1024 * 1024 * 1024));
        assert!(parse_memory("x").is_err());
        assert_eq!(parse_memory("1tb"), Ok(1 << 40));
        assert_eq!(parse_memory("8Gi"), Ok(8 << 30));
        assert_eq!(parse_memory("512Mi"), Ok(512 << 20));
        assert!(parse_memory("1pb").is_err());
    }
}
