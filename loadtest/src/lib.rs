//! AutoCache load generator, in the spirit of memtier_benchmark: many connections, each
//! pipelining requests built from command templates over a uniform, Zipf or sequential
//! keyspace, closed loop or at a fixed open-loop rate; HDR latency percentiles per command;
//! and `--verify`, which reads back every acknowledged write and reports lost, stale and
//! resurrected keys. Targets a single endpoint (node, proxy, any Redis) or a Redis Cluster.
//!
//! The binary only parses arguments (`args`); the engine lives here so that tests drive it
//! directly.
#![forbid(unsafe_code)]

pub mod args;
pub mod config;
pub mod conn;
pub mod engine;
pub mod keys;
pub mod resp;
pub mod stats;
pub mod target;
pub mod template;
pub mod verify;

pub use config::{Config, DataSize};
pub use engine::{run_workload, Workload};
pub use keys::{key_name, KeyPattern};
pub use stats::Report;
pub use target::Target;
pub use template::{Ratio, Template};
pub use verify::VerifyReport;

use conn::ConnOpts;
use target::Router;

/// Why a run could not be done. Bad arguments and unreachable targets are usage errors
/// (exit code 2); failures in the middle of a run exit with 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Run(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Connect { .. } => 2,
            Error::Run(_) => 1,
        }
    }
}

/// Runs the workload, then (with `--verify`) reads every written key back.
pub async fn run(cfg: &Config) -> Result<Report, Error> {
    let workload = run_workload(cfg).await?;
    let mut report = workload.report;
    if let Some(ledger) = &workload.ledger {
        let mut v = verify(cfg, ledger).await?;
        v.lost_during = workload.lost_during;
        report.verify = Some(v);
    }
    Ok(report)
}

/// Reads back every key `ledger` recorded and judges it against the acknowledged writes.
pub async fn verify(cfg: &Config, ledger: &verify::Ledger) -> Result<VerifyReport, Error> {
    let opts = ConnOpts {
        auth: cfg.auth.clone(),
        timeout: cfg.timeout,
    };
    let mut router = Router::open(&cfg.target, &opts).await?;
    verify::read_back(&mut router, ledger, &cfg.key_prefix).await
}

/// [`run`] on a runtime with `cfg.threads` worker threads.
pub fn run_blocking(cfg: &Config) -> Result<Report, Error> {
    cfg.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .map_err(|e| Error::Run(format!("starting the runtime: {e}")))?;
    runtime.block_on(run(cfg))
}
