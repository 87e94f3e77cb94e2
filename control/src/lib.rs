//! AutoCache control service: cluster membership, the slot map and its epoch, resharding,
//! and the `autocachectl` admin CLI (`ctl`).
//!
//! `run` serves the `Control` gRPC API on a bound listener until `shutdown` resolves, with
//! the failure detector and the migration driver alongside; all state lives in `Shared`.
#![forbid(unsafe_code)]

pub mod config;
pub mod ctl;
mod liveness;
pub mod metrics;
mod migrate;
pub mod operator;
pub mod persist;
pub mod planner;
mod service;
mod shared;
pub mod state;

use std::future::Future;

use autocache_proto::http;
use autocache_proto::pb::control::control_server::ControlServer;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use autocache_proto::slot::SLOT_COUNT;
pub use config::Config;

/// Why the control service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("control state: {0}")]
    State(#[from] std::io::Error),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves until `shutdown` resolves, then stops the background tasks and returns once
/// in-flight requests are done (watch streams end at shutdown).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let shared = shared::Shared::open(&config)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(liveness::detector(shared.clone(), stop_rx.clone()));
    tasks.spawn(migrate::driver(shared.clone(), stop_rx.clone()));
    let metrics = metrics::ControlMetrics::new();
    let scraped = shared.clone();
    let endpoints = http::Endpoints::new(Some(Box::new(move || metrics.render(&scraped))));
    if let Some(addr) = config.metrics_addr {
        tasks.spawn(http::serve(
            TcpListener::bind(addr).await?,
            endpoints.clone(),
            stop_rx.clone(),
        ));
    }
    let service = ControlServer::new(service::ControlService::new(shared, stop_rx));
    // State is loaded and the listener bound: connections queue until the server polls it.
    endpoints.set_ready();
    // Dropping the sender (also when the server fails) stops every task.
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let served = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            signal,
        )
        .await;
    while tasks.join_next().await.is_some() {}
    served.map_err(Error::from)
}
