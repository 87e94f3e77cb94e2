//! Command-line flags and environment variables of `autocache-proxy`.

use std::net::SocketAddr;
use std::time::Duration;

/// How the proxy runs. Every flag is also read from `AUTOCACHE_PROXY_*`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "autocache-proxy",
    version,
    about = "AutoCache proxy: one big Redis for legacy clients, routing by slot to the nodes"
)]
pub struct Config {
    /// RESP listen address.
    #[arg(long, env = "AUTOCACHE_PROXY_ADDR", default_value = "127.0.0.1:6380")]
    pub addr: SocketAddr,
    /// gRPC address of the control service (`host:port` or `http://host:port`). Without it the
    /// proxy serves no slot and answers key commands with CLUSTERDOWN.
    #[arg(long, env = "AUTOCACHE_PROXY_CONTROL")]
    pub control: Option<String>,
    /// Password clients must AUTH with (empty: none).
    #[arg(long, env = "AUTOCACHE_PROXY_REQUIREPASS", default_value = "")]
    pub requirepass: String,
    /// Maximum simultaneous client connections.
    #[arg(long, env = "AUTOCACHE_PROXY_MAXCLIENTS", default_value_t = 10000)]
    pub maxclients: usize,
    /// HTTP address answering `/metrics` (Prometheus), `/healthz` and `/readyz` (off when
    /// unset), e.g. `0.0.0.0:9100`.
    #[arg(long, env = "AUTOCACHE_PROXY_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// A node that has not answered a command within this time fails it with TRYAGAIN
    /// (blocking commands and subscriptions excepted), e.g. `5s`, `500ms`.
    #[arg(long, env = "AUTOCACHE_PROXY_REQUEST_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Commands in flight to one node at most; beyond it commands fail at once with TRYAGAIN.
    #[arg(long, env = "AUTOCACHE_PROXY_MAX_INFLIGHT", default_value_t = 65536)]
    pub max_inflight: usize,
    /// Long-lived Execute streams per node, shared by all client connections. Reads of one
    /// request all share the first (the biggest batches); a client's pipelined read goes on
    /// the stream its id picks, so that pipelines run in several node sessions at once, on
    /// the node's cores. 4 measured 0.74-0.76x direct at -P 16 against 0.54-0.55x for 1 on
    /// a 2-core box, with -P 1 unchanged.
    #[arg(long, env = "AUTOCACHE_PROXY_STREAMS_PER_NODE", default_value_t = 4)]
    pub streams_per_node: usize,
    /// Batches one stream has at its node at most; what arrives meanwhile waits and leaves
    /// as the next batch. The node runs a stream's batches one after another anyway, so one
    /// in flight costs no node time and makes batches bigger (fewer wake-ups, less HTTP/2
    /// work per command): measured best here. Raise it when the network round trip to the
    /// nodes is long against their work.
    #[arg(long, env = "AUTOCACHE_PROXY_BATCHES_IN_FLIGHT", default_value_t = 1, value_parser = parse_batches)]
    pub batches_in_flight: usize,
    /// Runtime worker threads. One (tokio's current-thread scheduler) keeps every hop of a
    /// command (client connection, node stream, HTTP/2 connection) on one thread, without
    /// cross-thread wake-ups: measured 8-25 % more throughput than two on a 2-core box shared
    /// with a node; raise it on a proxy with cores of its own.
    #[arg(long, env = "AUTOCACHE_PROXY_THREADS", default_value_t = 1, value_parser = parse_threads)]
    pub threads: usize,
}

impl Config {
    /// Defaults (what tests and embedders start from).
    pub fn new(control: Option<String>) -> Self {
        Config {
            addr: ([127, 0, 0, 1], 6380).into(),
            control,
            requirepass: String::new(),
            maxclients: 10000,
            metrics_addr: None,
            request_timeout: Duration::from_secs(5),
            max_inflight: 65536,
            streams_per_node: 4,
            batches_in_flight: 1,
            threads: 1,
        }
    }
}

/// A worker thread count: 1 to 1024.
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("invalid thread count '{s}' (1 to 1024)")),
    }
}

/// Batches in flight per stream: 1 to 1024.
fn parse_batches(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("invalid batch count '{s}' (1 to 1024)")),
    }
}

/// Parses `5s`, `300ms`, `2m` or a bare number of seconds.
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
